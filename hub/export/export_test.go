// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package export_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/export"
	"github.com/sysflux/sysflux/policy/field"
)

// tracesDir holds the fixture traces, relative to this package's directory (hub/export in the
// repository, next to which the fixtures are checked out).
const tracesDir = "../../../shared/fixtures/sysflow/traces"

func traceFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(tracesDir, "*.sf"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no traces in %s", tracesDir)
	}
	return files
}

// trace is a fixture trace: its records, and what resolves their entities.
type trace struct {
	name string
	size int64 // bytes of the SysFlow file
	recs []*sysflowv1.Record
	ents *sfavro.Resolver // every entity of the trace, in its last version
	// never holds the references that no entity of the whole trace resolves, as
	// sfavro.Resolver.Unresolved names them.
	never map[string]bool
}

func readTrace(tb testing.TB, path string) *trace {
	tb.Helper()
	recs, err := sfavro.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	tr := &trace{name: filepath.Base(path), size: fi.Size(), recs: recs, ents: sfavro.NewResolver(0),
		never: make(map[string]bool)}
	for _, r := range recs {
		tr.ents.Observe(r)
	}
	for _, r := range recs {
		for _, u := range tr.ents.Unresolved(r) {
			tr.never[u] = true
		}
	}
	return tr
}

// withNode returns copies of recs whose NodeId is node(i) for the i-th record.
func withNode(recs []*sysflowv1.Record, node func(i int) string) []*sysflowv1.Record {
	out := make([]*sysflowv1.Record, len(recs))
	for i, r := range recs {
		c := proto.CloneOf(r)
		c.NodeId = node(i)
		out[i] = c
	}
	return out
}

// sinkFile is a file as the Sink received it.
type sinkFile struct {
	node  string
	start int64
	data  bytes.Buffer
	ended bool
}

// sink collects the files of an Exporter.
type sink struct {
	tb    testing.TB
	files []*sinkFile // by Chunk.File
}

func (s *sink) put(c export.Chunk) error {
	s.tb.Helper()
	if c.File == len(s.files) {
		s.files = append(s.files, &sinkFile{node: c.Node, start: c.Start})
	}
	if c.File < 0 || c.File >= len(s.files) {
		s.tb.Fatalf("chunk of file %d after %d files", c.File, len(s.files))
	}
	f := s.files[c.File]
	if f.ended {
		s.tb.Errorf("chunk of file %d after its end", c.File)
	}
	if c.Node != f.node || c.Start != f.start {
		s.tb.Errorf("chunk of file %d names node %q, start %d; its first named %q, %d", c.File, c.Node, c.Start, f.node, f.start)
	}
	if c.End {
		if len(c.Data) != 0 {
			s.tb.Errorf("end of file %d holds %d bytes", c.File, len(c.Data))
		}
		f.ended = true
	}
	f.data.Write(c.Data)
	return nil
}

// run exports recs with cfg, whose Sink it sets, and returns the files and the Exporter's stats.
func run(tb testing.TB, recs []*sysflowv1.Record, cfg export.Config) ([]*sinkFile, export.Stats) {
	tb.Helper()
	s := &sink{tb: tb}
	cfg.Sink = s.put
	x := export.New(cfg)
	for i, r := range recs {
		if err := x.Add(r); err != nil {
			tb.Fatalf("Add(record %d): %v", i, err)
		}
	}
	if err := x.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	if err := x.Add(recs[0]); err == nil {
		tb.Error("Add after Close succeeds")
	}
	return s.files, x.Stats()
}

// entitiesOf resolves every node's entities through the trace's.
func entitiesOf(tr *trace) func(string) field.Entities {
	return func(string) field.Entities { return tr.ents }
}

// payloadKey identifies a record by its payload, without its envelope.
func payloadKey(tb testing.TB, r *sysflowv1.Record) string {
	tb.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&sysflowv1.Record{Rec: r.Rec})
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// distinct returns the distinct payloads of the records other than SFHeaders.
func distinct(tb testing.TB, recs []*sysflowv1.Record) map[string]bool {
	tb.Helper()
	set := make(map[string]bool)
	for _, r := range recs {
		if r.GetHeader() == nil {
			set[payloadKey(tb, r)] = true
		}
	}
	return set
}

