package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
)

// Fault tests run real agent and hub processes, break what lies between them or around them
// (the hub, an agent, Falcosidekick, the network), and check three things each time: while the
// fault lasts, the processes' metrics show it; no record a hub acknowledged is lost and none is
// stored twice, as the hub's Query API returns them and as the replayed trace has them; alerts
// reach Falcosidekick once the fault is over.

// logLine waits for a JSON log line of p whose message satisfies match and returns the line.
func logLine(t *testing.T, p *proc, what string, match func(msg string) bool, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(p.Log(), "\n") {
			var entry map[string]any
			d := json.NewDecoder(strings.NewReader(line))
			d.UseNumber()
			if d.Decode(&entry) != nil {
				continue
			}
			if msg, _ := entry["msg"].(string); match(msg) {
				return entry
			}
		}
		select {
		case <-p.Done:
			t.Fatalf("process exited before logging %s:\n%s", what, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for %s within %v:\n%s", what, timeout, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricsAddr returns the host:port p serves its metrics on, from its log.
func metricsAddr(t *testing.T, p *proc) string {
	t.Helper()
	entry := logLine(t, p, "the metrics address", func(msg string) bool { return strings.Contains(msg, "serving") && strings.Contains(msg, "metrics") }, 30*time.Second)
	a, _ := entry["addr"].(string)
	if u, err := url.Parse(a); err == nil && u.Host != "" {
		a = u.Host
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		t.Fatalf("metrics log line %v has no host:port address", entry)
	}
	return a
}

// agentEpoch returns the epoch an agent stamps its records with, from its log.
func agentEpoch(t *testing.T, p *proc) int64 {
	t.Helper()
	entry := logLine(t, p, "the agent's epoch", func(msg string) bool { return msg == "agent serving" }, 30*time.Second)
	n, ok := entry["epoch"].(json.Number)
	if !ok {
		t.Fatalf("agent serving log line %v has no epoch", entry)
	}
	e, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// helpText caches sysflux's help text by command name.
var helpText sync.Map

// hasFlag says whether sysflux's command takes flag (e.g. "--insecure").
func hasFlag(t *testing.T, command, flag string) bool {
	t.Helper()
	text, ok := helpText.Load(command)
	if !ok {
		out, err := exec.Command(binary, command, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("sysflux %s --help: %v\n%s", command, err, out)
		}
		text, _ = helpText.LoadOrStore(command, string(out))
	}
	for _, line := range strings.Split(text.(string), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, flag+" ") || strings.Contains(line, ", "+flag+" ") && strings.HasPrefix(line, "-") {
			return true
		}
	}
	return false
}

// requireMetricsFlag fails the test if the binary cannot serve metrics: every fault test checks
// that its fault shows in them.
func requireMetricsFlag(t *testing.T) {
	t.Helper()
	for _, c := range []string{"agent", "hub"} {
		if !hasFlag(t, c, "--metrics-listen") {
			t.Fatalf("sysflux %s has no --metrics-listen flag", c)
		}
	}
}

// scraper reads a process's Prometheus metrics.
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(addr string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *scraper {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: dial}
	return &scraper{url: "http://" + addr + "/metrics", client: &http.Client{Transport: tr, Timeout: 3 * time.Second}}
}

// scraped is one scrape, by metric family name.
type scraped map[string]*dto.MetricFamily

// scrape reads the metrics once, in the text exposition format.
func (s *scraper) scrape() (scraped, error) {
	resp, err := s.client.Get(s.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("%s: %s: %s", s.url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.url, err)
	}
	return mfs, nil
}

// mustScrape scrapes, failing the test if that fails.
func (s *scraper) mustScrape(t *testing.T) scraped {
	t.Helper()
	m, err := s.scrape()
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return m
}

// get returns the value of the series of name whose labels include the given name=value
// pairs, and whether there is one.
func (m scraped) get(name string, labels ...string) (float64, bool) {
	mf := m[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, s := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(s.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}) {
				continue next
			}
		}
		switch {
		case s.GetCounter() != nil:
			return s.GetCounter().GetValue(), true
		case s.GetGauge() != nil:
			return s.GetGauge().GetValue(), true
		case s.GetUntyped() != nil:
			return s.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// sum returns the sum of all series of name.
func (m scraped) sum(name string) float64 {
	var total float64
	for _, s := range m[name].GetMetric() {
		total += s.GetCounter().GetValue() + s.GetGauge().GetValue() + s.GetUntyped().GetValue()
	}
	return total
}

// value returns the series' value, failing the test if there is none.
func (m scraped) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.get(name, labels...)
	if !ok {
		t.Fatalf("no metric %s%v in the scrape (%d families)", name, labels, len(m))
	}
	return v
}

// waitMetrics scrapes until cond holds of a scrape and returns that scrape; it fails the test
// after timeout, naming what it waited for.
func (s *scraper) waitMetrics(t *testing.T, what string, timeout time.Duration, cond func(scraped) bool) scraped {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		m, err := s.scrape()
		if err == nil && cond(m) {
			return m
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last scrape error: %v)", what, timeout, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hubClient is a client of a hub's public API.
func hubClient(addr string) hubv1connect.HubServiceClient {
	return hubv1connect.NewHubServiceClient(&http.Client{Timeout: 10 * time.Second}, "http://"+addr)
}

// queryAll returns every record the hub's store holds, through its Query API.
func queryAll(t *testing.T, c hubv1connect.HubServiceClient) []*sysflowv1.Record {
	t.Helper()
	var out []*sysflowv1.Record
	req := &hubv1.QueryRequest{PageSize: 5000}
	for {
		resp, err := c.Query(context.Background(), connect.NewRequest(req))
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		out = append(out, resp.Msg.GetRecords()...)
		if req.PageToken = resp.Msg.GetNextPageToken(); req.PageToken == "" {
			return out
		}
	}
}

// agentPosition returns what ListAgents says of the agent at addr: whether its stream is up and
// the last position the hub holds; ok is false when the hub does not answer or does not list
// the agent.
func agentPosition(c hubv1connect.HubServiceClient, addr string) (connected bool, epoch, seq int64, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.ListAgents(ctx, connect.NewRequest(&hubv1.ListAgentsRequest{}))
	if err != nil {
		return false, 0, 0, false
	}
	for _, a := range resp.Msg.GetAgents() {
		if a.GetAddress() == addr {
			return a.GetConnected(), a.GetLastPosition().GetEpoch(), a.GetLastPosition().GetSeq(), true
		}
	}
	return false, 0, 0, false
}

// waitStored waits until the hub holds the agent at addr's records up to seq in epoch.
func waitStored(t *testing.T, c hubv1connect.HubServiceClient, addr string, epoch, seq int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, e, s, _ := agentPosition(c, addr)
		if e == epoch && s >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub holds the agent at %s up to %d/%d within %v, want %d/%d", addr, e, s, timeout, epoch, seq)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// epochRun is what a test expects the store to hold of one epoch of an agent: the records of
// trace, from seq 1 up to at least minSeq (all of them when minSeq is len(trace)).
type epochRun struct {
	agentID string
	epoch   int64
	trace   []*sysflowv1.Record
	minSeq  int64
}

// checkStored checks the records a hub's store returns against the runs the test made: every
// stored record belongs to one of them, is stored once, is the trace's record at its seq, and
// each run is stored from seq 1 without a gap up to at least its minSeq. It returns the last
// seq stored of each run.
func checkStored(t *testing.T, recs []*sysflowv1.Record, runs ...epochRun) []int64 {
	t.Helper()
	type key struct {
		agent string
		epoch int64
	}
	idx := map[key]int{}
	for i, r := range runs {
		idx[key{r.agentID, r.epoch}] = i
	}
	seen := make([]map[int64]bool, len(runs))
	for i := range seen {
		seen[i] = map[int64]bool{}
	}
	bad := 0
	for _, rec := range recs {
		i, ok := idx[key{rec.GetAgentId(), rec.GetEpoch()}]
		pos := fmt.Sprintf("%s/%d/%d", rec.GetAgentId(), rec.GetEpoch(), rec.GetSeq())
		switch {
		case !ok:
			t.Errorf("stored record %s is of no agent run of the test", pos)
		case rec.GetSeq() < 1 || rec.GetSeq() > int64(len(runs[i].trace)):
			t.Errorf("stored record %s is beyond the trace's %d records", pos, len(runs[i].trace))
		case seen[i][rec.GetSeq()]:
			t.Errorf("record %s stored twice", pos)
		case !proto.Equal(payload(rec), runs[i].trace[rec.GetSeq()-1]):
			t.Errorf("record %s differs from the trace's:\ngot  %v\nwant %v", pos, payload(rec), runs[i].trace[rec.GetSeq()-1])
		default:
			seen[i][rec.GetSeq()] = true
			continue
		}
		if bad++; bad > 20 {
			t.Fatalf("more than 20 bad records among %d stored", len(recs))
		}
	}
	last := make([]int64, len(runs))
	for i, r := range runs {
		n := int64(len(seen[i]))
		for s := int64(1); s <= n; s++ {
			if !seen[i][s] {
				t.Errorf("agent %s epoch %d: %d records stored but seq %d is missing", r.agentID, r.epoch, n, s)
				break
			}
		}
		if n < r.minSeq {
			t.Errorf("agent %s epoch %d: stored up to seq %d, but seq %d had been acknowledged (lost)", r.agentID, r.epoch, n, r.minSeq)
		}
		last[i] = n
	}
	return last
}

// upDown is the value of a 0/1 gauge as a word, for logs.
func upDown(v float64) string {
	if v == 1 {
		return "up"
	}
	return "down"
}

// alertRules alert on every shell the trace runs and on every process event, each alert
// naming its record's seq (evt.num) so that duplicates show.
const alertRules = `
- rule: Shell spawned
  desc: a shell runs
  condition: evt.type = execve and proc.name in (bash, sh)
  output: "Shell spawned (seq=%evt.num parent=%proc.pname cmdline=%proc.cmdline)"
  priority: warning
  tags: [shell]
- rule: Process event
  desc: a process starts, execs or exits
  condition: sf.type = PE
  output: "Process event (seq=%evt.num proc=%proc.name)"
  priority: informational
  tags: [process]
`

// expectedAlerts returns the alerts the rules raise on trace, as "rule seq" keys, by an
// independent scan of the trace.
func expectedAlerts(trace []*sysflowv1.Record) map[string]bool {
	procs := map[[2]int64]string{}
	want := map[string]bool{}
	for i, r := range trace {
		if p := r.GetProcess(); p != nil {
			procs[[2]int64{p.GetOid().GetCreateTs(), p.GetOid().GetHpid()}] = path.Base(p.GetExe())
		}
		pe := r.GetProcessEvent()
		if pe == nil {
			continue
		}
		want[fmt.Sprintf("Process event %d", i+1)] = true
		if pe.GetOpFlags()&int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC) != 0 {
			if n := procs[[2]int64{pe.GetProcOid().GetCreateTs(), pe.GetProcOid().GetHpid()}]; n == "bash" || n == "sh" {
				want[fmt.Sprintf("Shell spawned %d", i+1)] = true
			}
		}
	}
	return want
}

// faultySidekick is a Falcosidekick stand-in that can be down (not listening), refuse (503),
// be slow (answer only after the poster gave up), or work.
type faultySidekick struct {
	addr string
	url  string
	srv  *http.Server

	mu        sync.Mutex
	mode      string // "refuse", "slow" or "ok" while listening
	slowFor   time.Duration
	accepted  []sidekickAlert
	rejected  []string
	refused   int
	abandoned int
	late      int // slow answers the poster was still waiting for
}

// newFaultySidekick reserves a loopback port and does not listen on it yet: posts are refused
// alertingHub is a hub posting alerts to Falcosidekick, reading one agent.
type alertingHub struct {
	agent, hub *proc
	agentAddr  string
	metrics    *scraper // the hub's
	api        hubv1connect.HubServiceClient
}

// startAlertingHub starts an agent replaying trace (agent name-agent on node name-node) and a
// hub reading it with the rules of rulesText, posting alerts to sk.
func startAlertingHub(t *testing.T, name, trace, rulesText string, sk *faultySidekick) alertingHub {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(rulesText), 0o600); err != nil {
		t.Fatal(err)
	}
	ag := start(t, "agent", "agent", "--listen", "127.0.0.1:0", "--agent-id", name+"-agent", "--node", name+"-node",
		"--replay", filepath.Join(traces, trace), "--metrics-listen", "")
	agentAddr := ag.WaitAddr(t)
	hubAddr := freeAddr(t)
	hub := start(t, "hub", "hub", "--listen", hubAddr, "--agent", agentAddr, "--data", t.TempDir(),
		"--rules", rules, "--sidekick-url", sk.url, "--metrics-listen", "127.0.0.1:0")
	hub.WaitAddr(t)
	return alertingHub{agent: ag, hub: hub, agentAddr: agentAddr, metrics: newScraper(metricsAddr(t, hub), nil), api: hubClient(hubAddr)}
}

// by the kernel until listen.
func newFaultySidekick(t *testing.T) *faultySidekick {
	addr := freeAddr(t)
	s := &faultySidekick{addr: addr, url: "http://" + addr + "/", mode: "refuse"}
	t.Cleanup(func() {
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
	})
	return s
}

// listen starts serving on the reserved port, in mode.
func (s *faultySidekick) listen(t *testing.T, mode string) {
	t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatalf("listen again on the stand-in's port %s (taken meanwhile?): %v", s.addr, err)
	}
	s.mu.Lock()
	s.mode = mode
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *faultySidekick) setMode(mode string, slowFor time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.slowFor = mode, slowFor
}

func (s *faultySidekick) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	mode, slowFor := s.mode, s.slowFor
	if mode == "refuse" {
		s.refused++
		s.mu.Unlock()
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	s.mu.Unlock()
	if mode == "slow" {
		// Falcosidekick takes an alert when it answers: an answer the poster no longer waits
		// for is no delivery, and the poster will send the alert again.
		select {
		case <-time.After(slowFor):
			s.mu.Lock()
			s.late++
			s.mu.Unlock()
		case <-r.Context().Done():
			s.mu.Lock()
			s.abandoned++
			s.mu.Unlock()
			return
		}
	}
	a, problem := checkFalcoPayload(r.Method, body)
	if err != nil {
		problem = fmt.Sprintf("read body: %v", err)
	}
	s.mu.Lock()
	if problem != "" {
		s.rejected = append(s.rejected, fmt.Sprintf("%s in %.300s", problem, body))
	} else {
		s.accepted = append(s.accepted, a)
	}
	s.mu.Unlock()
	if problem != "" {
		http.Error(w, "Please send a valid request body", http.StatusBadRequest)
	}
}

// counts returns the number of alerts taken, of posts refused with 503, and of slow posts the
// poster gave up on.
func (s *faultySidekick) counts() (accepted, refused, abandoned int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted), s.refused, s.abandoned
}

// alertKey names an alert by rule and the seq of the record that raised it.
func alertKey(a sidekickAlert) string {
	return fmt.Sprintf("%s %v", a.Rule, a.OutputFields["evt.num"])
}

// TestFaultSidekickOutage runs a hub whose rules alert on the k8s_small trace while the
// Falcosidekick it posts to is first not listening (connection refused), then answers 503,
// then answers only after the hub's post timeout, then works. While it fails, the hub's
// metrics show failed posts and queued alerts and no alert sent; once it works, every alert the
// hub raised (sysflux_hub_alerts_total), and the independent scan of the trace predicts,
// reaches it exactly once, or is counted in sysflux_hub_alerts_dropped_total; and the hub's
// store holds every record of the trace once, all of them acknowledged while Falcosidekick was
// still down.
func TestFaultSidekickOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test with processes")
	}
	requireMetricsFlag(t)
	const trace = "sfprocessor_k8s_small.sf"
	want := readTraces(t, trace)
	wantAlerts := expectedAlerts(want)
	sk := newFaultySidekick(t)
	ah := startAlertingHub(t, "sk", trace, alertRules, sk)
	ag, hub, agentAddr, hm, c := ah.agent, ah.hub, ah.agentAddr, ah.metrics, ah.api

	// Down: nothing listens. The hub raises every alert of the trace meanwhile and queues them.
	m := hm.waitMetrics(t, "the hub raises every alert while Falcosidekick is down", 30*time.Second, func(m scraped) bool {
		v, _ := m.get("sysflux_hub_alerts_total")
		f, _ := m.get("sysflux_hub_alert_send_failures_total")
		return int(v) == len(wantAlerts) && f > 0
	})
	sent, queued := m.value(t, "sysflux_hub_alerts_sent_total"), m.value(t, "sysflux_hub_alerts_queued")
	t.Logf("down: alerts %v, queued %v, sent %v, send failures %v", m.value(t, "sysflux_hub_alerts_total"),
		queued, sent, m.value(t, "sysflux_hub_alert_send_failures_total"))
	if sent != 0 || queued < 1 {
		t.Errorf("while Falcosidekick is down the hub says %v alerts sent and %v queued, want 0 and at least 1", sent, queued)
	}

	// Alerts wait; records do not: the hub stores and acknowledges them all meanwhile.
	epoch := agentEpoch(t, ag)
	waitStored(t, c, agentAddr, epoch, int64(len(want)), 30*time.Second)

	// Refusing: 503 to every post.
	sk.listen(t, "refuse")
	before := m.value(t, "sysflux_hub_alert_send_failures_total")
	hm.waitMetrics(t, "failed posts counted while Falcosidekick answers 503", 15*time.Second, func(m scraped) bool {
		f, _ := m.get("sysflux_hub_alert_send_failures_total")
		_, refused, _ := sk.counts()
		return f >= before+2 && refused >= 2
	})

	// Slow: answers after 8s, when the hub (5s per post) has given up on the post.
	sk.setMode("slow", 8*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, _, abandoned := sk.counts(); abandoned > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hub never gave up on a slow post within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	m = hm.mustScrape(t)
	t.Logf("slow: queued %v, sent %v, send failures %v", m.value(t, "sysflux_hub_alerts_queued"),
		m.value(t, "sysflux_hub_alerts_sent_total"), m.value(t, "sysflux_hub_alert_send_failures_total"))
	if sent := m.value(t, "sysflux_hub_alerts_sent_total"); sent != 0 {
		t.Errorf("the hub counts %v alerts sent though Falcosidekick took none", sent)
	}

	// Back: every alert arrives, once.
	sk.setMode("ok", 0)
	m = hm.waitMetrics(t, "every alert sent or dropped after Falcosidekick came back", 60*time.Second, func(m scraped) bool {
		a, _ := m.get("sysflux_hub_alerts_total")
		s, _ := m.get("sysflux_hub_alerts_sent_total")
		d, _ := m.get("sysflux_hub_alerts_dropped_total")
		q, _ := m.get("sysflux_hub_alerts_queued")
		return a > 0 && s+d >= a && q == 0
	})
	raised := int(m.value(t, "sysflux_hub_alerts_total"))
	sentN := int(m.value(t, "sysflux_hub_alerts_sent_total"))
	dropped := int(m.value(t, "sysflux_hub_alerts_dropped_total"))
	failures := m.value(t, "sysflux_hub_alert_send_failures_total")
	stored := queryAll(t, c)
	hub.Kill() // nothing posts after this
	accepted, refused, abandoned := sk.counts()
	t.Logf("back: raised %d, sent %d, dropped %d, send failures %v; Falcosidekick took %d, refused %d, timed out %d",
		raised, sentN, dropped, failures, accepted, refused, abandoned)

	sk.mu.Lock()
	got := map[string]int{}
	for _, a := range sk.accepted {
		got[alertKey(a)]++
	}
	rejected := slices.Clone(sk.rejected)
	late := sk.late
	sk.mu.Unlock()
	for _, r := range rejected {
		t.Errorf("Falcosidekick would reject a post (400): %s", r)
	}
	if late > 0 {
		t.Errorf("%d slow answers reached a hub still waiting: the slow phase proves nothing", late)
	}
	if raised != len(wantAlerts) {
		t.Errorf("the hub raised %d alerts, the trace has %d", raised, len(wantAlerts))
	}
	if accepted+dropped != raised || sentN != accepted {
		t.Errorf("Falcosidekick took %d alerts, the hub says %d sent and %d dropped of %d raised", accepted, sentN, dropped, raised)
	}
	if dropped != 0 {
		t.Errorf("the hub dropped %d alerts: its queue (10,000) was not full and no alert waited a minute", dropped)
	}
	for k, n := range got {
		if n > 1 {
			t.Errorf("alert %q reached Falcosidekick %d times", k, n)
		}
		if !wantAlerts[k] {
			t.Errorf("alert %q is none the trace should raise", k)
		}
	}
	missing := 0
	for k := range wantAlerts {
		if got[k] == 0 {
			if missing++; missing <= 10 {
				t.Errorf("alert %q never reached Falcosidekick", k)
			}
		}
	}
	if failures < float64(refused+abandoned) {
		t.Errorf("the hub counts %v failed posts, Falcosidekick refused %d and timed out %d", failures, refused, abandoned)
	}

	// The records were stored once each, alerts or not.
	checkStored(t, stored, epochRun{agentID: "sk-agent", epoch: epoch, trace: want, minSeq: int64(len(want))})
}

