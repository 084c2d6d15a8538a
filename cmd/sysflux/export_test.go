package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dustin/go-humanize"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/policy/field"
)

// readSysFlow reads a SysFlow file, failing the test unless sfavro reads all of it.
func readSysFlow(t *testing.T, path string) []*sysflowv1.Record {
	t.Helper()
	recs, err := sfavro.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return recs
}

// dirNames returns the names of the files in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// isEventOrFlow reports whether rec is an event or a flow, not an entity or a header.
func isEventOrFlow(rec *sysflowv1.Record) bool {
	switch rec.GetRec().(type) {
	case *sysflowv1.Record_ProcessEvent, *sysflowv1.Record_NetworkFlow, *sysflowv1.Record_FileFlow,
		*sysflowv1.Record_FileEvent, *sysflowv1.Record_NetworkEvent, *sysflowv1.Record_ProcessFlow, *sysflowv1.Record_K8SEvent:
		return true
	}
	return false
}

// checkSelfContained fails the test unless every event and flow of a file comes after its
// process and its files, and the file starts with a header.
func checkSelfContained(t *testing.T, name string, recs []*sysflowv1.Record) {
	t.Helper()
	if len(recs) == 0 || recs[0].GetHeader() == nil {
		t.Errorf("%s does not start with a header", name)
		return
	}
	procs, files := map[[2]int64]bool{}, map[string]bool{}
	for i, r := range recs {
		switch {
		case r.GetProcess() != nil:
			procs[[2]int64{r.GetProcess().GetOid().GetHpid(), r.GetProcess().GetOid().GetCreateTs()}] = true
		case r.GetFile() != nil:
			files[string(r.GetFile().GetOid())] = true
		case isEventOrFlow(r):
			if oid := field.ProcOID(r); oid != nil && !procs[[2]int64{oid.GetHpid(), oid.GetCreateTs()}] {
				t.Errorf("%s: record %d (%s) comes before its process %d", name, i, sysflux.TypeName(r), oid.GetHpid())
				return
			}
			file, newFile := field.FileOIDs(r)
			for _, f := range [][]byte{file, newFile} {
				if len(f) > 0 && !files[string(f)] {
					t.Errorf("%s: record %d (%s) comes before its file", name, i, sysflux.TypeName(r))
					return
				}
			}
		}
	}
}