// checkFiles reads back the files of an export of tr's records and checks that each is complete,
// starts with its own SFHeader, and resolves every reference of its records from the entities
// before them (but for those that the whole trace leaves unresolved), and that together they hold
// the trace's distinct records. It returns the records of each file.
func checkFiles(t *testing.T, tr *trace, files []*sinkFile, exporter func(node string) string) [][]*sysflowv1.Record {
	t.Helper()
	var all []*sysflowv1.Record
	var out [][]*sysflowv1.Record
	for i, f := range files {
		if !f.ended {
			t.Errorf("file %d: no end chunk", i)
		}
		r, err := sfavro.NewReader(bytes.NewReader(f.data.Bytes()))
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		res := sfavro.NewResolver(0)
		var recs []*sysflowv1.Record
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("file %d: %v", i, err)
			}
			for _, u := range res.Unresolved(rec) {
				if !tr.never[u] {
					t.Errorf("file %d: record %d (%v): %s does not resolve", i, len(recs), rec, u)
				}
			}
			res.Observe(rec)
			recs = append(recs, rec)
		}
		want := &sysflowv1.SFHeader{Version: 5, Exporter: exporter(f.node), Ip: "NA"}
		if len(recs) == 0 || !proto.Equal(recs[0].GetHeader(), want) {
			t.Errorf("file %d starts with %v, want header %v", i, recs[:min(1, len(recs))], want)
		}
		for j, rec := range recs[1:] {
			if rec.GetHeader() != nil {
				t.Errorf("file %d: record %d is another header", i, j+1)
			}
		}
		out = append(out, recs)
		all = append(all, recs...)
	}
	want, got := distinct(t, tr.recs), distinct(t, all)
	missing, extra := 0, 0
	for k := range want {
		if !got[k] {
			missing++
		}
	}
	for k := range got {
		if !want[k] {
			extra++
		}
	}
	if missing > 0 || extra > 0 {
		t.Errorf("of the trace's %d distinct records, the files lack %d and add %d others", len(want), missing, extra)
	}
	return out
}

func TestExportTraces(t *testing.T) {
	for _, path := range traceFiles(t) {
		tr := readTrace(t, path)
		t.Run(tr.name, func(t *testing.T) {
			recs := withNode(tr.recs, func(int) string { return "node-a" })
			files, st := run(t, recs, export.Config{Entities: entitiesOf(tr)})
			if len(files) != 1 {
				t.Fatalf("%d files, want 1", len(files))
			}
			got := checkFiles(t, tr, files, func(n string) string { return n })
			if st.Files != 1 || st.Written != int64(len(got[0])) || st.Bytes != int64(files[0].data.Len()) || st.Skipped != 0 {
				t.Errorf("Stats() = %+v; files hold %d records, %d bytes", st, len(got[0]), files[0].data.Len())
			}
			if files[0].start != field.Time(recs[1]) {
				t.Errorf("Chunk.Start = %d, want %d, the time of the first record", files[0].start, field.Time(recs[1]))
			}
			t.Logf("%d records in, %d out (%d unresolved references), %d bytes: %.1f bytes/record, SysFlow's %.1f",
				len(recs), st.Written, st.Unresolved, st.Bytes,
				float64(st.Bytes)/float64(st.Written), float64(tr.size)/float64(len(tr.recs)))
		})
	}
}

// storeOrder returns recs in the order the hub's store returns them: by time, a record without a
// time of its own taking that of the record before it.
func storeOrder(recs []*sysflowv1.Record) []*sysflowv1.Record {
	type timed struct {
		t int64
		r *sysflowv1.Record
	}
	var ts []timed
	var last int64
	for _, r := range recs {
		if t := field.Time(r); t != 0 {
			last = t
		}
		ts = append(ts, timed{last, r})
	}
	slices.SortStableFunc(ts, func(a, b timed) int { return cmp.Compare(a.t, b.t) })
	out := make([]*sysflowv1.Record, len(ts))
	for i, t := range ts {
		out[i] = t.r
	}
	return out
}

// recording makes Encoders that record what they write, file by file.
type recording struct {
	written [][]*sysflowv1.Record
}

func (r *recording) new(w io.Writer) (export.Encoder, error) {
	sw, err := sfavro.NewWriter(w, sfavro.WriterOptions{})
	if err != nil {
		return nil, err
	}
	r.written = append(r.written, nil)
	return &recordingEncoder{Writer: sw, recs: &r.written[len(r.written)-1]}, nil
}

