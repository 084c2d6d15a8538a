package service_test

import (
	"context"
	"errors"
	"net/http"
	"path"
	"slices"
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
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
)

const k8sTrace = "../../../shared/fixtures/sysflow/traces/sfprocessor_k8s_small.sf"

// The filters of the tests: a Falco condition made of a macro and a list of Falco's default
// rules, and a CEL expression.
const (
	falcoShellExec = "spawned_process and proc.name in (shell_binaries)"
	celEtcFlows    = `sf.type == "FF" && fd.name.startsWith("/etc/")`
)

// gated runs a source once its gate opens.
type gated struct {
	gate <-chan struct{}
	src  agent.Source
}

func (g gated) Name() string { return g.src.Name() }

func (g gated) Run(ctx context.Context, emit func(context.Context, *sysflowv1.Record) error) error {
	select {
	case <-ctx.Done():
		return nil
	case <-g.gate:
	}
	return g.src.Run(ctx, emit)
}

// scan returns the indices of the records of recs, from index from on, that cond matches, as
// the policy engine evaluates it on its own over the records in order, beginning with the first.
func scan(t *testing.T, recs []*sysflowv1.Record, from int, cond string, lang hubv1.FilterLanguage) []int {
	t.Helper()
	var set *engine.Set
	var err error
	if lang == hubv1.FilterLanguage_FILTER_LANGUAGE_CEL {
		set, err = engine.CompileCEL("want", cond)
	} else {
		rule := "- rule: want\n  desc: d\n  output: o\n  priority: debug\n  condition: " + cond + "\n"
		set, err = engine.Load(append(defaults.Files(), engine.File{Name: "want.yaml", Data: []byte(rule)})...)
	}
	if err != nil {
		t.Fatal(err)
	}
	ents := entity.New(0)
	ev := engine.NewEvaluator()
	var out []int
	for i, r := range recs {
		if ents.Put(r) {
			continue
		}
		ev.Eval(set, r, ents, func(m *engine.Rule) {
			if m.Name == "want" && i >= from {
				out = append(out, i)
			}
		})
	}
	return out
}

// handScan returns the indices of recs that the test's filters match, by a predicate written by
// hand over the records.
func handScan(recs []*sysflowv1.Record, from int, cond string) []int {
	procs := map[[2]int64]string{}
	files := map[string]string{}
	var out []int
	for i, r := range recs {
		if p := r.GetProcess(); p != nil {
			procs[[2]int64{p.GetOid().GetCreateTs(), p.GetOid().GetHpid()}] = path.Base(p.GetExe())
		}
		if f := r.GetFile(); f != nil {
			files[string(f.GetOid())] = f.GetPath()
		}
		match := false
		switch cond {
		case falcoShellExec:
			if pe := r.GetProcessEvent(); pe != nil && pe.GetOpFlags()&int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC) != 0 {
				n := procs[[2]int64{pe.GetProcOid().GetCreateTs(), pe.GetProcOid().GetHpid()}]
				match = slices.Contains([]string{"ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"}, n)
			}
		case celEtcFlows:
			if ff := r.GetFileFlow(); ff != nil {
				match = strings.HasPrefix(files[string(ff.GetFileOid())], "/etc/")
			}
		}
		if match && i >= from {
			out = append(out, i)
		}
	}
	return out
}

func isEntity(r *sysflowv1.Record) bool {
	return r.GetProcess() != nil || r.GetFile() != nil || r.GetContainer() != nil || r.GetPod() != nil || r.GetHeader() != nil
}

// collect subscribes with req until the stream has been idle for a heartbeat once total
// records are in the hub, and returns the indices in the trace (seq - 1) of the events and
// flows received and the number of entities received.
func collect(t *testing.T, c hubv1connect.HubServiceClient, req *hubv1.SubscribeRequest, total int64, started chan<- struct{}) (events []int, entities int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req.HeartbeatInterval = durationpb.New(150 * time.Millisecond)
	stream, err := c.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	first, complete := true, false
	for stream.Receive() {
		if first && started != nil {
			close(started)
		}
		first = false
		m := stream.Msg()
		if m.GetLost() != nil {
			t.Fatalf("records lost: %v", m.GetLost())
		}
		if m.GetHeartbeat() != nil {
			// A heartbeat may come while records the filter skips still arrive; the one after the
			// hub had them all comes once the subscription has read them all.
			if complete {
				return events, entities
			}
			complete = done(t, c, total)
			continue
		}
		for _, r := range m.GetBatch().GetRecords() {
			if isEntity(r) {
				entities++
			} else {
				events = append(events, int(r.GetSeq()-1))
			}
		}
	}
	t.Fatalf("stream ended: %v", stream.Err())
	return nil, 0
}

