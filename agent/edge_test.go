package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
)

const dropEtc = `- rule: drop /etc
  desc: reads of /etc
  condition: sf.type = FF and fd.name startswith /etc/
  priority: debug
  action: [drop]
`

// fileRecords returns a process, two files and a flow on each: /etc/passwd's flow is the
// fourth record, /tmp/x's the fifth.
func fileRecords() []*sysflowv1.Record {
	proc := &sysflowv1.OID{CreateTs: 1, Hpid: 10}
	file := func(oid, path string) *sysflowv1.Record {
		return &sysflowv1.Record{Rec: &sysflowv1.Record_File{File: &sysflowv1.File{Oid: []byte(oid), Path: path, Restype: 'f'}}}
	}
	flow := func(oid string) *sysflowv1.Record {
		return &sysflowv1.Record{Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{
			ProcOid: proc, FileOid: []byte(oid), Ts: 5, EndTs: 6, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN), Fd: 3,
		}}}
	}
	return []*sysflowv1.Record{
		{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: proc, Exe: "/bin/cat"}}},
		file("etc", "/etc/passwd"),
		file("tmp", "/tmp/x"),
		flow("etc"),
		flow("tmp"),
	}
}

// An agent applies the drop rules a hub sends to the records it produces from then on,
// counting them in its Stats; it keeps its rules when new ones do not compile, saying why, and
// drops nothing once the hub sends none.
func TestEdgePolicy(t *testing.T) {
	c, a := serve(t, 0, agent.Config{StatsInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, _ := open(t, ctx, c, nil)

	// push sends a policy and returns the Stats the agent sends once it has dealt with it.
	push := func(version int64, rules string) *agentv1.Stats {
		t.Helper()
		if err := st.Send(&agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_EdgePolicy{
			EdgePolicy: &agentv1.EdgePolicy{Version: version, RulesYaml: rules}}}); err != nil {
			t.Fatal(err)
		}
		for {
			resp, err := st.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if s := resp.GetStats(); s != nil {
				return s
			}
		}
	}
	// produce runs the records through the agent and returns the paths of the flows it sent.
	produce := func() []string {
		t.Helper()
		before := a.Stats().GetProducedRecords()
		if err := a.Run(ctx, replay.Records{Label: "files", Records: fileRecords()}); err != nil {
			t.Fatal(err)
		}
		kept := int(a.Stats().GetProducedRecords() - before)
		var paths []string
		for n := 0; n < kept; {
			resp, err := st.Recv()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range resp.GetBatch().GetRecords() {
				n++
				if ff := r.GetFileFlow(); ff != nil {
					paths = append(paths, map[string]string{"etc": "/etc/passwd", "tmp": "/tmp/x"}[string(ff.GetFileOid())])
				}
			}
		}
		return paths
	}

	s := push(3, dropEtc)
	if s.GetEdgePolicyVersion() != 3 || s.GetEdgeRuleCount() != 1 || s.GetEdgePolicyError() != "" {
		t.Fatalf("after a good policy: Stats %v, want version 3, one rule, no error", s)
	}
	if got := strings.Join(produce(), " "); got != "/tmp/x" {
		t.Errorf("with the drop rule, the agent sent flows on %q, want /tmp/x only", got)
	}
	if s := a.Stats(); s.GetEdgeDroppedRecords() != 1 || s.GetProducedRecords() != 4 {
		t.Errorf("Stats %v, want one record dropped and 4 kept", s)
	}

	s = push(4, "- rule: broken\n  desc: d\n  condition: fd.name startswith\n  priority: debug\n  action: [drop]\n")
	if s.GetEdgePolicyVersion() != 3 || s.GetEdgeRuleCount() != 1 || !strings.Contains(s.GetEdgePolicyError(), "version 4") {
		t.Fatalf("after a bad policy: Stats %v, want version 3 still, and an error about version 4", s)
	}
	if got := strings.Join(produce(), " "); got != "/tmp/x" {
		t.Errorf("after a bad policy, the agent sent flows on %q, want /tmp/x only", got)
	}

	s = push(5, "")
	if s.GetEdgePolicyVersion() != 5 || s.GetEdgeRuleCount() != 0 || s.GetEdgePolicyError() != "" || s.GetEdgeDroppedRecords() != 2 {
		t.Fatalf("after an empty policy: Stats %v, want version 5, no rule, no error, 2 dropped before", s)
	}
	if got := strings.Join(produce(), " "); got != "/etc/passwd /tmp/x" {
		t.Errorf("without drop rules, the agent sent flows on %q, want both", got)
	}
}