// TestFaultAgentRestart restarts an agent replaying k8s_small twice under one agent id and
// address, first with SIGKILL, then with SIGTERM, each time mid-replay; the third run replays
// the whole trace. Each start is a new epoch. The hub's agent_connected metric goes down at
// each stop and up again; the store holds, of each stopped epoch, every record up to at least
// the last seq the agent said was acknowledged before it stopped, once, and of the last epoch
// every record, once.
func TestFaultAgentRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test with processes")
	}
	requireMetricsFlag(t)
	const trace, id = "sfprocessor_k8s_small.sf", "restart-agent"
	want := readTraces(t, trace)
	agentAddr := freeAddr(t)
	startAgent := func(run int) (*proc, *scraper, int64) {
		p := start(t, fmt.Sprintf("agent run %d", run), "agent", "--listen", agentAddr, "--agent-id", id, "--node", "restart-node",
			"--replay", filepath.Join(traces, trace), "--replay-rate", fmt.Sprint(len(want)/4), // about four seconds
			"--metrics-listen", "127.0.0.1:0")
		p.WaitAddr(t)
		return p, newScraper(metricsAddr(t, p), nil), agentEpoch(t, p)
	}
	ag, am, epoch := startAgent(1)
	hubAddr := freeAddr(t)
	hub := start(t, "hub", "hub", "--listen", hubAddr, "--agent", agentAddr, "--data", t.TempDir(),
		"--no-default-rules", "--metrics-listen", "127.0.0.1:0")
	hub.WaitAddr(t)
	hm := newScraper(metricsAddr(t, hub), nil)
	c := hubClient(hubAddr)
	connected := func(m scraped) float64 {
		v, _ := m.get("sysflux_hub_agent_connected", "address", agentAddr, "agent", id)
		return v
	}

	var runs []epochRun
	for i, stop := range []string{"SIGKILL", "SIGTERM"} {
		hm.waitMetrics(t, fmt.Sprintf("run %d: hub connected", i+1), 15*time.Second, func(m scraped) bool { return connected(m) == 1 })
		// Stop the agent a third of the way through the trace, once the hub acknowledged some.
		m := am.waitMetrics(t, fmt.Sprintf("run %d: a third of the trace acknowledged", i+1), 30*time.Second, func(m scraped) bool {
			v, _ := m.get("sysflux_agent_acked_seq")
			return v >= float64(len(want)/3)
		})
		if v := m.value(t, "sysflux_agent_hub_connected"); v != 1 {
			t.Errorf("run %d: the agent says its hub is %s while the hub acknowledges its records", i+1, upDown(v))
		}
		acked := int64(m.value(t, "sysflux_agent_acked_seq"))
		unacked := m.value(t, "sysflux_agent_unacked_records")
		if stop == "SIGKILL" {
			ag.Kill()
		} else if code := ag.Term(t, 10*time.Second); code != 0 {
			t.Errorf("run %d: the agent exited with %d after SIGTERM, want 0", i+1, code)
		} else if strings.Contains(ag.Log(), "stopping with records no hub acknowledged") {
			// A graceful stop waits for the connected hub to take what the window holds.
			t.Errorf("run %d: the agent stopped on SIGTERM before its hub acknowledged every record:\n%s", i+1, ag.Log())
		}
		t.Logf("run %d (epoch %d): %s with seq %d acknowledged and %v not", i+1, epoch, stop, acked, unacked)
		m = hm.waitMetrics(t, fmt.Sprintf("run %d: hub sees the agent down after %s", i+1, stop), 15*time.Second, func(m scraped) bool { return connected(m) == 0 })
		runs = append(runs, epochRun{agentID: id, epoch: epoch, trace: want, minSeq: acked})

		prev := epoch
		ag, am, epoch = startAgent(i + 2)
		if epoch == prev {
			t.Fatalf("run %d: the restarted agent kept epoch %d", i+2, epoch)
		}
	}
	hm.waitMetrics(t, "run 3: hub connected", 15*time.Second, func(m scraped) bool { return connected(m) == 1 })
	waitStored(t, c, agentAddr, epoch, int64(len(want)), 30*time.Second)
	am.waitMetrics(t, "run 3: every record acknowledged", 10*time.Second, func(m scraped) bool {
		u, _ := m.get("sysflux_agent_unacked_records")
		a, _ := m.get("sysflux_agent_acked_seq")
		return u == 0 && a == float64(len(want))
	})
	runs = append(runs, epochRun{agentID: id, epoch: epoch, trace: want, minSeq: int64(len(want))})
	last := checkStored(t, queryAll(t, c), runs...)
	for i, r := range runs {
		t.Logf("epoch %d: %d records stored, at least %d acknowledged before the stop", r.epoch, last[i], r.minSeq)
	}
	if m := hm.mustScrape(t); m.value(t, "sysflux_hub_agent_duplicate_records_total", "address", agentAddr) != 0 {
		t.Errorf("the hub counted duplicates, though each epoch was sent once")
	}
}

