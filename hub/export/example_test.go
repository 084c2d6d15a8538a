// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package export_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/hub/export"
	"github.com/sysflux/sysflux/policy/field"
)

func ExampleExporter() {
	recs, err := sfavro.ReadFile("../../../shared/fixtures/sysflow/traces/sfcollector_rename_rename.sf")
	if err != nil {
		log.Fatal(err)
	}
	// The hub resolves entities from its store; here, from the trace itself.
	ents := sfavro.NewResolver(0)
	for _, r := range recs {
		ents.Observe(r)
	}
	dir, err := os.MkdirTemp("", "export")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Write each file to disk as its chunks come; a new file every 7 KB or so, of which the
	// header takes 6.
	open := make(map[int]*os.File)
	x := export.New(export.Config{
		Entities:     func(node string) field.Entities { return ents },
		MaxFileBytes: 7 << 10,
		Sink: func(c export.Chunk) error {
			f, ok := open[c.File]
			if !ok {
				if f, err = os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.sf", c.Node, c.File))); err != nil {
					return err
				}
				open[c.File] = f
			}
			if c.End {
				delete(open, c.File)
				return f.Close()
			}
			_, err := f.Write(c.Data)
			return err
		},
	})
	for _, r := range recs {
		r.NodeId = "node-a"
		if err := x.Add(r); err != nil {
			log.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		log.Fatal(err)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "*.sf"))
	for _, path := range files {
		got, err := sfavro.ReadFile(path)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d records, the first a header from %s\n",
			filepath.Base(path), len(got), got[0].GetHeader().GetExporter())
	}
	fmt.Printf("%+v\n", x.Stats())
	// Output:
	// node-a-0.sf: 30 records, the first a header from node-a
	// node-a-1.sf: 30 records, the first a header from node-a
	// node-a-2.sf: 11 records, the first a header from node-a
	// {Written:71 Skipped:0 Unresolved:0 Files:3 Bytes:26897}
}
