// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/linkedin/goavro/v2"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// avroNames names the record types as SysFlow's schema does, independently of the package's own
// table.
var avroNames = map[sysflowv1.RecordType]string{
	sysflowv1.RecordType_RECORD_TYPE_HEADER:        "SFHeader",
	sysflowv1.RecordType_RECORD_TYPE_CONTAINER:     "Container",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS:       "Process",
	sysflowv1.RecordType_RECORD_TYPE_FILE:          "File",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT: "ProcessEvent",
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW:  "NetworkFlow",
	sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW:     "FileFlow",
	sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT:    "FileEvent",
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT: "NetworkEvent",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW:  "ProcessFlow",
	sysflowv1.RecordType_RECORD_TYPE_POD:           "Pod",
	sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT:     "K8sEvent",
}

// countNative counts the records of a trace by the name of their rec union branch, reading the
// file with goavro alone.
func countNative(t *testing.T, path string) map[string]int {
	t.Helper()
	data, _ := nativeData(t, path)
	counts := make(map[string]int)
	for i, d := range data {
		rec, ok := d.(map[string]any)["rec"].(map[string]any)
		if !ok || len(rec) != 1 {
			t.Fatalf("%s: datum %d: rec = %v, want a union value", path, i, d)
		}
		for branch := range rec {
			counts[branch[strings.LastIndex(branch, ".")+1:]]++
		}
	}
	return counts
}

func TestReadFile(t *testing.T) {
	tests := []struct {
		file    string
		version int64 // SFHeader.version
		counts  map[string]int
	}{
		{
			file: "sfcollector_client-server_tcp-client-server.sf", version: 5,
			counts: map[string]int{"SFHeader": 1, "Process": 10, "File": 2, "ProcessEvent": 4,
				"FileFlow": 4, "NetworkFlow": 2},
		},
		{
			file: "sfcollector_files_files.sf", version: 5,
			counts: map[string]int{"SFHeader": 1, "Process": 7, "File": 12, "ProcessEvent": 2,
				"FileFlow": 6, "FileEvent": 13},
		},
		{
			file: "sfcollector_rename_rename.sf", version: 5,
			counts: map[string]int{"SFHeader": 1, "Process": 4, "File": 27, "ProcessEvent": 2,
				"FileFlow": 25, "FileEvent": 1},
		},
		{
			file: "sfcollector_setuid_setuid.sf", version: 5,
			counts: map[string]int{"SFHeader": 1, "Process": 6, "File": 2, "ProcessEvent": 10,
				"FileFlow": 2},
		},
		{
			file: "sfprocessor_k8s_small.sf", version: 4,
			counts: map[string]int{"SFHeader": 1, "Pod": 19, "Container": 23, "Process": 217,
				"File": 666, "ProcessEvent": 341, "FileFlow": 3383, "FileEvent": 8,
				"NetworkFlow": 1511, "K8sEvent": 4},
		},
		{
			file: "sfprocessor_shellshock.sf", version: 4,
			counts: map[string]int{"SFHeader": 1, "Container": 1, "Process": 13, "File": 19,
				"ProcessEvent": 9, "FileFlow": 47},
		},
		{
			// The oldest schema: no SFHeader.ip, Process.entry or ProcessFlow, and every
			// timestamp a long with logical type timestamp-millis.
			file: "sfprocessor_tcp.sf", version: 1000,
			counts: map[string]int{"SFHeader": 1, "Process": 10, "File": 2, "ProcessEvent": 4,
				"FileFlow": 4, "NetworkFlow": 2},
		},
	}
	tested := make(map[string]bool)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(tracesDir, tt.file)
			tested[path] = true
			recs, err := ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile(%s): %v", tt.file, err)
			}
			got := make(map[string]int)
			for _, r := range recs {
				got[avroNames[TypeOf(r)]]++
				if r.GetNodeId() != "" || r.GetAgentId() != "" || r.GetEpoch() != 0 || r.GetSeq() != 0 {
					t.Errorf("ReadFile(%s): record envelope %v, want zero", tt.file, r)
				}
			}
			native := countNative(t, path)
			if diff := cmp.Diff(native, got); diff != "" {
				t.Errorf("ReadFile(%s) counts differ from goavro's (-goavro +ReadFile):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(tt.counts, native); diff != "" {
				t.Errorf("goavro counts of %s (-want +got):\n%s", tt.file, diff)
			}
			if h := recs[0].GetHeader(); h.GetVersion() != tt.version {
				t.Errorf("ReadFile(%s)[0] = %v, want an SFHeader of version %d", tt.file, recs[0], tt.version)
			}
			t.Logf("%s: %d records %v", tt.file, len(recs), got)
		})
	}
	for _, path := range traceFiles(t) {
		if !tested[path] {
			t.Errorf("trace %s has no test case", path)
		}
	}
}

