package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
)

// serveService serves a service over real HTTP on 127.0.0.1 and returns it with a client that
// speaks gRPC over cleartext HTTP/2.
func serveService(t *testing.T, cfg service.Config) (*service.Service, hubv1connect.HubServiceClient) {
	t.Helper()
	if cfg.Ring == nil {
		cfg.Ring = ring.New(ring.Limits{})
	}
	s := service.New(cfg)
	addr := serve(t, s.Handler())
	return s, hubv1connect.NewHubServiceClient(h2cClient(), "http://"+addr, connect.WithGRPC())
}

// waitStats waits until cond holds of the service's stats.
func waitStats(t *testing.T, s *service.Service, what string, cond func(service.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: stats %+v", what, s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connectCode returns err's connect code and message, or fails.
func connectCode(t *testing.T, err error) (connect.Code, string) {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v is not a connect error", err)
	}
	return cerr.Code(), cerr.Message()
}

// subscribeErr returns the error a subscription ends with.
func subscribeErr(ctx context.Context, c hubv1connect.HubServiceClient, req *hubv1.SubscribeRequest) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := c.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer stream.Close()
	for stream.Receive() {
	}
	return stream.Err()
}

// Subscriptions beyond MaxSubscribers are refused with RESOURCE_EXHAUSTED, and counted; once
// one ends, another is served.
func TestMaxSubscribers(t *testing.T) {
	s, c := serveService(t, service.Config{MaxSubscribers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Closing a stream waits for its end: cancel first. The hub answers a subscription with its
	// first message: a heartbeat, soon.
	hb := durationpb.New(100 * time.Millisecond)
	subCtx := make([]context.CancelFunc, 2)
	for i := range 2 {
		sctx, scancel := context.WithCancel(ctx)
		subCtx[i] = scancel
		stream, err := c.Subscribe(sctx, connect.NewRequest(&hubv1.SubscribeRequest{HeartbeatInterval: hb}))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { scancel(); stream.Close() }()
	}
	waitStats(t, s, "two subscribers", func(st service.Stats) bool { return st.Subscribers == 2 })
	code, msg := connectCode(t, subscribeErr(ctx, c, &hubv1.SubscribeRequest{}))
	if code != connect.CodeResourceExhausted || !strings.Contains(msg, "at most 2 subscriptions at once") {
		t.Errorf("third subscription: %v %q, want resource_exhausted saying the limit", code, msg)
	}
	if st := s.Stats(); st.SubscriptionsRefused != 1 || st.Subscribers != 2 {
		t.Errorf("stats %+v, want 1 refused, 2 subscribers", st)
	}
	subCtx[0]()
	waitStats(t, s, "one subscriber left", func(st service.Stats) bool { return st.Subscribers == 1 })
	sctx, scancel := context.WithCancel(ctx)
	stream, err := c.Subscribe(sctx, connect.NewRequest(&hubv1.SubscribeRequest{HeartbeatInterval: hb}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { scancel(); stream.Close() }()
	if !stream.Receive() || stream.Msg().GetHeartbeat() == nil {
		t.Fatalf("subscription after one ended: %v, %v; want a heartbeat", stream.Msg(), stream.Err())
	}
}

// A filter that may cost too much is refused with INVALID_ARGUMENT by Subscribe, Query and
// Export alike, and counted.
func TestFilterCostOverAPI(t *testing.T) {
	rules, err := engine.NewActive(defaults.Files()...)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, c := serveService(t, service.Config{Policy: rules, Store: st})
	const (
		falco = `spawned_process and proc.acmdline glob "*--password=*"`
		cel   = "proc.name == \"sh\" &&\n  proc.aname.exists(a, proc.aname.exists(b, a == b))"
	)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		call func(filter string, lang hubv1.FilterLanguage) error
	}{
		{"Subscribe", func(filter string, lang hubv1.FilterLanguage) error {
			return subscribeErr(ctx, c, &hubv1.SubscribeRequest{Filter: filter, FilterLanguage: lang})
		}},
		{"Query", func(filter string, lang hubv1.FilterLanguage) error {
			_, err := c.Query(ctx, connect.NewRequest(&hubv1.QueryRequest{Filter: filter, FilterLanguage: lang}))
			return err
		}},
		{"Export", func(filter string, lang hubv1.FilterLanguage) error {
			stream, err := c.Export(ctx, connect.NewRequest(&hubv1.ExportRequest{Filter: filter, FilterLanguage: lang}))
			if err != nil {
				return err
			}
			defer stream.Close()
			for stream.Receive() {
			}
			return stream.Err()
		}},
	} {
		for _, f := range []struct {
			text      string
			lang      hubv1.FilterLanguage
			line, col int32
		}{
			{falco, hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO, 0, 0},
			{cel, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, 2, 3},
		} {
			err := tt.call(f.text, f.lang)
			code, msg := connectCode(t, err)
			if code != connect.CodeInvalidArgument || !strings.Contains(msg, "too costly") || !strings.Contains(msg, "over the limit of 250,000") {
				t.Errorf("%s(%q): %v %q, want invalid_argument saying the filter is too costly", tt.name, f.text, code, msg)
				continue
			}
			if e := rulesErrorsDetail(t, err).GetErrors()[0]; e.GetLine() != f.line || e.GetColumn() != f.col {
				t.Errorf("%s(%q): error at %d:%d, want %d:%d", tt.name, f.text, e.GetLine(), e.GetColumn(), f.line, f.col)
			}
		}
	}
	if st := s.Stats(); st.FiltersRefused != 6 || st.FiltersOverCost != 6 {
		t.Errorf("stats %+v, want 6 filters refused for their cost", st)
	}
	// A filter that does not parse is refused, and counted, but not for its cost.
	if _, err := c.Query(ctx, connect.NewRequest(&hubv1.QueryRequest{Filter: "proc.name ="})); err == nil {
		t.Error("Query with a filter that does not parse: no error")
	}
	if st := s.Stats(); st.FiltersRefused != 7 || st.FiltersOverCost != 6 {
		t.Errorf("stats %+v, want 7 filters refused, 6 for their cost", st)
	}
}

// Requests larger than MaxRequestBytes are refused with RESOURCE_EXHAUSTED, before any work.
func TestMaxRequestBytes(t *testing.T) {
	s, c := serveService(t, service.Config{MaxRequestBytes: 1 << 10})
	err := subscribeErr(context.Background(), c, &hubv1.SubscribeRequest{Filter: "proc.name = " + strings.Repeat("a", 2<<10)})
	if code, msg := connectCode(t, err); code != connect.CodeResourceExhausted || !strings.Contains(msg, "1024") {
		t.Errorf("Subscribe with a request of 2 KiB: %v %q, want resource_exhausted naming the limit", code, msg)
	}
	if st := s.Stats(); st.FiltersRefused != 0 {
		t.Errorf("stats %+v: the filter was compiled", st)
	}
}

// appendRecords appends records to the ring as agent a1's, from seq from on, and returns their
// encodings.
func appendRecords(t *testing.T, r *ring.Ring, from int64, recs []*sysflowv1.Record) [][]byte {
	t.Helper()
	var entries []ring.Entry
	var raws [][]byte
	for i, rec := range recs {
		rec = proto.CloneOf(rec)
		rec.NodeId, rec.AgentId, rec.Epoch, rec.Seq = "n1", "a1", 1, from+int64(i)
		raw, err := proto.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ring.Scan(raw)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, ring.Entry{NodeID: "n1", AgentID: "a1", Epoch: 1, Seq: rec.Seq, Type: m.Type, OpFlags: m.OpFlags, Raw: raw})
		raws = append(raws, raw)
	}
	if res := r.Append("a1", entries); res.Appended != len(entries) {
		t.Fatalf("appended %d of %d records", res.Appended, len(entries))
	}
	return raws
}

// A subscription sends records in messages of at most MaxBatchBytes, and a record too large
// for the largest message not at all: it says so in its stream, where the record would have
// been, and counts it lost.
func TestSubscribeMessageBytes(t *testing.T) {
	recs, err := sfavro.ReadFile(k8sTrace)
	if err != nil {
		t.Fatal(err)
	}
	big := &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{
		Oid: &sysflowv1.OID{CreateTs: 1, Hpid: 1}, Exe: "/bin/big", ExeArgs: strings.Repeat("x", 80<<10),
	}}}
	recs = append(append(recs[:500:500], big), recs[500:1000]...)
	r := ring.New(ring.Limits{})
	const maxResponse, maxBatch = 64 << 10, 8 << 10
	s, c := serveService(t, service.Config{Ring: r, MaxResponseBytes: maxResponse, MaxBatchBytes: maxBatch})
	raws := appendRecords(t, r, 1, recs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := c.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{FromOldest: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	next, batches := int64(1), 0
	for next <= int64(len(recs)) && stream.Receive() {
		m := stream.Msg()
		if lost := m.GetLost(); lost != nil {
			if next != 501 || lost.GetLostRecords() != 1 || !strings.Contains(lost.GetReason(), "larger than the hub's largest message (65536 bytes)") {
				t.Fatalf("before record %d: %v, want the large record 501 said lost", next, lost)
			}
			next++
			continue
		}
		batches++
		if n := proto.Size(m.GetBatch()); n > maxBatch {
			t.Errorf("batch of %d records of %d bytes, over %d", len(m.GetBatch().GetRecords()), n, maxBatch)
		}
		for _, got := range m.GetBatch().GetRecords() {
			if got.GetSeq() != next {
				t.Fatalf("record %d, want %d", got.GetSeq(), next)
			}
			if !proto.Equal(got, mustDecode(t, raws[next-1])) {
				t.Fatalf("record %d differs from the one appended", next)
			}
			next++
		}
	}
	if next != int64(len(recs))+1 {
		t.Fatalf("stream ended before record %d: %v", next, stream.Err())
	}
	if batches < 10 {
		t.Errorf("%d batches, want many", batches)
	}
	if st := s.Stats(); st.RecordsSent != int64(len(recs)-1) || st.RecordsLost != 1 {
		t.Errorf("stats %+v, want %d records sent and 1 lost", st, len(recs)-1)
	}
}

func mustDecode(t *testing.T, raw []byte) *sysflowv1.Record {
	t.Helper()
	var r sysflowv1.Record
	if err := proto.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// fillStore returns a store holding n records made of copies of a trace.
func fillStore(t *testing.T, n int) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	entries, _ := benchEntries(t, n)
	if _, err := st.Append("bench-agent", entries); err != nil {
		t.Fatal(err)
	}
	return st
}

// Query pages end before the record that would make them larger than MaxResponseBytes, and
// together hold what one page holds.
func TestQueryPageBytes(t *testing.T) {
	const n, maxResponse = 3000, 64 << 10
	st := fillStore(t, n)
	_, small := serveService(t, service.Config{Store: st, MaxResponseBytes: maxResponse})
	_, large := serveService(t, service.Config{Store: st})
	ctx := context.Background()
	one, err := large.Query(ctx, connect.NewRequest(&hubv1.QueryRequest{PageSize: 10000}))
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Msg.GetRecords()) != n || one.Msg.GetNextPageToken() != "" {
		t.Fatalf("one page of %d records, token %q; want %d, none", len(one.Msg.GetRecords()), one.Msg.GetNextPageToken(), n)
	}
	req := &hubv1.QueryRequest{PageSize: 10000}
	var got []*sysflowv1.Record
	pages := 0
	for {
		resp, err := small.Query(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if size := proto.Size(resp.Msg); size > maxResponse {
			t.Fatalf("page %d of %d bytes, over %d", pages, size, maxResponse)
		}
		got = append(got, resp.Msg.GetRecords()...)
		if req.PageToken = resp.Msg.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if pages < 3 || len(got) != n {
		t.Fatalf("%d pages of %d records in all; want several, %d records", pages, len(got), n)
	}
	for i, r := range got {
		if !proto.Equal(r, one.Msg.GetRecords()[i]) {
			t.Fatalf("record %d differs from the one page's", i)
		}
	}
}

// Export sends its files in chunks that fit MaxResponseBytes.
func TestExportChunkBytes(t *testing.T) {
	const n, maxResponse = 3000, 32 << 10
	st := fillStore(t, n)
	_, c := serveService(t, service.Config{Store: st, MaxResponseBytes: maxResponse})
	stream, err := c.Export(context.Background(), connect.NewRequest(&hubv1.ExportRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	dir := t.TempDir()
	files := map[int32]*os.File{}
	chunks := 0
	for stream.Receive() {
		if size := proto.Size(stream.Msg()); size > maxResponse {
			t.Fatalf("message of %d bytes, over %d", size, maxResponse)
		}
		ch := stream.Msg().GetChunk()
		if ch == nil {
			continue
		}
		chunks++
		f := files[ch.GetFileIndex()]
		if f == nil {
			if f, err = os.Create(filepath.Join(dir, ch.GetNodeId()+".sf")); err != nil {
				t.Fatal(err)
			}
			files[ch.GetFileIndex()] = f
		}
		if _, err := f.Write(ch.GetData()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || chunks < 3 {
		t.Fatalf("%d files in %d chunks, want one in several", len(files), chunks)
	}
	for _, f := range files {
		f.Close()
		recs, err := sfavro.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) < n {
			t.Errorf("exported file holds %d records, want %d or more", len(recs), n)
		}
	}
}