// TestFaultHubKillMetrics SIGKILLs a hub twice while an agent replays every fixture trace, and
// starts it again on the same store: while the hub is down the agent's metrics say so
// (sysflux_agent_hub_connected 0) and its unacknowledged records grow; after each restart the
// hub's sysflux_hub_agent_connected is 1 again; at the end the agent's and the hub's view of the
// acknowledgement lag are 0 and the store holds every record once. (TestStoreSurvivesHubKills
// kills more often, without metrics.)
func TestFaultHubKillMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test with processes")
	}
	requireMetricsFlag(t)
	const id = "kill-agent"
	want := readTraces(t, allTraces...)
	args := []string{"agent", "--listen", "127.0.0.1:0", "--agent-id", id, "--node", "kill-node",
		"--replay-rate", fmt.Sprint(len(want) / 6), "--stats-interval", "300ms", "--metrics-listen", "127.0.0.1:0"}
	for _, n := range allTraces {
		args = append(args, "--replay", filepath.Join(traces, n))
	}
	ag := start(t, "agent", args...)
	agentAddr := ag.WaitAddr(t)
	am := newScraper(metricsAddr(t, ag), nil)
	epoch := agentEpoch(t, ag)

	data := t.TempDir()
	hubAddr := freeAddr(t)
	startHub := func(n int) (*proc, *scraper) {
		h := start(t, fmt.Sprintf("hub %d", n), "hub", "--listen", hubAddr, "--agent", agentAddr, "--data", data,
			"--no-default-rules", "--metrics-listen", "127.0.0.1:0")
		h.WaitAddr(t)
		return h, newScraper(metricsAddr(t, h), nil)
	}
	connected := func(m scraped) float64 {
		v, _ := m.get("sysflux_hub_agent_connected", "address", agentAddr, "agent", id)
		return v
	}
	hub, hm := startHub(1)
	for i, frac := range []int{1, 2} {
		hm.waitMetrics(t, fmt.Sprintf("hub %d connected", i+1), 15*time.Second, func(m scraped) bool { return connected(m) == 1 })
		m := am.waitMetrics(t, fmt.Sprintf("%d/3 of the records acknowledged", frac), 30*time.Second, func(m scraped) bool {
			v, _ := m.get("sysflux_agent_acked_seq")
			return v >= float64(len(want)*frac/3)
		})
		hub.Kill()
		acked := m.value(t, "sysflux_agent_acked_seq")
		m = am.waitMetrics(t, "the agent sees its hub gone", 10*time.Second, func(m scraped) bool {
			v, _ := m.get("sysflux_agent_hub_connected")
			return v == 0
		})
		unacked := m.value(t, "sysflux_agent_unacked_records")
		m = am.waitMetrics(t, "unacknowledged records grow while the hub is down", 10*time.Second, func(m scraped) bool {
			v, _ := m.get("sysflux_agent_unacked_records")
			return v > unacked
		})
		t.Logf("hub %d killed with seq %v acknowledged; while down the agent's unacknowledged records went %v -> %v",
			i+1, acked, unacked, m.value(t, "sysflux_agent_unacked_records"))
		if v := m.value(t, "sysflux_agent_acked_seq"); v < acked {
			t.Errorf("the agent's acked seq went back from %v to %v", acked, v)
		}
		hub, hm = startHub(i + 2)
	}
	hm.waitMetrics(t, "hub 3 connected", 15*time.Second, func(m scraped) bool { return connected(m) == 1 })
	c := hubClient(hubAddr)
	waitStored(t, c, agentAddr, epoch, int64(len(want)), 60*time.Second)
	am.waitMetrics(t, "the agent has nothing unacknowledged", 10*time.Second, func(m scraped) bool {
		u, _ := m.get("sysflux_agent_unacked_records")
		c, _ := m.get("sysflux_agent_hub_connected")
		return u == 0 && c == 1
	})
	m := hm.waitMetrics(t, "the hub's view of the agent's lag is 0", 10*time.Second, func(m scraped) bool {
		u, ok := m.get("sysflux_hub_agent_unacked_records", "address", agentAddr)
		return ok && u == 0
	})
	if b := m.value(t, "sysflux_hub_store_bytes"); b <= 0 {
		t.Errorf("sysflux_hub_store_bytes = %v with %d records stored", b, len(want))
	}
	t.Logf("last hub: %v records received, %v duplicates dropped", m.sum("sysflux_hub_records_received_total"),
		m.value(t, "sysflux_hub_agent_duplicate_records_total", "address", agentAddr))
	checkStored(t, queryAll(t, c), epochRun{agentID: id, epoch: epoch, trace: want, minSeq: int64(len(want))})
}

