// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"bytes"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/linkedin/goavro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// seedFile returns a small SysFlow v5 file holding one record of every type.
func seedFile(f *testing.F, compression string) []byte {
	f.Helper()
	schema, err := os.ReadFile(schemaV5)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	ocf, err := goavro.NewOCFWriter(goavro.OCFConfig{W: &buf, Schema: string(schema), CompressionName: compression})
	if err != nil {
		f.Fatalf("NewOCFWriter: %v", err)
	}
	recs := testRecords()
	for _, typ := range slices.Sorted(maps.Keys(recs)) {
		n, err := ToNative(recs[typ])
		if err != nil {
			f.Fatalf("ToNative(%v): %v", recs[typ], err)
		}
		if err := ocf.Append([]any{n}); err != nil {
			f.Fatalf("Append: %v", err)
		}
	}
	return buf.Bytes()
}

func FuzzReader(f *testing.F) {
	f.Add(seedFile(f, goavro.CompressionDeflateLabel))
	f.Add(seedFile(f, goavro.CompressionNullLabel))
	for _, name := range []string{"sfprocessor_tcp.sf", "sfprocessor_k8s_small.sf"} {
		trace, err := os.ReadFile(filepath.Join(tracesDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(trace[:min(len(trace), 8<<10)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		// A record that maps is one SysFlow v5 holds: it must go to native form and back
		// unchanged.
		var prev error
		for range 1 << 16 {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if prev != nil && err.Error() == prev.Error() {
					return // a decoding error, which Next returns again and again
				}
				prev = err
				continue // a record that does not map, or the first decoding error
			}
			n, err := ToNative(rec)
			if err != nil {
				t.Fatalf("ToNative(%v) of a record read: %v", rec, err)
			}
			back, err := FromNative(n)
			if err != nil {
				t.Fatalf("FromNative(ToNative(%v)): %v", rec, err)
			}
			if !proto.Equal(rec, back) {
				t.Fatalf("FromNative(ToNative(record)) (-read +round trip):\n%s",
					cmp.Diff(rec, back, protocmp.Transform()))
			}
		}
	})
}
