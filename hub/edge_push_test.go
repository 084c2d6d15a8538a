package hub_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/gen/sysflux/policy/v1/policyv1connect"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
	"github.com/sysflux/sysflux/policy/engine"
)

const dropEtcRule = `
- rule: Drop flows on /etc
  desc: noise
  condition: sf.type = FF and fd.name startswith /etc/
  priority: debug
  action: [drop]
`

// gatedSource runs a source once its gate opens.
type gatedSource struct {
	gate <-chan struct{}
	src  agent.Source
}

func (g gatedSource) Name() string { return g.src.Name() }

func (g gatedSource) Run(ctx context.Context, emit func(context.Context, *sysflowv1.Record) error) error {
	select {
	case <-ctx.Done():
		return nil
	case <-g.gate:
	}
	return g.src.Run(ctx, emit)
}

// serveHub serves a hub on loopback until stop is called or the test ends.
func serveHub(t *testing.T, cfg hub.Config) (addr string, h *hub.Hub, stop func()) {
	t.Helper()
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), h, stop
}

// agentStatus returns what the hub at addr says of its one agent.
func agentStatus(t *testing.T, addr string) *hubv1.AgentStatus {
	t.Helper()
	c := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+addr)
	resp, err := c.ListAgents(context.Background(), connect.NewRequest(&hubv1.ListAgentsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Msg.GetAgents()) != 1 {
		t.Fatalf("ListAgents: %v, want one agent", resp.Msg.GetAgents())
	}
	return resp.Msg.GetAgents()[0]
}

// waitFor polls cond until it holds, failing the test after 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// flowsOnEtc subscribes to everything the hub at addr holds and returns the number of records
// and of file flows on /etc it holds, once it holds total records.
func flowsOnEtc(t *testing.T, addr string, total int) (records, etc int) {
	t.Helper()
	c := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := c.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{FromOldest: true, HeartbeatInterval: durationpb.New(time.Second)}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	paths := map[string]string{}
	for records < total && stream.Receive() {
		for _, r := range stream.Msg().GetBatch().GetRecords() {
			records++
			if f := r.GetFile(); f != nil {
				paths[string(f.GetOid())] = f.GetPath()
			}
			if ff := r.GetFileFlow(); ff != nil && strings.HasPrefix(paths[string(ff.GetFileOid())], "/etc/") {
				etc++
			}
		}
	}
	if records != total {
		t.Fatalf("the hub holds %d records, want %d: %v", records, total, stream.Err())
	}
	return records, etc
}