type recordingEncoder struct {
	*sfavro.Writer
	recs *[]*sysflowv1.Record
}

func (e *recordingEncoder) Write(rec *sysflowv1.Record) error {
	if err := e.Writer.Write(rec); err != nil {
		return err
	}
	*e.recs = append(*e.recs, rec)
	return nil
}

func TestExportRotation(t *testing.T) {
	tr := readTrace(t, filepath.Join(tracesDir, "sfprocessor_k8s_small.sf"))
	// The trace's events span 89 s, the times of its entities (when processes started) 1679 s.
	recs := storeOrder(withNode(tr.recs, func(int) string { return "node-a" }))
	input := make(map[*sysflowv1.Record]bool)
	for _, r := range recs {
		input[r] = true
	}
	tests := []struct {
		name string
		cfg  export.Config
	}{
		{"size", export.Config{MaxFileBytes: 32 << 10}},
		{"duration", export.Config{MaxFileDuration: 20 * time.Second}},
		{"both", export.Config{MaxFileBytes: 64 << 10, MaxFileDuration: 30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Entities = entitiesOf(tr)
			tt.cfg.Exporter = "sysflux-test"
			enc := &recording{}
			tt.cfg.NewEncoder = enc.new
			files, st := run(t, recs, tt.cfg)
			if len(enc.written) != len(files) {
				t.Fatalf("%d encoders for %d files", len(enc.written), len(files))
			}
			if len(files) < 3 {
				t.Fatalf("%d files, want several", len(files))
			}
			got := checkFiles(t, tr, files, func(string) string { return "sysflux-test" })
			var n, size int64
			for i, f := range files {
				n += int64(len(got[i]))
				size += int64(f.data.Len())
				t.Logf("file %d: %d records, %d bytes, start %d", i, len(got[i]), f.data.Len(), f.start)
				if i < len(files)-1 && tt.cfg.MaxFileBytes > 0 && tt.cfg.MaxFileDuration == 0 &&
					int64(f.data.Len()) < tt.cfg.MaxFileBytes {
					t.Errorf("file %d: %d bytes, ended before %d", i, f.data.Len(), tt.cfg.MaxFileBytes)
				}
				if tt.cfg.MaxFileBytes > 0 && int64(f.data.Len()) > tt.cfg.MaxFileBytes*3/2 {
					t.Errorf("file %d: %d bytes, far beyond %d", i, f.data.Len(), tt.cfg.MaxFileBytes)
				}
				if tt.cfg.MaxFileDuration > 0 && tt.cfg.MaxFileBytes == 0 && i > 0 &&
					f.start-files[i-1].start < int64(tt.cfg.MaxFileDuration) {
					t.Errorf("file %d starts %v after file %d", i, time.Duration(f.start-files[i-1].start), i-1)
				}
				if d := tt.cfg.MaxFileDuration; d > 0 {
					// Of the records added (not those written ahead of them, whose times are
					// those of the entities' last versions), only the one that ended the file
					// may be that late.
					var added []*sysflowv1.Record
					for _, r := range enc.written[i] {
						if input[r] {
							added = append(added, r)
						}
					}
					for j, r := range added[:len(added)-1] {
						if late := field.Time(r) - f.start; late >= int64(d) {
							t.Errorf("file %d: added record %d is %v after the start", i, j, time.Duration(late))
						}
					}
				}
			}
			if st.Files != int64(len(files)) || st.Written != n || st.Bytes != size {
				t.Errorf("Stats() = %+v; %d files hold %d records, %d bytes", st, len(files), n, size)
			}
		})
	}
}

func TestExportNodes(t *testing.T) {
	tr := readTrace(t, filepath.Join(tracesDir, "sfprocessor_k8s_small.sf"))
	nodes := []string{"node-a", "node-b"}
	recs := withNode(tr.recs, func(i int) string { return nodes[i%2] })
	files, _ := run(t, recs, export.Config{Entities: entitiesOf(tr)})
	if len(files) != 2 {
		t.Fatalf("%d files, want 2", len(files))
	}
	got := checkFiles(t, tr, files, func(n string) string { return n })
	// The first record, the trace's header, is not written: node-b's record starts file 0.
	for i, f := range files {
		if want := nodes[1-i]; f.node != want {
			t.Errorf("file %d is of node %q, want %q", i, f.node, want)
		}
		// Every record added for the node is in its file.
		held := distinct(t, got[i])
		for j, r := range recs {
			if r.GetNodeId() == f.node && r.GetHeader() == nil && !held[payloadKey(t, r)] {
				t.Errorf("record %d of node %q is not in its file", j, f.node)
			}
		}
	}
}