// TestExport exports a replayed trace from a hub's store with `sysflux export` and reads the
// files back with sfavro: whole, filtered, split by size and by time.
func TestExport(t *testing.T) {
	trace := readTraces(t, storeTrace)
	hubAddr := startStoreHub(t, storeTrace, len(trace))
	hub := []string{"--hub", hubAddr}
	var traceEvents []*sysflowv1.Record
	for _, r := range trace {
		if isEventOrFlow(r) {
			traceEvents = append(traceEvents, r)
		}
	}

	t.Run("whole", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.sf")
		code, stdout, stderr := runSplit(t, append(hub, "export", "-o", out)...)
		if code != 0 {
			t.Fatalf("export -o %s: exit %d: %s", out, code, stderr)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"out.sf"}) {
			t.Errorf("export -o out.sf wrote %v, want out.sf alone", names)
		}
		if !strings.HasPrefix(stdout, out+" ") || !strings.HasPrefix(stderr, "exported 1 file, ") {
			t.Errorf("export: stdout %q, stderr %q; want the file listed and a summary", stdout, stderr)
		}
		recs := readSysFlow(t, out)
		checkSelfContained(t, "out.sf", recs)
		queried := queryRecords(t, append(hub, "--all")...)
		nonHeader := func(recs []*sysflowv1.Record) int {
			n := 0
			for _, r := range recs {
				if r.GetHeader() == nil {
					n++
				}
			}
			return n
		}
		if got, want := nonHeader(recs), nonHeader(queried); got != want {
			t.Errorf("export: %d records besides headers, want the %d query returns; entities written more often than the trace has them: %s",
				got, want, extraEntities(recs, trace))
		}
		if g, w := typeCounts(recs), typeCounts(trace); !maps.Equal(g, w) {
			t.Errorf("export: records by type %v, want the trace's %v", g, w)
		}
		if !strings.Contains(stderr, fmt.Sprintf("%s records,", humanize.Comma(int64(len(recs))))) {
			t.Errorf("export summary %q, want the file's %d records", stderr, len(recs))
		}
	})

	t.Run("filter", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "execs.sf")
		args := []string{"--type", "process_event", "--filter", "evt.type = execve"}
		code, _, stderr := runSplit(t, append(append(hub, "export", "-o", out), args...)...)
		if code != 0 {
			t.Fatalf("export %q: exit %d: %s", args, code, stderr)
		}
		recs := readSysFlow(t, out)
		checkSelfContained(t, "execs.sf", recs)
		var got []*sysflowv1.Record
		for _, r := range recs {
			if isEventOrFlow(r) {
				got = append(got, r)
			}
		}
		want := queryRecords(t, append(append(hub, "--all"), args...)...)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("export %q: %d events, want the %d query returns", args, len(got), len(want))
		}
		for i := range got {
			if !equalPayload(got[i], want[i]) {
				t.Fatalf("export %q: event %d is %v, query returns %v", args, i, got[i], want[i])
			}
		}
	})

	t.Run("rotation by size", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "rot.sf")
		code, stdout, stderr := runSplit(t, append(hub, "export", "-o", out, "--max-file-size", "64KiB")...)
		if code != 0 {
			t.Fatalf("export --max-file-size 64KiB: exit %d: %s", code, stderr)
		}
		names := dirNames(t, dir)
		if len(names) < 2 {
			t.Fatalf("export --max-file-size 64KiB wrote %v, want several files", names)
		}
		var events []*sysflowv1.Record
		for i := range names {
			name := fmt.Sprintf("rot.%d.sf", i)
			if !slices.Contains(names, name) {
				t.Fatalf("export --max-file-size 64KiB wrote %v, want rot.0.sf to rot.%d.sf", names, len(names)-1)
			}
			if !strings.Contains(stdout, filepath.Join(dir, name)+" ") {
				t.Errorf("export: stdout %q does not list %s", stdout, name)
			}
			recs := readSysFlow(t, filepath.Join(dir, name))
			checkSelfContained(t, name, recs)
			for _, r := range recs {
				if isEventOrFlow(r) {
					events = append(events, r)
				}
			}
		}
		if !strings.HasPrefix(stderr, fmt.Sprintf("exported %d files, ", len(names))) {
			t.Errorf("export summary %q, want %d files", stderr, len(names))
		}
		if g, w := typeCounts(events), typeCounts(traceEvents); !maps.Equal(g, w) {
			t.Errorf("export --max-file-size 64KiB: events and flows by type %v, want the trace's %v", g, w)
		}
	})

	t.Run("rotation by time", func(t *testing.T) {
		dir := t.TempDir()
		const span = 5 * time.Minute
		code, _, stderr := runSplit(t, append(hub, "export", "-o", filepath.Join(dir, "t"), "--max-file-duration", "5m")...)
		if code != 0 {
			t.Fatalf("export --max-file-duration 5m: exit %d: %s", code, stderr)
		}
		names := dirNames(t, dir)
		if len(names) < 2 || !slices.Contains(names, "t.0") || !slices.Contains(names, "t.1") {
			t.Fatalf("export --max-file-duration 5m wrote %v, want t.0, t.1, ...", names)
		}
		n := 0
		for _, name := range names {
			var first, last int64
			for _, r := range readSysFlow(t, filepath.Join(dir, name)) {
				if !isEventOrFlow(r) {
					continue
				}
				n++
				if ts := sysflux.Time(r); first == 0 {
					first, last = ts, ts
				} else {
					first, last = min(first, ts), max(last, ts)
				}
			}
			if d := time.Duration(last - first); d > span {
				t.Errorf("export --max-file-duration 5m: %s spans %v", name, d)
			}
		}
		if n != len(traceEvents) {
			t.Errorf("export --max-file-duration 5m: %d events and flows, want the trace's %d", n, len(traceEvents))
		}
	})

	t.Run("exporter", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "named.sf")
		code, _, stderr := runSplit(t, append(hub, "export", "-o", out, "--exporter", "ci-exporter", "--type", "process")...)
		if code != 0 {
			t.Fatalf("export --exporter: exit %d: %s", code, stderr)
		}
		if recs := readSysFlow(t, out); recs[0].GetHeader().GetExporter() != "ci-exporter" {
			t.Errorf("export --exporter ci-exporter: header %v", recs[0].GetHeader())
		}
	})

	t.Run("nothing", func(t *testing.T) {
		var newest int64
		for _, r := range trace {
			newest = max(newest, sysflux.Time(r))
		}
		dir := t.TempDir()
		code, stdout, stderr := runSplit(t, append(hub, "export", "-o", filepath.Join(dir, "none.sf"), "--since", fmt.Sprint(newest+1))...)
		if code != 0 || stdout != "" || !strings.HasPrefix(stderr, "exported 0 files, 0 records") {
			t.Errorf("export --since after the newest record: exit %d, stdout %q, stderr %q; want no file", code, stdout, stderr)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("export of nothing left %v", names)
		}
	})

	t.Run("errors", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "x.sf")
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--filter", "spawned_process and\n  proc.name in (shell_binaries", "-o", out}, "--filter: filter:2:31: expected a ')' token"},
			{[]string{"--cel", `proc.name == "sh" &&`, "-o", out}, "--cel: filter:1:21: Syntax error"},
			{[]string{}, "-o: give the file to write"},
			{[]string{"-o", dir}, "is a directory"},
			{[]string{"-o", filepath.Join(dir, "missing", "x.sf")}, "does not exist"},
			{[]string{"-o", out, "--max-file-size", "lots"}, "--max-file-size"},
			{[]string{"-o", out, "--max-file-duration", "-1h"}, "--max-file-duration"},
			{[]string{"-o", out, "--max-file-duration", "soon"}, "--max-file-duration"},
			{[]string{"-o", out, "--until", "tomorrow"}, `--until: "tomorrow" is not a time`},
		} {
			code, output := run(t, append(append([]string{"export"}, hub...), tt.args...)...)
			if code != exitUsage || !strings.Contains(output, tt.want) {
				t.Errorf("export %q: exit %d, output %q; want exit %d saying %q", tt.args, code, output, exitUsage, tt.want)
			}
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("failed exports left %v", names)
		}
	})
}

