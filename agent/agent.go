package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/agent/rawcodec"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
)

// Version is the agent's software version, reported to hubs.
const Version = "0.1.0"

// A Source produces records. Run calls emit for each record in order and returns when the source
// is exhausted or ctx ends; an error from emit must be returned.
type Source interface {
	// Name describes the source for logs.
	Name() string
	// Run produces records until the source is exhausted or ctx ends.
	Run(ctx context.Context, emit func(context.Context, *sysflowv1.Record) error) error
}

// Config configures an Agent.
type Config struct {
	// Window bounds and stamps the agent's records.
	Window spool.Config
	// BatchRecords is the largest number of records sent in one message; zero means 512.
	BatchRecords int
	// BatchBytes bounds the encoded records of one message (a batch holds at least one record
	// all the same); zero means MaxSendMessageBytes less 1 MiB for framing.
	BatchBytes int
	// HeartbeatInterval is how long a stream may stay idle before the agent sends a heartbeat;
	// zero means 5 seconds.
	HeartbeatInterval time.Duration
	// StatsInterval is how often the agent sends its counters; zero means 10 seconds.
	StatsInterval time.Duration
	// KernelDrops, DecodeErrors and ObservedSyscalls, when set, give the counts the agent
	// reports in its Stats: records the kernel could not hand over, records the sources could
	// not decode, and system calls the probes accounted for.
	KernelDrops, DecodeErrors, ObservedSyscalls func() int64
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
}

// Agent holds an agent's window and serves it to hubs.
type Agent struct {
	agentv1.UnimplementedAgentServiceServer

	cfg    Config
	window *spool.Window
	edge   *edgePolicy
	log    *slog.Logger

	mu     sync.Mutex
	active context.CancelFunc // cancels the stream currently served, if any
	gen    int                // counts streams, to tell the current one from replaced ones

	sent atomic.Int64 // records sent to hubs
	// produced counts the records put in the window, by type.
	produced [sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT + 1]atomic.Int64
}