// writeOCF writes data as an OCF with the schema, deflate-compressed as the collector writes.
func writeOCF(t *testing.T, w io.Writer, schema string, data ...any) {
	t.Helper()
	ocf, err := goavro.NewOCFWriter(goavro.OCFConfig{W: w, Schema: schema, CompressionName: "deflate"})
	if err != nil {
		t.Fatalf("NewOCFWriter: %v", err)
	}
	if err := ocf.Append(data); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

// native returns rec in native form for schema v5.
func native(t testing.TB, rec *sysflowv1.Record) map[string]any {
	t.Helper()
	m, err := ToNative(rec)
	if err != nil {
		t.Fatalf("ToNative(%v): %v", rec, err)
	}
	return m
}

// readAll reads r to the end, returning the records and the errors of Next before io.EOF, and
// failing after 100 errors (a sticky error).
func readAll(t *testing.T, r *Reader) ([]*sysflowv1.Record, []error) {
	t.Helper()
	var recs []*sysflowv1.Record
	var errs []error
	for len(errs) < 100 {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, errs
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, rec)
	}
	return recs, errs
}

func TestReaderRecordError(t *testing.T) {
	// A schema whose file object ids are 3 bytes writes a file every FOID of which is wrong.
	schema, err := os.ReadFile(schemaV5)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(schema), `"size" : 20`, `"size" : 3`, 1)
	if bad == string(schema) {
		t.Fatalf("%s: no FOID size to replace", schemaV5)
	}
	flow := native(t, testRecords()[sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW])
	flow["rec"].(map[string]any)["sysflow.flow.FileFlow"].(map[string]any)["fileOID"] = []byte{1, 2, 3}
	path := filepath.Join(t.TempDir(), "files.sf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	writeOCF(t, f, bad,
		native(t, testRecords()[sysflowv1.RecordType_RECORD_TYPE_HEADER]),
		flow,
		native(t, testRecords()[sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW]))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = ReadFile(path)
	if want := "files.sf: record 1: FileFlow.fileOID: want 20 bytes, got 3"; err == nil || err.Error() != want {
		t.Errorf("ReadFile(%s) error = %v, want %q", path, err, want)
	}

	// Next skips the record that does not map and goes on.
	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatalf("NewReader(%s): %v", path, err)
	}
	recs, errs := readAll(t, r)
	var types []sysflowv1.RecordType
	for _, rec := range recs {
		types = append(types, TypeOf(rec))
	}
	wantTypes := []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_HEADER, sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW}
	if !slices.Equal(types, wantTypes) || len(errs) != 1 {
		t.Errorf("Next over %s = %v and errors %v, want %v and one error", path, types, errs, wantTypes)
	}
}

func TestReaderFileErrors(t *testing.T) {
	trace, err := os.ReadFile(filepath.Join(tracesDir, "sfprocessor_k8s_small.sf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data      []byte
		headerErr string // substring of NewReader's error, "" for none
		wantRecs  int    // records read before the error
		nextErr   string // substring of Next's error
	}{
		{name: "empty", data: nil, headerErr: "read header"},
		{name: "not avro", data: []byte("hello, world"), headerErr: "read header"},
		{name: "header only", data: trace[:100], headerErr: "read header"},
		{name: "truncated", data: trace[:len(trace)/2], wantRecs: 2372, nextErr: "record 2372: cannot read block: unexpected EOF"},
		{name: "corrupt sync marker", data: withByteFlipped(trace, len(trace)-1), wantRecs: 5906, nextErr: "record 5906: sync marker mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.data))
			if tt.headerErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.headerErr) {
					t.Fatalf("NewReader(%s) error = %v, want one containing %q", tt.name, err, tt.headerErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewReader(%s): %v", tt.name, err)
			}
			var n int
			for {
				_, err = r.Next()
				if err != nil {
					break
				}
				n++
			}
			if n != tt.wantRecs || err == io.EOF || !strings.Contains(err.Error(), tt.nextErr) {
				t.Errorf("Next over %s: %d records then %v, want %d then an error containing %q",
					tt.name, n, err, tt.wantRecs, tt.nextErr)
			}
			if _, again := r.Next(); again == nil || again.Error() != err.Error() {
				t.Errorf("Next over %s after error %v = %v, want the same error", tt.name, err, again)
			}
		})
	}
}