// TestExportNoStore checks that export reports a hub without a store, or none at all, and
// writes nothing.
func TestExportNoStore(t *testing.T) {
	dir := t.TempDir()
	unreachable := freeAddr(t)
	code, out := run(t, "export", "--hub", unreachable, "-o", filepath.Join(dir, "x.sf"))
	if code != exitUnreachable || !strings.Contains(out, "hub "+unreachable+" is not reachable") {
		t.Errorf("export from no hub: exit %d, output %q; want exit %d", code, out, exitUnreachable)
	}

	hubAddr := freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0",
		"--replay", filepath.Join(traces, "sfprocessor_tcp.sf"), "--data", "")
	up.WaitAddr(t)
	code, out = run(t, "export", "--hub", hubAddr, "-o", filepath.Join(dir, "x.sf"))
	if code != exitFailure || !strings.Contains(out, "hub "+hubAddr+" cannot export: ") || !strings.Contains(out, "keeps no store") {
		t.Errorf("export from a hub without a store: exit %d, output %q; want exit %d saying it keeps no store", code, out, exitFailure)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("failed exports left %v", names)
	}
}

// TestExportFiles checks the naming of export files and that an export that does not complete
// leaves nothing behind.
func TestExportFiles(t *testing.T) {
	chunk := func(idx int32, data string) *hubv1.ExportChunk {
		return &hubv1.ExportChunk{FileIndex: idx, NodeId: "n", FileStartTime: timestamppb.New(time.Unix(1, 0)), Data: []byte(data)}
	}
	for _, tt := range []struct {
		output string
		files  int32
		want   []string
	}{
		{"out.sf", 1, []string{"out.sf"}},
		{"out.sf", 3, []string{"out.0.sf", "out.1.sf", "out.2.sf"}},
		{"out", 2, []string{"out.0", "out.1"}},
		{"trace.v5.avro", 2, []string{"trace.v5.0.avro", "trace.v5.1.avro"}},
		{".sf", 2, []string{".sf.0", ".sf.1"}},
	} {
		dir := t.TempDir()
		x := &exportFiles{output: filepath.Join(dir, tt.output), byIndex: map[int32]*exportFile{}}
		// Pieces of different files interleave.
		for i := range tt.files {
			if err := x.write(chunk(i, fmt.Sprintf("file %d, ", i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := range tt.files {
			if err := x.write(chunk(i, "end")); err != nil {
				t.Fatal(err)
			}
		}
		if names := dirNames(t, dir); len(names) != int(tt.files) || !strings.HasSuffix(names[0], ".partial") {
			t.Errorf("%s: before commit the directory holds %v, want %d temporary files", tt.output, names, tt.files)
		}
		names, err := x.commit()
		x.discard()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, n := range tt.want {
			want = append(want, filepath.Join(dir, n))
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s with %d files: names %v, want %v", tt.output, tt.files, names, want)
		}
		if got := dirNames(t, dir); !slices.Equal(got, slices.Sorted(slices.Values(tt.want))) {
			t.Errorf("%s with %d files: the directory holds %v, want %v", tt.output, tt.files, got, tt.want)
		}
		for i, n := range names {
			if b, err := os.ReadFile(n); err != nil || string(b) != fmt.Sprintf("file %d, end", i) {
				t.Errorf("%s holds %q (%v), want %q", n, b, err, fmt.Sprintf("file %d, end", i))
			}
		}
	}

	dir := t.TempDir()
	x := &exportFiles{output: filepath.Join(dir, "out.sf"), byIndex: map[int32]*exportFile{}}
	for i := range int32(2) {
		if err := x.write(chunk(i, "part")); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.write(chunk(-1, "x")); err == nil {
		t.Errorf("a chunk of file -1 was accepted")
	}
	x.discard()
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("a discarded export left %v", names)
	}
}

// extraEntities describes the entities that recs hold more versions of than trace does, with
// where in recs each version is.
func extraEntities(recs, trace []*sysflowv1.Record) string {
	id := func(r *sysflowv1.Record) string {
		switch x := r.GetRec().(type) {
		case *sysflowv1.Record_Process:
			return fmt.Sprintf("process %d/%d", x.Process.GetOid().GetHpid(), x.Process.GetOid().GetCreateTs())
		case *sysflowv1.Record_File:
			return fmt.Sprintf("file %x", x.File.GetOid())
		case *sysflowv1.Record_Container:
			return "container " + x.Container.GetId()
		case *sysflowv1.Record_Pod:
			return "pod " + x.Pod.GetId() + " (" + x.Pod.GetName() + ")"
		}
		return ""
	}
	inTrace := map[string]int{}
	for _, r := range trace {
		if k := id(r); k != "" {
			inTrace[k]++
		}
	}
	at := map[string][]string{}
	var order []string
	for i, r := range recs {
		k := id(r)
		if k == "" {
			continue
		}
		if at[k] == nil {
			order = append(order, k)
		}
		at[k] = append(at[k], fmt.Sprintf("record %d (ts %d)", i, sysflux.Time(r)))
	}
	var out []string
	for _, k := range order {
		if len(at[k]) > inTrace[k] {
			out = append(out, fmt.Sprintf("%s: %d in the trace, %d in the export at %s", k, inTrace[k], len(at[k]), strings.Join(at[k], ", ")))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// equalPayload reports whether two records are the same but for their envelopes.
func equalPayload(a, b *sysflowv1.Record) bool {
	return proto.Equal(payload(a), payload(b))
}
