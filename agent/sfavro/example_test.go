// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/sysflux/sysflux/agent/sfavro"
)

func ExampleReader() {
	f, err := os.Open("../../../shared/fixtures/sysflow/traces/sfcollector_rename_rename.sf")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := sfavro.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	res := sfavro.NewResolver(0)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		res.Observe(rec)
		if ev := rec.GetFileEvent(); ev != nil {
			proc := res.Process(ev.GetProcOid())
			from, to := res.File(ev.GetFileOid()), res.File(ev.GetNewFileOid())
			fmt.Printf("%s renamed %s to %s\n", proc.GetExe(), from.GetPath(), to.GetPath())
		}
	}
	// Output:
	// mv renamed /tmp/test1 to /tmp/test2
}

func ExampleToNative() {
	recs, err := sfavro.ReadFile("../../../shared/fixtures/sysflow/traces/sfprocessor_tcp.sf")
	if err != nil {
		log.Fatal(err)
	}
	// The file's schema (version 1000) has no SFHeader.ip or filename; in schema v5 they take
	// their defaults.
	n, err := sfavro.ToNative(recs[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
	flags, ok := sfavro.OpFlags(recs[len(recs)-1])
	fmt.Println(sfavro.TypeOf(recs[len(recs)-1]), flags, ok)
	// Output:
	// map[rec:map[sysflow.entity.SFHeader:map[exporter:tests filename: ip:NA version:1000]]]
	// RECORD_TYPE_PROCESS_EVENT 4 true
}