func withByteFlipped(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}

// oldSchema returns the schema embedded in sfprocessor_tcp.sf (version 1000), whose timestamps
// carry logical type timestamp-millis.
func oldSchema(t *testing.T) string {
	t.Helper()
	_, schema := nativeData(t, filepath.Join(tracesDir, "sfprocessor_tcp.sf"))
	return string(schema)
}

func TestReaderTimestampMillis(t *testing.T) {
	// goavro turns a timestamp-millis long into a time.Time; the Reader must give back the long,
	// which in SysFlow holds nanoseconds, for every value.
	values := []int64{0, 1, -1, -1500, 999, 1553543280704111050, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	var data []any
	for _, v := range values {
		data = append(data, map[string]any{"rec": map[string]any{"sysflow.event.ProcessEvent": map[string]any{
			"procOID": map[string]any{"createTS": v, "hpid": int64(1)},
			"ts":      v, "tid": int64(1), "opFlags": int32(2), "args": []any{}, "ret": int32(0),
		}}})
	}
	var buf bytes.Buffer
	writeOCF(t, &buf, oldSchema(t), data...)
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	recs, errs := readAll(t, r)
	if len(errs) > 0 {
		t.Fatalf("Next: %v", errs)
	}
	var got []int64
	for _, rec := range recs {
		e := rec.GetProcessEvent()
		if e.GetProcOid().GetCreateTs() != e.GetTs() {
			t.Errorf("record %v: proc_oid.create_ts != ts", rec)
		}
		got = append(got, e.GetTs())
	}
	if diff := cmp.Diff(values, got); diff != "" {
		t.Errorf("timestamps read back (-want +got):\n%s", diff)
	}
}

func TestReaderUnsupportedLogicalType(t *testing.T) {
	schema := strings.ReplaceAll(oldSchema(t), "timestamp-millis", "timestamp-micros")
	var buf bytes.Buffer
	writeOCF(t, &buf, schema, native(t, testRecords()[sysflowv1.RecordType_RECORD_TYPE_HEADER]))
	_, err := NewReader(&buf)
	if want := "read header: unsupported logical type timestamp-micros"; err == nil || err.Error() != want {
		t.Errorf("NewReader(schema with timestamp-micros) error = %v, want %q", err, want)
	}
}

func TestCheckLogicalTypes(t *testing.T) {
	tests := []struct {
		schema  string
		wantErr bool
	}{
		{schema: `"long"`},
		{schema: `{"type":"long","logicalType":"timestamp-millis"}`},
		{schema: `{"type":"array","items":"long","logicalType":"ipaddr"}`},
		{schema: `{"type":"int","logicalType":"date"}`, wantErr: true},
		{schema: `[{"type":"record","name":"r","fields":[{"name":"f","type":{"type":"bytes","logicalType":"decimal","precision":4}}]}]`, wantErr: true},
		{schema: `{`, wantErr: true},
	}
	for _, tt := range tests {
		err := checkLogicalTypes([]byte(tt.schema))
		if (err != nil) != tt.wantErr {
			t.Errorf("checkLogicalTypes(%s) = %v, want error %t", tt.schema, err, tt.wantErr)
		}
	}
}

func TestNewReaderNameless(t *testing.T) {
	// Without a file name, errors start with the record.
	data, err := os.ReadFile(filepath.Join(tracesDir, "sfprocessor_tcp.sf"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(io.MultiReader(bytes.NewReader(data[:len(data)-1])))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	_, errs := readAll(t, r)
	if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), "record ") {
		t.Errorf("Next over a truncated nameless file: errors %v, want one starting with %q", errs, "record ")
	}
	if errors.Is(errs[0], io.EOF) {
		t.Errorf("Next over a truncated file: error %v is io.EOF", errs[0])
	}
}

func BenchmarkReadFile(b *testing.B) {
	path := filepath.Join(tracesDir, "sfprocessor_k8s_small.sf")
	var records int
	for b.Loop() {
		recs, err := ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		records += len(recs)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