// done reports whether the hub has received total records.
func done(t *testing.T, c hubv1connect.HubServiceClient, total int64) bool {
	resp, err := c.ListAgents(context.Background(), connect.NewRequest(&hubv1.ListAgentsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	a := resp.Msg.GetAgents()
	return len(a) == 1 && a[0].GetLastPosition().GetSeq() == total
}

// Subscriptions with a filter, in Falco's syntax with the hub's macros and lists or in CEL,
// receive exactly the events and flows that an independent scan of the trace finds, and every
// entity; those that start live resolve what they read with the entities sent before.
func TestSubscribeFilter(t *testing.T) {
	recs, err := sfavro.ReadFile(k8sTrace)
	if err != nil {
		t.Fatal(err)
	}
	var entities int
	for _, r := range recs {
		if isEntity(r) {
			entities++
		}
	}
	half := len(recs) / 2
	for _, tt := range []struct {
		name string
		cond string
		lang hubv1.FilterLanguage
		// Whether some matches of the second half of the trace need entities of the first.
		needsFirstHalf bool
	}{
		{"falco", falcoShellExec, hubv1.FilterLanguage_FILTER_LANGUAGE_UNSPECIFIED, false},
		{"cel", celEtcFlows, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := scan(t, recs, 0, tt.cond, tt.lang)
			if hand := handScan(recs, 0, tt.cond); len(want) == 0 || !slices.Equal(want, hand) {
				t.Fatalf("the engine's scan finds %v, the hand-written one %v: want the same, not none", want, hand)
			}
			wantLive := scan(t, recs, half, tt.cond, tt.lang)
			t.Logf("%s matches %d records, %d in the second half of the trace", tt.cond, len(want), len(wantLive))
			if alone := scan(t, recs[half:], 0, tt.cond, tt.lang); tt.needsFirstHalf && len(alone) >= len(wantLive) {
				t.Fatalf("the second half matches %d records with the first's entities, %d without: want more with", len(wantLive), len(alone))
			}

			rules, err := engine.NewActive(defaults.Files()...)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := sfavro.ReadFile(k8sTrace)
			second, _ := sfavro.ReadFile(k8sTrace)
			gate := make(chan struct{})
			a := hubtest.StartAgent(t, agent.Config{Window: spool.Config{AgentID: "a1", NodeID: "n1"}},
				replay.Records{Label: "first half", Records: first[:half]},
				gated{gate: gate, src: replay.Records{Label: "second half", Records: second[half:]}})
			addr, _ := hubtest.StartHub(t, hub.Config{Agents: []string{a.Addr}, Rules: rules})
			c := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+addr)

			// Live, from the second half on.
			deadline := time.Now().Add(20 * time.Second)
			for !done(t, c, int64(half)) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			total := int64(len(recs))
			started := make(chan struct{})
			go func() {
				// The subscription starts at its first heartbeat, and the second half comes then.
				<-started
				close(gate)
			}()
			got, gotEntities := collect(t, c, &hubv1.SubscribeRequest{Filter: tt.cond, FilterLanguage: tt.lang}, total, started)
			if !slices.Equal(got, wantLive) {
				t.Errorf("live: received records %v, want %v", got, wantLive)
			}
			var wantEntities int
			for _, r := range recs[half:] {
				if isEntity(r) {
					wantEntities++
				}
			}
			if gotEntities != wantEntities {
				t.Errorf("live: received %d entities, want every one of the second half, %d", gotEntities, wantEntities)
			}

			// From the oldest.
			got, gotEntities = collect(t, c, &hubv1.SubscribeRequest{Filter: tt.cond, FilterLanguage: tt.lang, FromOldest: true}, total, nil)
			if !slices.Equal(got, want) {
				t.Errorf("from oldest: received records %v, want %v", got, want)
			}
			if gotEntities != entities {
				t.Errorf("from oldest: received %d entities, want %d", gotEntities, entities)
			}
			// Other selectors still apply: without entity types, only the matches.
			got, gotEntities = collect(t, c, &hubv1.SubscribeRequest{Filter: tt.cond, FilterLanguage: tt.lang, FromOldest: true,
				RecordTypes: []sysflowv1.RecordType{sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT, sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW}}, total, nil)
			if !slices.Equal(got, want) || gotEntities != 0 {
				t.Errorf("from oldest, events and flows only: received records %v and %d entities, want %v and none", got, gotEntities, want)
			}
		})
	}
}

// A filter that does not compile is refused with INVALID_ARGUMENT, saying where the problem is.
func TestSubscribeBadFilter(t *testing.T) {
	rules, err := engine.NewActive(defaults.Files()...)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := hubtest.StartHub(t, hub.Config{Rules: rules})
	for _, opts := range [][]connect.ClientOption{nil, {connect.WithGRPC()}} {
		h2c := new(http.Protocols)
		h2c.SetUnencryptedHTTP2(true)
		c := hubv1connect.NewHubServiceClient(&http.Client{Transport: &http.Transport{Protocols: h2c}}, "http://"+addr, opts...)
		for _, tt := range []struct {
			filter    string
			lang      hubv1.FilterLanguage
			line, col int32
			msg       string
		}{
			{"spawned_process and\n  proc.name in (shell_binaries", 0, 2, 31, "filter:2:31: expected"},
			{"spawned_process and not_a_macro", hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO, 1, 21, "filter:1:21: Undefined macro 'not_a_macro'"},
			{`proc.name == "bash" &&`, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, 1, 23, "filter:1:23: Syntax error"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			stream, err := c.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{Filter: tt.filter, FilterLanguage: tt.lang}))
			if err == nil {
				for stream.Receive() {
				}
				err = stream.Err()
				stream.Close()
			}
			cancel()
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInvalidArgument || !strings.Contains(cerr.Message(), tt.msg) {
				t.Errorf("Subscribe(filter %q): %v; want invalid_argument saying %q", tt.filter, err, tt.msg)
				continue
			}
			var found bool
			for _, d := range cerr.Details() {
				v, err := d.Value()
				if re, ok := v.(*policyv1.RulesErrors); ok && err == nil && len(re.GetErrors()) > 0 {
					e := re.GetErrors()[0]
					found = e.GetLine() == tt.line && e.GetColumn() == tt.col
				}
			}
			if !found {
				t.Errorf("Subscribe(filter %q): details %v, want a RulesErrors at %d:%d", tt.filter, cerr.Details(), tt.line, tt.col)
			}
		}
	}
}