// New returns an agent with an empty window.
func New(cfg Config) *Agent {
	if cfg.BatchRecords <= 0 {
		cfg.BatchRecords = 512
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = MaxSendMessageBytes - 1<<20
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 10 * time.Second
	}
	if cfg.Window.Epoch == 0 {
		cfg.Window.Epoch = time.Now().UnixNano()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("agent", cfg.Window.AgentID)
	return &Agent{
		cfg:    cfg,
		window: spool.New(cfg.Window),
		edge:   newEdgePolicy(cfg.Window.NodeID, cfg.Window.AgentID, log.With("component", "edge")),
		log:    log,
	}
}

// Drain waits until a hub has acknowledged every record the window holds, or no hub is
// connected, or ctx ends; it reports whether every record was acknowledged. An agent that
// stops calls it once its sources have stopped and before it stops serving, so that a graceful
// stop loses nothing a connected hub can still take.
func (a *Agent) Drain(ctx context.Context) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if st := a.window.Stats(); st.Acked >= st.Next-1 {
			return true
		}
		a.mu.Lock()
		connected := a.active != nil
		a.mu.Unlock()
		if !connected {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// Window returns the agent's window.
func (a *Agent) Window() *spool.Window { return a.window }

// Run feeds the sources into the window one after the other, then returns. It returns the first
// source error; ctx ending is not an error. Records the hub's drop rules match (see
// agentv1.EdgePolicy) do not enter the window.
func (a *Agent) Run(ctx context.Context, sources ...Source) error {
	for _, src := range sources {
		before := a.window.Stats().Produced
		start := time.Now()
		err := src.Run(ctx, a.emit)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("source %s: %w", src.Name(), err)
		}
		a.log.Info("source done", "source", src.Name(),
			"records", a.window.Stats().Produced-before, "duration", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// emit puts rec in the window unless a drop rule matches it.
func (a *Agent) emit(ctx context.Context, rec *sysflowv1.Record) error {
	if a.edge.drop(rec) {
		return nil
	}
	if err := a.window.Append(ctx, rec); err != nil {
		return err
	}
	a.produced[sfavro.TypeOf(rec)].Add(1)
	return nil
}

// StreamRecords serves one hub stream; see agentv1.AgentServiceServer.
func (a *Agent) StreamRecords(stream agentv1.AgentService_StreamRecordsServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "the first message of a stream must be an Open")
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	gen := a.replaceActive(cancel)
	defer a.clearActive(gen)

	epoch := a.window.Epoch()
	after := int64(0)
	if p := open.GetResumeAfter(); p != nil && p.GetEpoch() == epoch {
		after = p.GetSeq()
	}
	batch := a.cfg.BatchRecords
	if n := int(open.GetMaxBatchRecords()); n > 0 && n < batch {
		batch = n
	}
	st := a.window.Stats()
	missing := a.window.Missing(after)
	log := a.log.With("hub", open.GetHubId())
	log.Info("hub stream opened", "resume_after", after, "oldest", st.Oldest, "next", st.Next, "missing", missing)
	hello := &agentv1.StreamRecordsResponse{Message: &agentv1.StreamRecordsResponse_Hello{Hello: &agentv1.Hello{
		AgentId:        a.window.AgentID(),
		NodeId:         a.window.NodeID(),
		Epoch:          epoch,
		OldestSeq:      st.Oldest,
		NextSeq:        st.Next,
		MissingRecords: missing,
		Version:        Version,
	}}}
	if err := stream.Send(hello); err != nil {
		return err
	}

	// Recv does not watch ctx, only the stream's own context, which ends when this handler
	// returns: so the handler returns when sending ends, and the receiver follows.
	recvDone := make(chan error, 1)
	go func() { recvDone <- a.receive(stream) }() // ends when the handler returns
	sendDone := make(chan error, 1)
	go func() { sendDone <- a.send(ctx, stream, after, batch) }()
	select {
	case err = <-recvDone: // the hub half-closed, or the stream broke
		cancel()
		if serr := <-sendDone; err == nil {
			err = serr
		}
	case err = <-sendDone:
	}
	if err == nil && a.replaced(gen) {
		err = status.Error(codes.Aborted, "stream replaced by a newer Open")
	}
	log.Info("hub stream closed", "err", err)
	return err
}

// receive applies the hub's acknowledgements until the hub half-closes or the stream ends.
func (a *Agent) receive(stream agentv1.AgentService_StreamRecordsServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch m := req.GetMessage().(type) {
		case *agentv1.StreamRecordsRequest_Ack:
			a.window.Ack(m.Ack.GetEpoch(), m.Ack.GetSeq())
		case *agentv1.StreamRecordsRequest_EdgePolicy:
			a.edge.apply(m.EdgePolicy)
		case *agentv1.StreamRecordsRequest_Open:
			return status.Error(codes.InvalidArgument, "Open sent twice on one stream")
		}
	}
}

// fitBytes returns how many of recs, from the first, a message of at most max bytes of
// records holds: at least one.
func fitBytes(recs [][]byte, max int) int {
	total := 0
	for i, r := range recs {
		if total += len(r); total > max && i > 0 {
			return i
		}
	}
	return len(recs)
}

// send sends the records after seq after, then new records as they come, with heartbeats and
// stats (at once when the edge policy changes), until ctx ends.
func (a *Agent) send(ctx context.Context, stream grpc.ServerStream, after int64, batch int) error {
	heartbeat := time.NewTicker(a.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	stats := time.NewTicker(a.cfg.StatsInterval)
	defer stats.Stop()
	var recs [][]byte
	for {
		changed := a.window.Changed()
		edgeChanged := a.edge.Changed()
		var (
			missing, last int64
		)
		recs, last, missing = a.window.Read(after, batch, recs[:0])
		if missing > 0 {
			a.log.Warn("records dropped before the hub took them", "missing", missing)
		}
		// Records are numbered without gaps: the batch's are last-len+1 to last.
		if n := fitBytes(recs, a.cfg.BatchBytes); n < len(recs) {
			last -= int64(len(recs) - n)
			recs = recs[:n]
		}
		after = last
		if len(recs) > 0 {
			// grpc may still hold the previous frame's bytes: each frame has its own buffer.
			if err := stream.SendMsg(rawcodec.BatchFrame(protowire.Number(2), recs)); err != nil {
				return err
			}
			a.sent.Add(int64(len(recs)))
			heartbeat.Reset(a.cfg.HeartbeatInterval)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-heartbeat.C:
			hb := &agentv1.StreamRecordsResponse{Message: &agentv1.StreamRecordsResponse_Heartbeat{
				Heartbeat: &agentv1.Heartbeat{SendTime: timestamppb.Now()}}}
			if err := stream.SendMsg(hb); err != nil {
				return err
			}
		case <-stats.C:
			if err := stream.SendMsg(a.stats()); err != nil {
				return err
			}
		case <-edgeChanged:
			if err := stream.SendMsg(a.stats()); err != nil {
				return err
			}
			stats.Reset(a.cfg.StatsInterval)
		}
	}
}

func (a *Agent) stats() *agentv1.StreamRecordsResponse {
	return &agentv1.StreamRecordsResponse{Message: &agentv1.StreamRecordsResponse_Stats{Stats: a.Stats()}}
}

// Stats returns the agent's counters, as it sends them to hubs.
func (a *Agent) Stats() *agentv1.Stats {
	st := a.window.Stats()
	s := &agentv1.Stats{
		ReadTime:             timestamppb.Now(),
		ProducedRecords:      st.Produced,
		SentRecords:          a.sent.Load(),
		AckedSeq:             st.Acked,
		WindowRecords:        st.Records,
		WindowBytes:          st.Bytes,
		WindowDroppedRecords: st.Dropped,
	}
	if a.cfg.KernelDrops != nil {
		s.KernelDroppedRecords = a.cfg.KernelDrops()
	}
	if a.cfg.DecodeErrors != nil {
		s.DecodeErrors = a.cfg.DecodeErrors()
	}
	if a.cfg.ObservedSyscalls != nil {
		s.ObservedSyscalls = a.cfg.ObservedSyscalls()
	}
	a.edge.fill(s)
	return s
}

// replaceActive makes cancel the current stream's, cancelling the one it replaces.
func (a *Agent) replaceActive(cancel context.CancelFunc) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active != nil {
		a.active()
	}
	a.active = cancel
	a.gen++
	return a.gen
}

func (a *Agent) clearActive(gen int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen == gen {
		a.active = nil
	}
}

func (a *Agent) replaced(gen int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen != gen
}
