// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// rawOCF returns an uncompressed SysFlow v5 file holding the single datum data, framed by hand so
// that data may be anything.
func rawOCF(t *testing.T, data []byte) []byte {
	t.Helper()
	schema, err := os.ReadFile(schemaV5)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := goavro.NewOCFWriter(goavro.OCFConfig{W: &buf, Schema: string(schema)}); err != nil {
		t.Fatalf("NewOCFWriter: %v", err)
	}
	header := buf.Bytes()
	sync := header[len(header)-16:]
	out := bytes.Clone(header)
	out = binary.AppendVarint(out, 1)
	out = binary.AppendVarint(out, int64(len(data)))
	out = append(out, data...)
	return append(out, sync...)
}

// withCount encodes rec in schema v5 and replaces the one-item count of the array or map block
// that precedes marker with count.
func withCount(t *testing.T, rec *sysflowv1.Record, marker string, count int64) []byte {
	t.Helper()
	bin, err := v5Codec(t).BinaryFromNative(nil, native(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(bin, []byte(marker))
	if i < 2 || bin[i-2] != 2 { // a block count of one, then the marker's length
		t.Fatalf("no one-item block before %q in %x", marker, bin)
	}
	return slices.Concat(bin[:i-2], binary.AppendVarint(nil, count), bin[i-1:])
}

func TestReaderHugeCounts(t *testing.T) {
	// goavro allocates what a file declares before reading it; the package's limits make these
	// files fail at once instead of exhausting memory.
	proc := &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{
		State: sysflowv1.ObjectState_OBJECT_STATE_CREATED, Oid: &sysflowv1.OID{Hpid: 1},
		Env: []string{"MARKER=1"}}}}
	pod := &sysflowv1.Record{Rec: &sysflowv1.Record_Pod{Pod: &sysflowv1.Pod{
		Labels: map[string]string{"marker": "x"}}}}
	tests := []struct {
		name      string
		data      []byte
		headerErr string
		nextErr   string
	}{
		{
			name:      "header of 2^31-1 entries",
			data:      []byte("Obj\x01\xfe\xff\xff\xff\x0f"),
			headerErr: "exceeds MaxBlockCount",
		},
		{
			name:    "environment of 2^31-1 strings",
			data:    rawOCF(t, withCount(t, proc, "MARKER=1", math.MaxInt32)),
			nextErr: "exceeds MaxBlockCount",
		},
		{
			name:    "labels map of 2^31-1 entries",
			data:    rawOCF(t, withCount(t, pod, "marker", math.MaxInt32)),
			nextErr: "exceeds MaxBlockCount",
		},
		{
			name: "block of 2^31-1 bytes",
			data: func() []byte {
				b := rawOCF(t, nil)
				header := b[:len(b)-16-2]
				return slices.Concat(header, binary.AppendVarint(nil, 1), binary.AppendVarint(nil, math.MaxInt32))
			}(),
			nextErr: "exceeds MaxBlockSize",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r, err := NewReader(bytes.NewReader(tt.data))
			if tt.headerErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.headerErr) {
					t.Errorf("NewReader(%s) error = %v, want one containing %q", tt.name, err, tt.headerErr)
				}
			} else {
				if err != nil {
					t.Fatalf("NewReader(%s): %v", tt.name, err)
				}
				_, err = r.Next()
				if err == nil || !strings.Contains(err.Error(), tt.nextErr) {
					t.Errorf("Next over %s error = %v, want one containing %q", tt.name, err, tt.nextErr)
				}
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("reading %s took %v", tt.name, d)
			}
		})
	}
}