// entities is a field.Entities on maps.
type entities struct {
	procs      map[[2]int64]*sysflowv1.Process
	files      map[string]*sysflowv1.File
	containers map[string]*sysflowv1.Container
	pods       map[string]*sysflowv1.Pod
}

func (e *entities) Process(oid *sysflowv1.OID) *sysflowv1.Process {
	return e.procs[[2]int64{oid.GetCreateTs(), oid.GetHpid()}]
}
func (e *entities) File(oid []byte) *sysflowv1.File          { return e.files[string(oid)] }
func (e *entities) Container(id string) *sysflowv1.Container { return e.containers[id] }
func (e *entities) Pod(id string) *sysflowv1.Pod             { return e.pods[id] }

func rec(node string, m proto.Message) *sysflowv1.Record {
	r := &sysflowv1.Record{NodeId: node}
	switch x := m.(type) {
	case *sysflowv1.SFHeader:
		r.Rec = &sysflowv1.Record_Header{Header: x}
	case *sysflowv1.Pod:
		r.Rec = &sysflowv1.Record_Pod{Pod: x}
	case *sysflowv1.Container:
		r.Rec = &sysflowv1.Record_Container{Container: x}
	case *sysflowv1.Process:
		r.Rec = &sysflowv1.Record_Process{Process: x}
	case *sysflowv1.File:
		r.Rec = &sysflowv1.Record_File{File: x}
	case *sysflowv1.FileFlow:
		r.Rec = &sysflowv1.Record_FileFlow{FileFlow: x}
	case *sysflowv1.FileEvent:
		r.Rec = &sysflowv1.Record_FileEvent{FileEvent: x}
	case *sysflowv1.NetworkFlow:
		r.Rec = &sysflowv1.Record_NetworkFlow{NetworkFlow: x}
	case *sysflowv1.ProcessEvent:
		r.Rec = &sysflowv1.Record_ProcessEvent{ProcessEvent: x}
	default:
		panic(fmt.Sprintf("no record for %T", m))
	}
	return r
}

// payloads returns the payloads of recs.
func payloads(recs []*sysflowv1.Record) []proto.Message {
	var out []proto.Message
	for _, r := range recs {
		m := r.ProtoReflect()
		fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("rec"))
		out = append(out, m.Get(fd).Message().Interface())
	}
	return out
}