// senderQueue is how many alerts the hub's Falcosidekick sender queues (alert.SenderConfig's
// default; no flag sets it).
const senderQueue = 10_000

// isEvent says whether the hub evaluates rec against the rules: events and flows, not the
// entities they reference.
func isEvent(rec *sysflowv1.Record) bool {
	return rec.GetProcessEvent() != nil || rec.GetFileEvent() != nil || rec.GetNetworkEvent() != nil ||
		rec.GetProcessFlow() != nil || rec.GetFileFlow() != nil || rec.GetNetworkFlow() != nil || rec.GetK8SEvent() != nil
}

// TestFaultSidekickOverflow runs a hub whose rules raise more alerts on the k8s_small trace
// than its Falcosidekick queue holds, while Falcosidekick answers 503, then lets Falcosidekick
// work. While it fails, the queue is full and the alerts it pushed out are counted as dropped;
// afterwards every alert reached Falcosidekick at most once, the hub counts as sent exactly the
// alerts Falcosidekick took, and sent plus dropped is exactly what the hub raised: an alert is
// either delivered or counted as dropped, never both.
func TestFaultSidekickOverflow(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test with processes")
	}
	requireMetricsFlag(t)
	const trace = "sfprocessor_k8s_small.sf"
	want := readTraces(t, trace)
	events := 0
	for _, r := range want {
		if isEvent(r) {
			events++
		}
	}
	// Enough rules that match every event to overflow the queue by about a fifth.
	nRules := senderQueue*6/5/events + 1
	var rulesText strings.Builder
	for i := range nRules {
		fmt.Fprintf(&rulesText, "- rule: Every event %d\n  desc: all\n  condition: evt.num > 0\n  output: \"event (seq=%%evt.num)\"\n  priority: debug\n", i+1)
	}
	raisedWant := nRules * events
	sk := newFaultySidekick(t)
	sk.listen(t, "refuse")
	ah := startAlertingHub(t, "flood", trace, rulesText.String(), sk)
	ag, hub, agentAddr, hm, c := ah.agent, ah.hub, ah.agentAddr, ah.metrics, ah.api

	m := hm.waitMetrics(t, "every alert raised while Falcosidekick answers 503", 60*time.Second, func(m scraped) bool {
		v, _ := m.get("sysflux_hub_alerts_total")
		return int(v) >= raisedWant
	})
	raised := int(m.value(t, "sysflux_hub_alerts_total"))
	queued, dropped := m.value(t, "sysflux_hub_alerts_queued"), m.value(t, "sysflux_hub_alerts_dropped_total")
	t.Logf("down: %d rules × %d events: raised %d, queued %v, dropped %v, sent %v, send failures %v", nRules, events, raised,
		queued, dropped, m.value(t, "sysflux_hub_alerts_sent_total"), m.value(t, "sysflux_hub_alert_send_failures_total"))
	if raised != raisedWant {
		t.Errorf("the hub raised %d alerts, want %d (%d rules × %d events)", raised, raisedWant, nRules, events)
	}
	// The queue holds senderQueue alerts besides the one being retried.
	if queued != senderQueue+1 || int(dropped) != raised-senderQueue-1 {
		t.Errorf("with Falcosidekick down the hub queues %v alerts and dropped %v, want %d (the queue and the alert being retried) and %d",
			queued, dropped, senderQueue+1, raised-senderQueue-1)
	}
	if f := m.value(t, "sysflux_hub_alert_send_failures_total"); f < 1 {
		t.Errorf("no failed post counted while Falcosidekick answers 503")
	}

	sk.setMode("ok", 0)
	m = hm.waitMetrics(t, "the queue drained after Falcosidekick came back", 60*time.Second, func(m scraped) bool {
		s, _ := m.get("sysflux_hub_alerts_sent_total")
		d, _ := m.get("sysflux_hub_alerts_dropped_total")
		q, _ := m.get("sysflux_hub_alerts_queued")
		return q == 0 && int(s+d) >= raised
	})
	time.Sleep(200 * time.Millisecond) // a post in flight when the queue emptied
	m = hm.mustScrape(t)
	sent, dropN := int(m.value(t, "sysflux_hub_alerts_sent_total")), int(m.value(t, "sysflux_hub_alerts_dropped_total"))
	epoch := agentEpoch(t, ag)
	waitStored(t, c, agentAddr, epoch, int64(len(want)), 30*time.Second)
	stored := queryAll(t, c)
	hub.Kill()

	sk.mu.Lock()
	got := map[string]int{}
	for _, a := range sk.accepted {
		got[alertKey(a)]++
	}
	accepted, rejected := len(sk.accepted), slices.Clone(sk.rejected)
	sk.mu.Unlock()
	t.Logf("back: raised %d, sent %d, dropped %d; Falcosidekick took %d", raised, sent, dropN, accepted)
	for _, r := range rejected {
		t.Errorf("Falcosidekick would reject a post (400): %s", r)
	}
	for k, n := range got {
		if n > 1 {
			t.Errorf("alert %q reached Falcosidekick %d times", k, n)
		}
	}
	if sent != accepted {
		t.Errorf("the hub counts %d alerts sent, Falcosidekick took %d", sent, accepted)
	}
	if sent+dropN != raised {
		t.Errorf("sent %d + dropped %d = %d, want the %d alerts raised: an alert counted both sent and dropped, or neither",
			sent, dropN, sent+dropN, raised)
	}
	if accepted+dropN != raised {
		t.Errorf("Falcosidekick took %d alerts and the hub says it dropped %d, of %d raised: alerts_dropped_total does not account for the %d not delivered",
			accepted, dropN, raised, raised-accepted)
	}
	checkStored(t, stored, epochRun{agentID: "flood-agent", epoch: epoch, trace: want, minSeq: int64(len(want))})
}
