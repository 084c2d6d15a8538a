package service_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
)

// The slow-subscriber test: records of a real trace are appended to a real hub's ring at a
// fixed high rate, in batches, as the fan-in appends what agents send, for a few seconds. One
// subscriber, over gRPC on 127.0.0.1, reads at full speed; another reads at 1% of the rate.
// The fast one must receive every record in order; the slow one must be told, in its stream,
// exactly how many records it missed, and what it received and was told it lost must add up to
// what was appended. The appender must never wait for a subscriber: it finishes all its
// appends while the slow one is still far behind. Rates are printed, not asserted: the machine
// may be busy.
const (
	slowRate     = 20_000 // records appended per second
	slowBatch    = 100    // records per append
	slowDuration = 4 * time.Second
	slowRing     = 25_000 // records the ring holds: what the fast subscriber may lag by
)

// subscriber reads a subscription and checks that it is in order: every record's seq follows
// the last one's, or the count of records the stream said were lost.
type subscriber struct {
	name string
	// pace, when set, is how long the subscriber takes over each record, until drain is set.
	pace  time.Duration
	drain atomic.Bool

	received, lost atomic.Int64
	lastAt         atomic.Int64 // when the last record came, ns since the Unix epoch
	ended          atomic.Bool  // run returned; err is set
	err            error
}

func (s *subscriber) run(ctx context.Context, c hubv1connect.HubServiceClient, started chan<- struct{}) {
	defer s.ended.Store(true)
	stream, err := c.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{
		FromOldest: true, HeartbeatInterval: durationpb.New(100 * time.Millisecond),
	}))
	close(started) // the hub answered: the subscription reads from the oldest record on
	if err != nil {
		s.err = err
		return
	}
	defer stream.Close()
	next := int64(1)
	for stream.Receive() {
		m := stream.Msg()
		if l := m.GetLost(); l != nil {
			if l.GetLostRecords() <= 0 {
				s.err = fmt.Errorf("%s: told it lost %d records", s.name, l.GetLostRecords())
				return
			}
			s.lost.Add(l.GetLostRecords())
			next += l.GetLostRecords()
			continue
		}
		for _, r := range m.GetBatch().GetRecords() {
			if r.GetSeq() != next {
				s.err = fmt.Errorf("%s: record %d after %d records received and %d said lost, want %d",
					s.name, r.GetSeq(), s.received.Load(), s.lost.Load(), next)
				return
			}
			next++
			s.received.Add(1)
			s.lastAt.Store(time.Now().UnixNano())
			if s.pace > 0 && !s.drain.Load() {
				time.Sleep(s.pace)
			}
		}
	}
	if ctx.Err() == nil {
		s.err = fmt.Errorf("%s: stream ended: %v", s.name, stream.Err())
	}
}

// accounted returns the records the subscriber received or was told it lost.
func (s *subscriber) accounted() int64 { return s.received.Load() + s.lost.Load() }

// ingestRun is what one run of the test measured.
type ingestRun struct {
	ingestRate float64       // records appended per second
	maxAppend  time.Duration // the longest Append
	fastRate   float64       // records per second the fast subscriber received, while they came
	slowBehind int64         // records the slow subscriber had yet to account for when the appends ended
	slow       *subscriber
	stats      service.Stats
}