// TestExportEntities checks, record by record, the entities an Exporter writes ahead of a record
// and the entity versions it writes again.
func TestExportEntities(t *testing.T) {
	podID, cid := "pod-1", "ctr-1"
	pod := &sysflowv1.Pod{Ts: 1, Id: podID, Name: "web"}
	ctr := &sysflowv1.Container{Id: cid, Name: "web", Type: sysflowv1.ContainerType_CONTAINER_TYPE_CRI, PodId: &podID}
	oid := func(n int64) *sysflowv1.OID { return &sysflowv1.OID{CreateTs: 100 + n, Hpid: n} }
	proc := func(n int64, parent *sysflowv1.OID, container *string) *sysflowv1.Process {
		return &sysflowv1.Process{State: sysflowv1.ObjectState_OBJECT_STATE_CREATED, Oid: oid(n), Poid: parent,
			Ts: 100 + n, Exe: fmt.Sprint("/bin/p", n), ContainerId: container}
	}
	grand, parent, child := proc(1, nil, &cid), proc(2, oid(1), nil), proc(3, oid(2), &cid)
	foid := bytes.Repeat([]byte{7}, 20)
	fl := &sysflowv1.File{State: sysflowv1.ObjectState_OBJECT_STATE_CREATED, Oid: foid, Ts: 5, Restype: 'f',
		Path: "/etc/hosts", ContainerId: &cid}
	ents := &entities{
		procs: map[[2]int64]*sysflowv1.Process{
			{101, 1}: grand, {102, 2}: parent, {103, 3}: child,
		},
		files:      map[string]*sysflowv1.File{string(foid): fl},
		containers: map[string]*sysflowv1.Container{cid: ctr},
		pods:       map[string]*sysflowv1.Pod{podID: pod},
	}
	flow := &sysflowv1.FileFlow{ProcOid: oid(3), Ts: 200, OpFlags: 128, FileOid: foid}
	childV2 := proto.CloneOf(child)
	childV2.State = sysflowv1.ObjectState_OBJECT_STATE_MODIFIED
	childV2.Ts = 300
	ipv6 := &sysflowv1.NetworkFlow{ProcOid: oid(3), Ts: 400, Sip6: make([]byte, 16)}
	orphan := &sysflowv1.ProcessEvent{ProcOid: oid(9), Ts: 500, OpFlags: 2}

	in := []*sysflowv1.Record{
		rec("n", &sysflowv1.SFHeader{Version: 4, Exporter: "agent"}), // not written
		rec("n", flow),
		rec("n", child),   // the same version: not written
		rec("n", childV2), // written again
		rec("n", ipv6),    // skipped
		rec("n", orphan),  // written, its process unresolved
	}
	files, st := run(t, in, export.Config{Entities: func(node string) field.Entities {
		if node != "n" {
			t.Errorf("Entities(%q), want node n", node)
		}
		return ents
	}})
	if len(files) != 1 {
		t.Fatalf("%d files, want 1", len(files))
	}
	got, err := sfavro.NewReader(bytes.NewReader(files[0].data.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var out []*sysflowv1.Record
	for {
		r, err := got.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	want := []proto.Message{
		&sysflowv1.SFHeader{Version: 5, Exporter: "n", Ip: "NA"},
		pod, ctr, grand, parent, child, fl, flow,
		childV2,
		orphan,
	}
	if diff := gocmp.Diff(want, payloads(out), protocmp.Transform()); diff != "" {
		t.Errorf("file holds (-want +got):\n%s", diff)
	}
	wantStats := export.Stats{Written: int64(len(want)), Skipped: 1, Unresolved: 1, Files: 1, Bytes: int64(files[0].data.Len())}
	if st != wantStats {
		t.Errorf("Stats() = %+v, want %+v", st, wantStats)
	}
}

func TestExportSinkError(t *testing.T) {
	tr := readTrace(t, filepath.Join(tracesDir, "sfcollector_files_files.sf"))
	recs := withNode(tr.recs, func(int) string { return "n" })
	errFull := errors.New("disk full")
	chunks := 0
	x := export.New(export.Config{
		Entities:     entitiesOf(tr),
		MaxFileBytes: 1, // a block for every record
		Sink: func(export.Chunk) error {
			if chunks++; chunks > 5 {
				return errFull
			}
			return nil
		},
	})
	var first error
	for _, r := range recs {
		if first = x.Add(r); first != nil {
			break
		}
	}
	if !errors.Is(first, errFull) {
		t.Fatalf("Add = %v, want an error wrapping %v", first, errFull)
	}
	if err := x.Add(recs[1]); err != first {
		t.Errorf("Add after the Sink failed = %v, want %v", err, first)
	}
	if err := x.Close(); !errors.Is(err, errFull) {
		t.Errorf("Close = %v, want an error wrapping %v", err, errFull)
	}
}

// cpuTime returns the CPU time the process has used, user and system; records/cpu-s, unlike
// records/s, is not lowered by other load on the machine.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExport exports the records of sfprocessor_k8s_small.sf from one node.
func BenchmarkExport(b *testing.B) {
	tr := readTrace(b, filepath.Join(tracesDir, "sfprocessor_k8s_small.sf"))
	recs := withNode(tr.recs, func(int) string { return "node-a" })
	var st export.Stats
	cpu := cpuTime(b)
	for b.Loop() {
		x := export.New(export.Config{Entities: entitiesOf(tr)})
		for _, r := range recs {
			if err := x.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
		st = x.Stats()
	}
	cpu = cpuTime(b) - cpu
	b.ReportMetric(float64(b.N)*float64(len(recs))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)*float64(len(recs))/cpu.Seconds(), "records/cpu-s")
	b.ReportMetric(float64(st.Bytes)/float64(len(recs)), "B/record")
	b.Logf("%d bytes for %d records: %.2f bytes/record; SysFlow's file %d bytes: %.2f bytes/record",
		st.Bytes, len(recs), float64(st.Bytes)/float64(len(recs)), tr.size, float64(tr.size)/float64(len(recs)))
}