// The hub sends its drop rules to its agent at start, when they change through the
// PolicyService, and when the agent connects again; the agent then drops the records they
// match, which the hub never receives, and sends them again once the hub has no drop rule.
func TestEdgeDropRules(t *testing.T) {
	trace := filepath.Join(traceDir, "sfprocessor_k8s_small.sf")
	recs, err := sfavro.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	// The independent count of the records the drop rule matches.
	paths := map[string]string{}
	etcFlows := 0
	for _, r := range recs {
		if f := r.GetFile(); f != nil {
			paths[string(f.GetOid())] = f.GetPath()
		}
		if ff := r.GetFileFlow(); ff != nil && strings.HasPrefix(paths[string(ff.GetFileOid())], "/etc/") {
			etcFlows++
		}
	}
	total := len(recs)
	if etcFlows == 0 {
		t.Fatal("the trace has no file flow on /etc")
	}

	var gates [3]chan struct{}
	var srcs []agent.Source
	for i := range gates {
		gates[i] = make(chan struct{})
		srcs = append(srcs, gatedSource{gate: gates[i], src: replay.File{Path: trace}})
	}
	ag := hubtest.StartAgent(t, agent.Config{Window: spool.Config{NodeID: "n1", AgentID: "a1"}, StatsInterval: 50 * time.Millisecond}, srcs...)

	// A hub without drop rules: the agent applies its (empty) policy, version 1.
	rules, err := engine.NewActive(engine.File{Name: "shell.yaml", Data: []byte(shellRule)})
	if err != nil {
		t.Fatal(err)
	}
	addr, h, stop := serveHub(t, hub.Config{Agents: []string{ag.Addr}, Rules: rules})
	waitFor(t, "the agent to apply version 1", func() bool {
		s := agentStatus(t, addr)
		return s.GetConnected() && s.GetEdgePolicyVersion() == 1
	})

	// A drop rule put through the PolicyService reaches the agent, which drops what it matches.
	pc := policyv1connect.NewPolicyServiceClient(http.DefaultClient, "http://"+addr)
	put, err := pc.PutRules(context.Background(), connect.NewRequest(&policyv1.PutRulesRequest{
		Files: []*policyv1.RulesFile{{Name: "drop.yaml", Content: dropEtcRule}}}))
	if err != nil {
		t.Fatal(err)
	}
	if put.Msg.GetVersion() != 2 {
		t.Fatalf("PutRules: version %d, want 2", put.Msg.GetVersion())
	}
	waitFor(t, "the agent to apply version 2", func() bool { return agentStatus(t, addr).GetEdgePolicyVersion() == 2 })
	if s := ag.Agent.Stats(); s.GetEdgeRuleCount() != 1 || s.GetEdgePolicyError() != "" {
		t.Fatalf("agent Stats %v, want one drop rule and no error", s)
	}
	close(gates[0])
	kept := total - etcFlows
	waitFor(t, "the first replay", func() bool {
		s := agentStatus(t, addr)
		return s.GetLastPosition().GetSeq() == int64(kept) && s.GetEdgeDroppedRecords() == int64(etcFlows)
	})
	if n, etc := flowsOnEtc(t, addr, kept); n != kept || etc != 0 {
		t.Errorf("with the drop rule, the hub holds %d records, %d of them flows on /etc; want %d and none", n, etc, kept)
	}
	if st := h.PolicyStats(); st.Dropped != 0 || st.Evaluated == 0 {
		t.Errorf("hub policy stats %+v: want records evaluated and none dropped at the hub", st)
	}

	// Rules without a drop rule: the agent sends everything again.
	put, err = pc.PutRules(context.Background(), connect.NewRequest(&policyv1.PutRulesRequest{
		ReplaceAll: true, Files: []*policyv1.RulesFile{{Name: "shell.yaml", Content: shellRule}}}))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent to apply version 3", func() bool { return agentStatus(t, addr).GetEdgePolicyVersion() == put.Msg.GetVersion() })
	if s := ag.Agent.Stats(); s.GetEdgeRuleCount() != 0 {
		t.Fatalf("agent Stats %v, want no drop rule", s)
	}
	close(gates[1])
	waitFor(t, "the second replay", func() bool { return agentStatus(t, addr).GetLastPosition().GetSeq() == int64(kept+total) })
	if n, etc := flowsOnEtc(t, addr, kept+total); n != kept+total || etc != etcFlows {
		t.Errorf("without drop rules, the hub holds %d records, %d of them flows on /etc; want %d and %d", n, etc, kept+total, etcFlows)
	}
	if s := agentStatus(t, addr); s.GetEdgeDroppedRecords() != int64(etcFlows) {
		t.Errorf("the agent dropped %d records in all, want %d", s.GetEdgeDroppedRecords(), etcFlows)
	}

	// Another hub, which starts with the drop rule: the agent gets it when that hub connects.
	stop()
	rules2, err := engine.NewActive(engine.File{Name: "drop.yaml", Data: []byte(dropEtcRule)})
	if err != nil {
		t.Fatal(err)
	}
	addr2, _, _ := serveHub(t, hub.Config{Agents: []string{ag.Addr}, Rules: rules2})
	waitFor(t, "the agent to apply the new hub's rules", func() bool {
		return agentStatus(t, addr2).GetConnected() && ag.Agent.Stats().GetEdgeRuleCount() == 1
	})
	close(gates[2])
	waitFor(t, "the third replay", func() bool {
		s := agentStatus(t, addr2)
		return s.GetLastPosition().GetSeq() == int64(2*kept+total) && s.GetEdgeDroppedRecords() == int64(2*etcFlows)
	})
}
