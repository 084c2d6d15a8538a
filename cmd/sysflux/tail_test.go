package main

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// TestTailFilter prints the records a Falco filter (with the default rules' macros and lists)
// and a CEL filter select, and refuses bad filters with a usage error that says where.
func TestTailFilter(t *testing.T) {
	const trace = "sfprocessor_k8s_small.sf"
	recs := readTraces(t, trace)
	procs := map[[2]int64]string{}
	var want []string
	for i, r := range recs {
		if p := r.GetProcess(); p != nil {
			procs[[2]int64{p.GetOid().GetCreateTs(), p.GetOid().GetHpid()}] = path.Base(p.GetExe())
		}
		if pe := r.GetProcessEvent(); pe != nil && pe.GetOpFlags()&int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC) != 0 {
			// shell_binaries, in Falco's default rules.
			shells := []string{"ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"}
			if slices.Contains(shells, procs[[2]int64{pe.GetProcOid().GetCreateTs(), pe.GetProcOid().GetHpid()}]) {
				want = append(want, fmt.Sprint(i+1))
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("the trace has no shell exec")
	}
	hubAddr := freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0", "--replay", filepath.Join(traces, trace))
	up.WaitAddr(t)

	code, out := run(t, "tail", "--hub", hubAddr, "--from-oldest", "--json", "--type", "process_event",
		"--filter", "spawned_process and proc.name in (shell_binaries)", "--count", fmt.Sprint(len(want)))
	if code != 0 {
		t.Fatalf("tail --filter: exit %d: %s", code, out)
	}
	var got []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var rec sysflowv1.Record
		if err := protojsonUnmarshal([]byte(line), &rec); err != nil || rec.GetProcessEvent() == nil {
			t.Fatalf("tail --filter printed %q (%v), want process events", line, err)
		}
		got = append(got, fmt.Sprint(rec.GetSeq()))
	}
	if !slices.Equal(got, want) {
		t.Errorf("tail --filter printed records %v, want the shell execs %v", got, want)
	}

	code, out = run(t, "tail", "--hub", hubAddr, "--from-oldest", "--type", "file_flow",
		"--cel", `sf.type == "FF" && fd.name.startsWith("/etc/")`, "--count", "3")
	if rows := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(rows) != 4 || !strings.Contains(rows[3], "file_flow") {
		t.Errorf("tail --cel: exit %d:\n%s\nwant a header and three file flows", code, out)
	}

	for _, tt := range badFilters {
		code, out := run(t, append([]string{"tail", "--hub", hubAddr}, tt.args...)...)
		if code != exitUsage || !strings.Contains(out, tt.want) {
			t.Errorf("tail %q: exit %d, output %q; want exit %d saying %q", tt.args, code, out, exitUsage, tt.want)
		}
	}
}
