package main

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/policy/field"
)

// storeTrace is the trace the store tests replay: one node, 6173 records of every kind.
const storeTrace = "sfprocessor_k8s_small.sf"

// startStoreHub runs `sysflux up` replaying trace into a store in a temporary directory, waits
// until the store holds every record of the trace, and returns the hub's address.
func startStoreHub(t *testing.T, trace string, want int) string {
	t.Helper()
	hubAddr := freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0",
		"--replay", filepath.Join(traces, trace), "--data", t.TempDir())
	up.WaitAddr(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, out, errOut := runSplit(t, "query", "--hub", hubAddr, "--all", "--json")
		n := strings.Count(out, "\n")
		if code == 0 && n == want {
			return hubAddr
		}
		if code != 0 && code != exitUnreachable || n > want || time.Now().After(deadline) {
			t.Fatalf("query --all --json: exit %d, %d records, want %d:\n%s", code, n, want, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// queryRecords runs `sysflux query --json` with args and returns the records it printed.
func queryRecords(t *testing.T, args ...string) []*sysflowv1.Record {
	t.Helper()
	code, out, errOut := runSplit(t, append([]string{"query", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("query --json %q: exit %d: %s", args, code, errOut)
	}
	var recs []*sysflowv1.Record
	for line := range strings.SplitSeq(out, "\n") {
		if line == "" {
			continue
		}
		rec := new(sysflowv1.Record)
		if err := protojson.Unmarshal([]byte(line), rec); err != nil {
			t.Fatalf("query --json %q printed %q: %v", args, line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// seqs returns the records' sequence numbers, sorted: their places in a replayed trace,
// counting from 1.
func seqs(recs []*sysflowv1.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.GetSeq()
	}
	slices.Sort(out)
	return out
}

// traceSeqs returns the places in trace, counting from 1, of the records match selects. match
// sees each record with the trace's files as resolved at that record.
func traceSeqs(trace []*sysflowv1.Record, match func(rec *sysflowv1.Record, files map[string]*sysflowv1.File) bool) []int64 {
	files := map[string]*sysflowv1.File{}
	var out []int64
	for i, r := range trace {
		if f := r.GetFile(); f != nil {
			files[string(f.GetOid())] = f
		}
		if match(r, files) {
			out = append(out, int64(i+1))
		}
	}
	return out
}

// typeCounts counts records by type name.
func typeCounts(recs []*sysflowv1.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[sysflux.TypeName(r)]++
	}
	return m
}

// TestQuery replays a trace into a hub's store and checks what `sysflux query` returns for
// types, time ranges, nodes and filters against an independent count over the trace, across
// pages of every size.
func TestQuery(t *testing.T) {
	trace := readTraces(t, storeTrace)
	hubAddr := startStoreHub(t, storeTrace, len(trace))
	hub := []string{"--hub", hubAddr}

	t.Run("all", func(t *testing.T) {
		got := queryRecords(t, append(hub, "--all")...)
		if g, w := typeCounts(got), typeCounts(trace); !maps.Equal(g, w) {
			t.Errorf("query --all: records by type %v, want the trace's %v", g, w)
		}
		want := make([]int64, len(trace))
		for i := range want {
			want[i] = int64(i + 1)
		}
		if g := seqs(got); !slices.Equal(g, want) {
			t.Errorf("query --all returned %d records, not each of the trace's %d once", len(g), len(want))
		}
		for i := 1; i < len(got); i++ {
			if a, b := sysflux.Time(got[i-1]), sysflux.Time(got[i]); a != 0 && b != 0 && b < a {
				t.Fatalf("query --all: record %d at %d after record %d at %d: not in time order", i, b, i-1, a)
			}
		}
	})

	t.Run("paging", func(t *testing.T) {
		one := queryRecords(t, append(hub, "--all", "--page-size", "10000")...)
		for _, size := range []string{"1", "7", "500", "6172"} {
			paged := queryRecords(t, append(hub, "--all", "--page-size", size)...)
			if g, w := seqs(paged), seqs(one); !slices.Equal(g, w) {
				t.Errorf("query --page-size %s: %d records, want the %d of one page", size, len(g), len(w))
				continue
			}
			for i := range paged {
				if paged[i].GetSeq() != one[i].GetSeq() {
					t.Errorf("query --page-size %s: record %d is seq %d, one page has seq %d there", size, i, paged[i].GetSeq(), one[i].GetSeq())
					break
				}
			}
		}
		// A filter on the process's name, which changes when a process execs: a page must read
		// each record's process as one page does, whatever the records before it on earlier pages.
		filter := []string{"--all", "--type", "process_event,file_flow,network_flow", "--filter", "proc.name = sh"}
		one = queryRecords(t, append(append(slices.Clone(hub), filter...), "--page-size", "10000")...)
		for _, size := range []string{"1", "2", "10"} {
			paged := queryRecords(t, append(append(slices.Clone(hub), filter...), "--page-size", size)...)
			if g, w := seqs(paged), seqs(one); !slices.Equal(g, w) {
				t.Errorf("query %q --page-size %s: %d records, want the %d of one page; missing %v, extra %v",
					filter, size, len(g), len(w), missing(g, w), missing(w, g))
			}
		}
		code, _, errOut := runSplit(t, append(hub, "query", "--all", "--page-size", "100", "--type", "file_flow")...)
		if code != 0 || !strings.Contains(errOut, "pages") {
			t.Errorf("query --page-size 100: exit %d, stderr %q; want a count of several pages", code, errOut)
		}
	})

	t.Run("type", func(t *testing.T) {
		for _, tt := range []struct {
			types []string
			want  func(*sysflowv1.Record) bool
		}{
			{[]string{"file_flow"}, func(r *sysflowv1.Record) bool { return r.GetFileFlow() != nil }},
			{[]string{"process,network_flow"}, func(r *sysflowv1.Record) bool { return r.GetProcess() != nil || r.GetNetworkFlow() != nil }},
			{[]string{"header", "RECORD_TYPE_CONTAINER"}, func(r *sysflowv1.Record) bool { return r.GetHeader() != nil || r.GetContainer() != nil }},
		} {
			args := append(slices.Clone(hub), "--all")
			for _, ty := range tt.types {
				args = append(args, "--type", ty)
			}
			got := seqs(queryRecords(t, args...))
			want := traceSeqs(trace, func(r *sysflowv1.Record, _ map[string]*sysflowv1.File) bool { return tt.want(r) })
			if !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("query --type %q: %d records, want the trace's %d", tt.types, len(got), len(want))
			}
		}
	})

	t.Run("filter", func(t *testing.T) {
		exec := int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC)
		isExec := func(r *sysflowv1.Record, _ map[string]*sysflowv1.File) bool {
			return r.GetProcessEvent() != nil && r.GetProcessEvent().GetOpFlags()&exec != 0
		}
		inEtc := func(r *sysflowv1.Record, files map[string]*sysflowv1.File) bool {
			ff := r.GetFileFlow()
			return ff != nil && strings.HasPrefix(files[string(ff.GetFileOid())].GetPath(), "/etc")
		}
		for _, tt := range []struct {
			args []string
			want func(*sysflowv1.Record, map[string]*sysflowv1.File) bool
		}{
			{[]string{"--type", "process_event", "--filter", "evt.type = execve"}, isExec},
			{[]string{"--type", "process_event", "--cel", `"execve" in evt.type`}, isExec},
			{[]string{"--type", "file_flow", "--filter", "fd.name startswith /etc"}, inEtc},
			{[]string{"--type", "file_flow", "--cel", `fd.name.startsWith("/etc")`}, inEtc},
			{[]string{"--type", "file_flow", "--filter", "fd.name startswith /etc", "--page-size", "3"}, inEtc},
		} {
			got := seqs(queryRecords(t, append(append(slices.Clone(hub), "--all"), tt.args...)...))
			want := traceSeqs(trace, tt.want)
			if len(want) == 0 {
				t.Fatalf("query %q: the trace has no record to match", tt.args)
			}
			if !slices.Equal(got, want) {
				t.Errorf("query %q: records %v, want the trace's %v", tt.args, got, want)
			}
		}
	})

	t.Run("time range", func(t *testing.T) {
		var flows []*sysflowv1.Record
		for _, r := range trace {
			if r.GetFileFlow() != nil {
				flows = append(flows, r)
			}
		}
		slices.SortFunc(flows, func(a, b *sysflowv1.Record) int { return int(sysflux.Time(a) - sysflux.Time(b)) })
		from, to := sysflux.Time(flows[100]), sysflux.Time(flows[len(flows)/2])
		want := traceSeqs(trace, func(r *sysflowv1.Record, _ map[string]*sysflowv1.File) bool {
			return r.GetFileFlow() != nil && sysflux.Time(r) >= from && sysflux.Time(r) < to
		})
		since := time.Unix(0, from).UTC().Format(time.RFC3339Nano)
		got := seqs(queryRecords(t, append(hub, "--all", "--type", "file_flow", "--since", since, "--until", fmt.Sprint(to))...))
		if !slices.Equal(got, want) {
			t.Errorf("query --since %s --until %d: %d file flows, want the trace's %d", since, to, len(got), len(want))
		}

		var newest int64
		for _, r := range trace {
			newest = max(newest, sysflux.Time(r))
		}
		code, out, errOut := runSplit(t, append(hub, "query", "--json", "--since", fmt.Sprint(newest+1))...)
		if code != 0 || out != "" || !strings.HasPrefix(errOut, "0 records;") {
			t.Errorf("query --since after the newest record: exit %d, output %q, stderr %q; want nothing", code, out, errOut)
		}
		if got := queryRecords(t, append(hub, "--all", "--since", fmt.Sprint(newest))...); len(got) == 0 {
			t.Errorf("query --since the newest record's time: nothing, want that record")
		}
		if got := queryRecords(t, append(hub, "--since", "1h")...); len(got) != 0 {
			t.Errorf("query --since 1h: %d records of a trace from 2022, want none", len(got))
		}
	})

	t.Run("node", func(t *testing.T) {
		if got := queryRecords(t, append(hub, "--all", "--node", "elsewhere")...); len(got) != 0 {
			t.Errorf("query --node elsewhere: %d records of a node the trace is not from", len(got))
		}
		node := queryRecords(t, append(hub, "--limit", "1")...)[0].GetNodeId()
		if got := queryRecords(t, append(hub, "--all", "--node", "other,"+node)...); len(got) != len(trace) {
			t.Errorf("query --node other,%s: %d records, want %d", node, len(got), len(trace))
		}
	})

	t.Run("limit", func(t *testing.T) {
		code, out, errOut := runSplit(t, append(hub, "query", "--json", "--limit", "10", "--page-size", "3")...)
		if n := strings.Count(out, "\n"); code != 0 || n != 10 || !strings.Contains(errOut, "more records may match") {
			t.Errorf("query --limit 10: exit %d, %d records, stderr %q; want 10 and a note that more match", code, n, errOut)
		}
		code, out, errOut = runSplit(t, append(hub, "query", "--json")...)
		if n := strings.Count(out, "\n"); code != 0 || n != defaultQueryLimit || !strings.Contains(errOut, "--all") {
			t.Errorf("query: exit %d, %d records, stderr %q; want the default %d and a note that more match", code, n, errOut, defaultQueryLimit)
		}
		code, _, errOut = runSplit(t, append(hub, "query", "--json", "--type", "header", "--limit", "1")...)
		if code != 0 || strings.Contains(errOut, "more records") {
			t.Errorf("query --type header --limit 1: exit %d, stderr %q; want no note of more records", code, errOut)
		}
	})

	t.Run("table", func(t *testing.T) {
		code, out, _ := runSplit(t, append(hub, "query", "--type", "file_flow", "--filter", "fd.name startswith /etc", "--limit", "3")...)
		rows := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(rows) != 4 || !strings.HasPrefix(rows[0], "TIME") {
			t.Fatalf("query table: exit %d:\n%s\nwant a header and three rows", code, out)
		}
		for _, row := range rows[1:] {
			// The process is resolved to its name, the file to its path.
			if !strings.Contains(row, "file_flow") || !strings.Contains(row, " /etc") || !strings.Contains(row, "[") || strings.Contains(row, " [") {
				t.Errorf("query table row %q: want a file flow with its process's name and its /etc path", row)
			}
		}
	})

	t.Run("entities", func(t *testing.T) {
		recs := queryRecords(t, append(hub, "--type", "file_flow,process_event", "--limit", "200", "--entities")...)
		procs, files := map[[2]int64]bool{}, map[string]bool{}
		events := 0
		for _, r := range recs {
			switch {
			case r.GetProcess() != nil:
				procs[[2]int64{r.GetProcess().GetOid().GetHpid(), r.GetProcess().GetOid().GetCreateTs()}] = true
			case r.GetFile() != nil:
				files[string(r.GetFile().GetOid())] = true
			case r.GetContainer() != nil, r.GetPod() != nil:
			default:
				events++
				oid := field.ProcOID(r)
				if !procs[[2]int64{oid.GetHpid(), oid.GetCreateTs()}] {
					t.Errorf("query --entities: %s of process %d before the process", sysflux.TypeName(r), oid.GetHpid())
				}
				if ff := r.GetFileFlow(); ff != nil && !files[string(ff.GetFileOid())] {
					t.Errorf("query --entities: file flow before its file")
				}
			}
		}
		if events != 200 || len(procs) == 0 || len(files) == 0 {
			t.Errorf("query --entities --limit 200: %d events and flows, %d processes, %d files; want 200 with their entities", events, len(procs), len(files))
		}
	})

	t.Run("bad filter", func(t *testing.T) {
		for _, tt := range badFilters {
			code, out := run(t, append(append([]string{"query"}, hub...), tt.args...)...)
			if code != exitUsage || !strings.Contains(out, tt.want) {
				t.Errorf("query %q: exit %d, output %q; want exit %d saying %q", tt.args, code, out, exitUsage, tt.want)
			}
		}
	})
}

// missing returns the elements of want that got lacks.
func missing(got, want []int64) []int64 {
	var out []int64
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
}

// TestQueryErrors checks the exit codes and messages of bad flags, an unreachable hub and a hub
// without a store.
func TestQueryErrors(t *testing.T) {
	unreachable := freeAddr(t)
	for _, tt := range []struct {
		args     []string
		wantCode int
		wantMsg  string
	}{
		{[]string{"query", "--limit", "-1"}, exitUsage, "--limit: -1 is negative"},
		{[]string{"query", "--limit", "5", "--all"}, exitUsage, "--limit and --all"},
		{[]string{"query", "--page-size", "-3"}, exitUsage, "--page-size: -3 is negative"},
		{[]string{"query", "--entities"}, exitUsage, "--entities: only with --json"},
		{[]string{"query", "--since", "yesterday"}, exitUsage, `--since: "yesterday" is not a time`},
		{[]string{"query", "--since", "1h", "--until", "2h"}, exitUsage, "is after --until"},
		{[]string{"query", "--type", "teapot"}, exitUsage, `--type: unknown record type "teapot"`},
		{[]string{"query", "--hub", unreachable}, exitUnreachable, "hub " + unreachable + " is not reachable"},
		{[]string{"provenance", "--hub", unreachable}, exitUsage, "--pid: give the process's pid"},
		{[]string{"provenance", "--hub", unreachable, "--pid", "0"}, exitUsage, "--pid: 0 is not a process id"},
		{[]string{"provenance", "--hub", unreachable, "--pid", "1"}, exitUnreachable, "is not reachable"},
	} {
		code, out := run(t, tt.args...)
		if code != tt.wantCode || !strings.Contains(out, tt.wantMsg) {
			t.Errorf("sysflux %q: exit %d, output %q; want exit %d saying %q", tt.args, code, out, tt.wantCode, tt.wantMsg)
		}
	}

	// A hub without a store refuses Query and GetProvenance, and says why.
	hubAddr := freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0",
		"--replay", filepath.Join(traces, "sfprocessor_tcp.sf"), "--data", "")
	up.WaitAddr(t)
	for _, args := range [][]string{{"query"}, {"provenance", "--pid", "1"}} {
		code, out := run(t, append(args, "--hub", hubAddr)...)
		if code != exitFailure || !strings.Contains(out, "hub "+hubAddr+" cannot") || !strings.Contains(out, "keeps no store") {
			t.Errorf("sysflux %s against a hub without a store: exit %d, output %q; want exit %d saying it keeps no store", args[0], code, out, exitFailure)
		}
	}
}

// TestProvenance asks for a process of a replayed trace and checks its parent, its children and
// its records against the trace.
func TestProvenance(t *testing.T) {
	trace := readTraces(t, storeTrace)
	hubAddr := startStoreHub(t, storeTrace, len(trace))

	// A process with a parent in the trace, children and a few records of its own.
	type key = [2]int64
	keyOf := func(o *sysflowv1.OID) key { return key{o.GetHpid(), o.GetCreateTs()} }
	procs := map[key]*sysflowv1.Process{}
	children := map[key]map[key]bool{}
	records := map[key]int{}
	for _, r := range trace {
		if p := r.GetProcess(); p != nil {
			procs[keyOf(p.GetOid())] = p
			if p.GetPoid() != nil {
				if children[keyOf(p.GetPoid())] == nil {
					children[keyOf(p.GetPoid())] = map[key]bool{}
				}
				children[keyOf(p.GetPoid())][keyOf(p.GetOid())] = true
			}
		} else if oid := field.ProcOID(r); oid != nil {
			records[keyOf(oid)]++
		}
	}
	var self *sysflowv1.Process
	for k, p := range procs {
		if n := records[k]; p.GetPoid() != nil && procs[keyOf(p.GetPoid())] != nil && len(children[k]) > 0 && n > 0 && n < 100 {
			if self == nil || k[0] < self.GetOid().GetHpid() {
				self = p
			}
		}
	}
	if self == nil {
		t.Fatal("the trace has no process with a parent, children and fewer than 100 records")
	}
	parent := procs[keyOf(self.GetPoid())]
	pid, createTS := fmt.Sprint(self.GetOid().GetHpid()), fmt.Sprint(self.GetOid().GetCreateTs())

	code, out, errOut := runSplit(t, "provenance", "--hub", hubAddr, "--pid", pid, "--create-ts", createTS)
	if code != 0 {
		t.Fatalf("provenance --pid %s: exit %d: %s", pid, code, errOut)
	}
	parentLabel := fmt.Sprintf("%s[%d]", path.Base(parent.GetExe()), parent.GetOid().GetHpid())
	selfLabel := fmt.Sprintf("%s[%d]", path.Base(self.GetExe()), self.GetOid().GetHpid())
	if !strings.Contains(out, "process "+selfLabel) || !strings.Contains(out, parentLabel+" "+parent.GetExe()) ||
		!strings.Contains(out, fmt.Sprintf("%s: %d records", selfLabel, records[keyOf(self.GetOid())])) {
		t.Errorf("provenance --pid %s:\n%s\nwant the process %s, its parent %s and its %d records", pid, out, selfLabel, parentLabel, records[keyOf(self.GetOid())])
	}
	lines := strings.Split(out, "\n")
	at := func(label string, p *sysflowv1.Process) int {
		return slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, label+" "+p.GetExe()) })
	}
	if p, s := at(parentLabel, parent), at(selfLabel, self); p < 0 || s < 0 || p > s || !strings.HasSuffix(lines[s], "*") {
		t.Errorf("provenance --pid %s:\n%s\nwant the parent %s above the process %s, marked with *", pid, out, parentLabel, selfLabel)
	}

	code, out, errOut = runSplit(t, "provenance", "--hub", hubAddr, "--pid", pid, "--create-ts", createTS, "--json")
	if code != 0 {
		t.Fatalf("provenance --json: exit %d: %s", code, errOut)
	}
	var resp hubv1.GetProvenanceResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("provenance --json printed %q: %v", out, err)
	}
	if got := resp.GetProcess().GetProcess().GetOid(); keyOf(got) != keyOf(self.GetOid()) {
		t.Errorf("provenance --json: process %v, want %v", got, self.GetOid())
	}
	if len(resp.GetAncestors()) == 0 || keyOf(resp.GetAncestors()[0].GetProcess().GetOid()) != keyOf(parent.GetOid()) {
		t.Errorf("provenance --json: ancestors %v, want the parent %v first", resp.GetAncestors(), parent.GetOid())
	}
	gotKids := map[key]bool{}
	for _, c := range resp.GetChildren() {
		gotKids[keyOf(c.GetProcess().GetOid())] = true
	}
	if len(gotKids) != len(children[keyOf(self.GetOid())]) {
		t.Errorf("provenance --json: %d children, want the trace's %d", len(gotKids), len(children[keyOf(self.GetOid())]))
	}
	if got, want := len(resp.GetProcess().GetRecords()), records[keyOf(self.GetOid())]; got != want || resp.GetProcess().GetTruncated() {
		t.Errorf("provenance --json: %d records (truncated %v), want the trace's %d", got, resp.GetProcess().GetTruncated(), want)
	}

	// --max-records bounds each process's records and says so.
	if records[keyOf(self.GetOid())] > 1 {
		code, out, _ = runSplit(t, "provenance", "--hub", hubAddr, "--pid", pid, "--create-ts", createTS, "--max-records", "1")
		if code != 0 || !strings.Contains(out, selfLabel+": 1 record, more not shown") {
			t.Errorf("provenance --max-records 1: exit %d:\n%s\nwant one record of %s and a note of more", code, out, selfLabel)
		}
	}

	code, out = run(t, "provenance", "--hub", hubAddr, "--pid", "999999")
	if code != exitFailure || !strings.Contains(out, "no stored process 999999") {
		t.Errorf("provenance --pid 999999: exit %d, output %q; want exit %d saying there is no such process", code, out, exitFailure)
	}
	code, out = run(t, "provenance", "--hub", hubAddr, "--pid", pid, "--node", "elsewhere")
	if code != exitFailure || !strings.Contains(out, "elsewhere") {
		t.Errorf("provenance --node elsewhere: exit %d, output %q; want exit %d naming the node", code, out, exitFailure)
	}
}

// badFilters are filter flags that query and tail refuse, and what they must say.
var badFilters = []struct {
	args []string
	want string
}{
	{[]string{"--filter", "spawned_process and\n  proc.name in (shell_binaries"}, "--filter: filter:2:31: expected a ')' token"},
	{[]string{"--filter", "spawned_process and nope"}, "--filter: filter:1:21: Undefined macro 'nope'"},
	{[]string{"--cel", `proc.name == "sh" &&`}, "--cel: filter:1:21: Syntax error"},
	{[]string{"--cel", "x", "--filter", "y"}, "give one filter"},
	{[]string{"--filter", " "}, "the filter is empty"},
}