// runIngest appends entries at slowRate to a new hub's ring, with a fast subscriber and, if
// withSlow, a slow one.
func runIngest(t *testing.T, entries []ring.Entry, withSlow bool) ingestRun {
	t.Helper()
	r := ring.New(ring.Limits{MaxRecords: slowRing})
	s := service.New(service.Config{Ring: r})
	// Without compression, as grpc-go's clients ask by default: what the slow subscriber's
	// transport holds for it (its HTTP/2 window, 4 MiB) is then as few records as they take.
	c := hubv1connect.NewHubServiceClient(h2cClient(), "http://"+serve(t, s.Handler()), connect.WithGRPC(),
		connect.WithAcceptCompression("gzip", nil, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := []*subscriber{{name: "fast"}}
	if withSlow {
		subs = append(subs, &subscriber{name: "slow", pace: time.Second / (slowRate / 100)})
	}
	var wg sync.WaitGroup
	for _, sub := range subs {
		started := make(chan struct{})
		wg.Go(func() { sub.run(ctx, c, started) })
		<-started
	}
	waitStats(t, s, "the subscribers", func(st service.Stats) bool { return st.Subscribers == int64(len(subs)) })

	total := int64(len(entries))
	interval := time.Second * slowBatch / slowRate
	var run ingestRun
	start := time.Now()
	for i := 0; i < len(entries); i += slowBatch {
		if d := time.Until(start.Add(time.Duration(i/slowBatch) * interval)); d > 0 {
			time.Sleep(d)
		}
		t0 := time.Now()
		res := r.Append("bench-agent", entries[i:min(i+slowBatch, len(entries))])
		run.maxAppend = max(run.maxAppend, time.Since(t0))
		if res.Appended != min(slowBatch, len(entries)-i) {
			t.Fatalf("append %d: %+v", i, res)
		}
	}
	elapsed := time.Since(start)
	run.ingestRate = float64(total) / elapsed.Seconds()
	if withSlow {
		run.slow = subs[1]
		run.slowBehind = total - run.slow.accounted()
		run.slow.drain.Store(true)
	}
	// Every subscriber accounts for every record appended.
	deadline := time.Now().Add(30 * time.Second)
	for _, sub := range subs {
		for sub.accounted() < total && !sub.ended.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	for _, sub := range subs {
		if sub.err != nil {
			t.Fatal(sub.err)
		}
		if sub.accounted() != total {
			t.Fatalf("%s subscriber: %d records received and %d said lost, want %d in all", sub.name, sub.received.Load(), sub.lost.Load(), total)
		}
	}
	fast := subs[0]
	if fast.lost.Load() != 0 || fast.received.Load() != total {
		t.Fatalf("fast subscriber: %d records received, %d lost; want all %d received", fast.received.Load(), fast.lost.Load(), total)
	}
	run.fastRate = float64(total) / time.Duration(fast.lastAt.Load()-start.UnixNano()).Seconds()
	run.stats = s.Stats()
	return run
}

func TestSlowSubscriber(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for several seconds")
	}
	entries, _ := benchEntries(t, int(slowRate*slowDuration/time.Second))
	total := int64(len(entries))
	alone := runIngest(t, entries, false)
	with := runIngest(t, entries, true)
	slow := with.slow

	// The slow subscriber fell behind the ring, was told so, and lost no more and no fewer
	// records than it was told: its stream checked each gap, and everything adds up.
	if slow.lost.Load() <= 0 {
		t.Errorf("slow subscriber lost no record: received %d", slow.received.Load())
	}
	if got := slow.received.Load() + slow.lost.Load(); got != total {
		t.Errorf("slow subscriber: %d received + %d lost = %d, want %d appended", slow.received.Load(), slow.lost.Load(), got, total)
	}
	// The appends did not wait for it: they were done while it was far behind.
	if with.slowBehind < slowRing {
		t.Errorf("when the appends ended the slow subscriber had only %d records to go; it kept up, or the appends waited for it", with.slowBehind)
	}
	// The service counted what the subscribers received and lost.
	if st := with.stats; st.RecordsSent != total+slow.received.Load() || st.RecordsLost != slow.lost.Load() {
		t.Errorf("stats %+v, want %d records sent and %d lost", st, total+slow.received.Load(), slow.lost.Load())
	}
	t.Logf("appended %d records in batches of %d at %d records/s into a ring of %d", total, slowBatch, slowRate, slowRing)
	t.Logf("ingestion rate with the slow subscriber / without: %.0f / %.0f = %.3f (longest append %v / %v)",
		with.ingestRate, alone.ingestRate, with.ingestRate/alone.ingestRate, with.maxAppend, alone.maxAppend)
	t.Logf("fast subscriber's rate with the slow subscriber / without: %.0f / %.0f = %.3f",
		with.fastRate, alone.fastRate, with.fastRate/alone.fastRate)
	t.Logf("slow subscriber: received %d, told it lost %d (%d behind when the appends ended)",
		slow.received.Load(), slow.lost.Load(), with.slowBehind)
}
