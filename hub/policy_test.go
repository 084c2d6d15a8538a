package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
	"github.com/sysflux/sysflux/policy/engine"
)

const shellRule = `
- rule: Shell spawned
  desc: a shell runs
  condition: evt.type = execve and proc.name in (bash, sh)
  output: "Shell spawned (parent=%proc.pname cmdline=%proc.cmdline)"
  priority: warning
  tags: [shell]
`

// sidekick is a stand-in for Falcosidekick, which the hub posts alerts to as Falco does: one
// JSON alert per POST. It can fail requests to test retries.
type sidekick struct {
	mu     sync.Mutex
	alerts []engine.Alert
	fail   int // requests to refuse before taking any
}

func (s *sidekick) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var a engine.Alert
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &a) != nil {
		http.Error(w, "bad alert", http.StatusBadRequest)
		return
	}
	s.alerts = append(s.alerts, a)
}

func (s *sidekick) received() []engine.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]engine.Alert(nil), s.alerts...)
}

// A hub with rules alerts on the records of a replayed trace: every shell exec of the trace, as
// an independent scan counts them, reaches Falcosidekick (which first refuses three posts) in
// Falco's JSON format, and reaches a subscriber of alerts.
func TestAlerts(t *testing.T) {
	trace := filepath.Join(traceDir, "sfprocessor_k8s_small.sf")
	recs, err := sfavro.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	procs := map[[2]int64]string{}
	want := 0
	for _, r := range recs {
		if p := r.GetProcess(); p != nil {
			procs[[2]int64{p.GetOid().GetCreateTs(), p.GetOid().GetHpid()}] = path.Base(p.GetExe())
		}
		if pe := r.GetProcessEvent(); pe != nil && pe.GetOpFlags()&int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC) != 0 {
			if n := procs[[2]int64{pe.GetProcOid().GetCreateTs(), pe.GetProcOid().GetHpid()}]; n == "bash" || n == "sh" {
				want++
			}
		}
	}
	if want == 0 {
		t.Fatal("the trace has no shell exec to alert on")
	}

	sk := &sidekick{fail: 3}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	rules, err := engine.NewActive(engine.File{Name: "shell.yaml", Data: []byte(shellRule)})
	if err != nil {
		t.Fatal(err)
	}
	ag := hubtest.StartAgent(t, agent.Config{Window: spool.Config{NodeID: "n1", AgentID: "a1"}}, replay.File{Path: trace})
	addr, h := hubtest.StartHub(t, hub.Config{Agents: []string{ag.Addr}, Rules: rules, Falcosidekick: srv.URL})

	// Subscribe to alerts before the agent's records arrive: alerts are live only.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+addr)
	stream, err := client.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{Content: hubv1.SubscribeContent_SUBSCRIBE_CONTENT_ALERTS}))
	if err != nil {
		t.Fatal(err)
	}
	var streamed []*hubv1.Alert
	for len(streamed) < want && stream.Receive() {
		if a := stream.Msg().GetAlert(); a != nil {
			streamed = append(streamed, a)
		}
		if stream.Msg().GetBatch() != nil {
			t.Fatal("an alerts-only subscription received records")
		}
	}
	if len(streamed) != want {
		t.Fatalf("subscriber received %d alerts, want %d: %v", len(streamed), want, stream.Err())
	}
	for _, a := range streamed {
		if a.GetRule() != "Shell spawned" || a.GetPriority() != "Warning" || a.GetHostname() != "n1" || a.GetPosition().GetAgentId() != "a1" || a.GetOutputFields()["proc.cmdline"] == "" {
			t.Errorf("alert %v", a)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(sk.received()) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := sk.received()
	if len(got) != want {
		t.Fatalf("Falcosidekick received %d alerts, want %d (stats %+v)", len(got), want, h.PolicyStats())
	}
	for _, a := range got {
		if a.Rule != "Shell spawned" || a.Priority != "Warning" || a.Source != "syscall" || a.Time.IsZero() || len(a.Tags) != 1 || a.OutputFields["proc.cmdline"] == nil {
			t.Errorf("Falcosidekick alert %+v", a)
		}
	}
	st := h.PolicyStats()
	if st.Alerts != int64(want) || st.Sent != int64(want) || st.SendDropped != 0 || st.SendFailures < 3 {
		t.Errorf("policy stats %+v: want %d alerts all sent, after at least 3 failures", st, want)
	}
}

const dropTagRules = `
- rule: Drop reads of /etc
  desc: noise
  condition: sf.type = FF and fd.name startswith /etc/
  priority: debug
  action: [drop]
- rule: Tag libraries
  desc: library loads
  condition: fd.name startswith /usr/lib/ or fd.name startswith /lib/
  priority: info
  tags: [library]
  action: tag
  prefilter: [FF]
`

// Drop rules keep records from subscribers (the agent drops them, having been sent the drop
// rules; the hub drops those it receives all the same), and tag rules annotate records,
// exactly as an independent scan of the trace predicts.
func TestDropAndTag(t *testing.T) {
	trace := filepath.Join(traceDir, "sfprocessor_k8s_small.sf")
	recs, err := sfavro.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	var wantKept, wantDropped, wantTagged int
	for _, r := range recs {
		if f := r.GetFile(); f != nil {
			paths[string(f.GetOid())] = f.GetPath()
		}
		ff := r.GetFileFlow()
		p := paths[string(ff.GetFileOid())]
		switch {
		case ff != nil && strings.HasPrefix(p, "/etc/"):
			wantDropped++
			continue
		case ff != nil && (strings.HasPrefix(p, "/usr/lib/") || strings.HasPrefix(p, "/lib/")):
			wantTagged++
		}
		wantKept++
	}
	if wantDropped == 0 || wantTagged == 0 {
		t.Fatalf("the trace has %d records to drop and %d to tag; want some of each", wantDropped, wantTagged)
	}
	rules, err := engine.NewActive(engine.File{Name: "droptag.yaml", Data: []byte(dropTagRules)})
	if err != nil {
		t.Fatal(err)
	}
	ag := hubtest.StartAgent(t, agent.Config{Window: spool.Config{NodeID: "n1", AgentID: "a1"}}, replay.File{Path: trace})
	addr, h := hubtest.StartHub(t, hub.Config{Agents: []string{ag.Addr}, Rules: rules})
	c, err := sysflux.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := c.Subscribe(ctx, &hubv1.SubscribeRequest{FromOldest: true})
	defer sub.Close()
	var kept, tagged int
	for kept < wantKept && sub.Next() {
		r := sub.Record()
		kept++
		if ff := r.GetFileFlow(); ff != nil {
			if p := paths[string(ff.GetFileOid())]; strings.HasPrefix(p, "/etc/") {
				t.Errorf("a dropped record reached the subscriber: %v", ff)
			}
		}
		if len(r.GetTags()) > 0 {
			tagged++
			if fmt.Sprint(r.GetTags()) != "[library]" || r.GetFileFlow() == nil {
				t.Errorf("tagged record %v", r)
			}
		}
	}
	if kept != wantKept || tagged != wantTagged {
		t.Errorf("kept %d records, %d tagged; want %d and %d", kept, tagged, wantKept, wantTagged)
	}
	st := h.PolicyStats()
	if dropped := st.Dropped + ag.Agent.Stats().GetEdgeDroppedRecords(); dropped != int64(wantDropped) || st.Tagged != int64(wantTagged) {
		t.Errorf("policy stats %+v, %d dropped at the agent: want %d dropped in all, %d tagged", st, dropped-st.Dropped, wantDropped, wantTagged)
	}
}
