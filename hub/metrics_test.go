package hub_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/engine"
)

// metric returns the value of the metric name with the given label values (name=value pairs),
// and whether the registry has it.
func metric(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

// A hub and an agent, fed a fixture trace, report what they did as Prometheus metrics: records
// by type as the trace has them, the store's size, rule evaluations, alerts raised and sent, and
// the agent's acknowledged position; the metrics pass the registry's consistency checks and
// are served over HTTP in Prometheus' text format.
func TestMetrics(t *testing.T) {
	trace := filepath.Join(traceDir, "sfprocessor_k8s_small.sf")
	recs, err := sfavro.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[sysflowv1.RecordType]int{}
	for _, r := range recs {
		byType[sfavro.TypeOf(r)]++
	}
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sk := &sidekick{fail: 2}
	srv := newHTTPServer(t, sk)
	rules, err := engine.NewActive(engine.File{Name: "shell.yaml", Data: []byte(shellRule)})
	if err != nil {
		t.Fatal(err)
	}
	ag := hubtest.StartAgent(t, agent.Config{Window: spool.Config{NodeID: "n1", AgentID: "a1"}}, replay.File{Path: trace})
	addr, h := hubtest.StartHub(t, hub.Config{Agents: []string{ag.Addr}, Rules: rules, Falcosidekick: srv, Store: st})

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h.Metrics())
	agentReg := prometheus.NewPedanticRegistry()
	agentReg.MustRegister(ag.Agent.Metrics())

	// Wait until the agent's every record is acknowledged and every alert sent.
	deadline := time.Now().Add(30 * time.Second)
	for {
		acked, _ := metric(t, agentReg, "sysflux_agent_acked_seq")
		alerts, _ := metric(t, reg, "sysflux_hub_alerts_total")
		sent, _ := metric(t, reg, "sysflux_hub_alerts_sent_total")
		if int(acked) == len(recs) && alerts > 0 && sent == alerts {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acked %v of %d records, %v of %v alerts sent", acked, len(recs), sent, alerts)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A subscriber reads the whole ring; another asks a filter that costs too much.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+addr)
	sub, err := client.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{FromOldest: true}))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(recs) && sub.Receive(); {
		n += len(sub.Msg().GetBatch().GetRecords())
	}
	if got, _ := metric(t, reg, "sysflux_hub_subscribers"); got != 1 {
		t.Errorf("subscribers = %v, want 1", got)
	}
	for typ, want := range byType {
		if got, _ := metric(t, reg, "sysflux_hub_subscriber_records_sent_total", "type", sfavro.TypeName(typ)); int(got) != want {
			t.Errorf("subscriber_records_sent_total{type=%q} = %v, want %d", sfavro.TypeName(typ), got, want)
		}
	}
	costly := "proc.name in (" + strings.Repeat("a,", 30000) + "b) and fd.name contains x"
	if _, err := client.Query(ctx, connect.NewRequest(&hubv1.QueryRequest{Filter: costly})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("Query with a costly filter: %v, want InvalidArgument", err)
	}
	if got, _ := metric(t, reg, "sysflux_hub_filters_refused_total"); got != 1 {
		t.Errorf("filters_refused_total = %v, want 1", got)
	}

	for typ, want := range byType {
		name := sfavro.TypeName(typ)
		if got, _ := metric(t, reg, "sysflux_hub_records_received_total", "type", name); int(got) != want {
			t.Errorf("hub records_received_total{type=%q} = %v, want %d", name, got, want)
		}
		if got, _ := metric(t, agentReg, "sysflux_agent_records_produced_total", "type", name); int(got) != want {
			t.Errorf("agent records_produced_total{type=%q} = %v, want %d", name, got, want)
		}
	}
	checks := []struct {
		reg    prometheus.Gatherer
		name   string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{reg, "sysflux_hub_agent_connected", []string{"address", ag.Addr, "agent", "a1"}, func(v float64) bool { return v == 1 }, "1"},
		{reg, "sysflux_hub_agent_received_records_total", []string{"address", ag.Addr}, func(v float64) bool { return int(v) == len(recs) }, "every record"},
		{reg, "sysflux_hub_store_bytes", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{reg, "sysflux_hub_store_append_batches_total", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{reg, "sysflux_hub_records_evaluated_total", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{reg, "sysflux_hub_rule_evaluation_seconds_total", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{reg, "sysflux_hub_rule_evaluation_batch_seconds", nil, func(v float64) bool { return v > 0 }, "observations"},
		{reg, "sysflux_hub_alert_send_failures_total", nil, func(v float64) bool { return v >= 2 }, ">= 2 (Falcosidekick refused two posts)"},
		{reg, "sysflux_hub_alerts_dropped_total", nil, func(v float64) bool { return v == 0 }, "0"},
		{reg, "sysflux_hub_ring_records", nil, func(v float64) bool { return int(v) == len(recs) }, "every record"},
		{agentReg, "sysflux_agent_unacked_records", nil, func(v float64) bool { return v == 0 }, "0"},
		{agentReg, "sysflux_agent_hub_connected", nil, func(v float64) bool { return v == 1 }, "1"},
		{agentReg, "sysflux_agent_window_dropped_records_total", nil, func(v float64) bool { return v == 0 }, "0"},
	}
	for _, c := range checks {
		got, ok := metric(t, c.reg, c.name, c.labels...)
		if !ok || !c.ok(got) {
			t.Errorf("%s%v = %v (present %v), want %s", c.name, c.labels, got, ok, c.want)
		}
	}
	if got, _ := metric(t, reg, "sysflux_hub_alerts_total"); int(got) != len(sk.received()) {
		t.Errorf("alerts_total = %v, Falcosidekick received %d", got, len(sk.received()))
	}
	for _, r := range []prometheus.Gatherer{reg, agentReg} {
		problems, err := testutil.GatherAndLint(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
	}

	// Served as Prometheus scrapes them.
	body := scrape(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if !strings.Contains(body, `sysflux_hub_records_received_total{type="file_flow"}`) {
		t.Errorf("scraped metrics lack records_received_total for file flows:\n%.2000s", body)
	}
}

// newHTTPServer serves h on a loopback port until the test ends and returns its URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// scrape serves h on a loopback port and returns what a GET of it returns.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	resp, err := http.Get(newHTTPServer(t, h) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
