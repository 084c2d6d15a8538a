package fanin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/agent/rawcodec"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// Config configures a Fanin.
type Config struct {
	// Agents are the addresses (host:port) of the agents to read from.
	Agents []string
	// HubID names the hub in the agents' logs.
	HubID string
	// Ring receives the records, for subscribers.
	Ring *ring.Ring
	// Store, when set, keeps the records durably: a batch is acknowledged to its agent only
	// once Store holds it, and agents resume after the position Store holds.
	Store Durable
	// DialOptions are added to every agent connection (transport credentials among them; the
	// default is plaintext).
	DialOptions []grpc.DialOption
	// MinBackoff and MaxBackoff bound the wait between connection attempts; zero means 100ms and
	// 5s.
	MinBackoff, MaxBackoff time.Duration
	// Inspect, when set, sees every batch of records before the ring does, with the agent's
	// Hello; it may mark records Dropped or replace their Raw encoding (to tag them). It runs
	// on the agent's stream goroutine, one batch at a time per agent.
	Inspect func(hello *agentv1.Hello, entries []ring.Entry)
	// EdgePolicy, when set, returns the policy agents are to apply to their records, and a
	// channel closed when it changes (nil if it never does). The fan-in sends it to each agent
	// after the agent's Hello, and again at every change; a nil policy is not sent.
	EdgePolicy func() (*agentv1.EdgePolicy, <-chan struct{})
	// Logger receives the fan-in's logs; nil discards them.
	Logger *slog.Logger
}

// Durable is a store that holds records durably, idempotently by agent position.
type Durable interface {
	// Append stores an agent's records and returns once they are durable. Records at or before
	// the agent's stored position are duplicates and are skipped.
	Append(agentID string, entries []ring.Entry) (ring.AppendResult, error)
	// Last returns the agent's stored position.
	Last(agentID string) (ring.Position, bool)
	// AgentAt and SetAgentAt remember which agent was last seen at an address.
	AgentAt(addr string) string
	SetAgentAt(addr, agentID string) error
}

// Fanin keeps a stream open to every configured agent.
type Fanin struct {
	cfg   Config
	log   *slog.Logger
	conns []*agentConn
	// received counts the records taken in (duplicates included), by type.
	received ring.TypeCounts
	// storeNanos and storeBatches are the time spent making batches durable, and their number.
	storeNanos, storeBatches atomic.Int64
}

// agentConn is the hub's side of one agent.
type agentConn struct {
	addr   string
	client agentv1.AgentServiceClient
	cc     *grpc.ClientConn

	mu          sync.Mutex
	agentID     string
	nodeID      string
	connected   bool
	lastErr     string
	connectTime time.Time
	received    int64
	duplicates  int64
	last        ring.Position
	edge        edgeStats
	// stats is the agent's last Stats; nil before the first.
	stats *agentv1.Stats
}

// edgeStats are what an agent's last Stats said of its edge policy.
type edgeStats struct {
	version, dropped int64
	err              string
}

// New prepares connections to the configured agents; nothing is dialled until Run.
func New(cfg Config) (*Fanin, error) {
	if cfg.Ring == nil {
		return nil, errors.New("fanin: no ring")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fanin{cfg: cfg, log: log}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawcodec.Codec{}), grpc.MaxCallRecvMsgSize(64<<20)),
		// grpc-go waits between connection attempts too, up to 2 minutes by default: an agent
		// that came back after a long absence would wait that long. Its delays follow ours.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: cfg.MinBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: cfg.MaxBackoff},
			MinConnectTimeout: 20 * time.Second,
		}),
	}, cfg.DialOptions...)
	seen := make(map[string]bool)
	for _, addr := range cfg.Agents {
		if seen[addr] {
			return nil, fmt.Errorf("agent %s listed twice", addr)
		}
		seen[addr] = true
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("agent %s: %w", addr, err)
		}
		f.conns = append(f.conns, &agentConn{addr: addr, cc: cc, client: agentv1.NewAgentServiceClient(cc)})
	}
	return f, nil
}

// Close closes the agent connections.
func (f *Fanin) Close() error {
	var errs []error
	for _, c := range f.conns {
		errs = append(errs, c.cc.Close())
	}
	return errors.Join(errs...)
}

// Run reads from every agent until ctx ends.
func (f *Fanin) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, c := range f.conns {
		wg.Go(func() { f.keep(ctx, c) })
	}
	wg.Wait()
	return nil
}

// keep keeps a stream open to one agent until ctx ends.
func (f *Fanin) keep(ctx context.Context, c *agentConn) {
	log := f.log.With("agent_addr", c.addr)
	wait := f.cfg.MinBackoff
	for {
		got, err := f.stream(ctx, c, log)
		if ctx.Err() != nil {
			return
		}
		c.setDown(err)
		if got {
			wait = f.cfg.MinBackoff
		}
		log.Warn("agent stream down", "err", err, "retry_in", wait)
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, f.cfg.MaxBackoff)
	}
}

// stream runs one stream to an agent until it fails. got says whether the agent answered.
func (f *Fanin) stream(ctx context.Context, c *agentConn, log *slog.Logger) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.client.StreamRecords(ctx)
	if err != nil {
		return false, err
	}
	open := &agentv1.Open{HubId: f.cfg.HubID}
	if p, id, ok := f.resumeAt(c); ok {
		open.ResumeAfter = &sysflowv1.Position{AgentId: id, Epoch: p.Epoch, Seq: p.Seq}
	}
	if err := st.Send(&agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_Open{Open: open}}); err != nil {
		return false, recvErr(st, err)
	}
	// Acks are sent from this goroutine, edge policies from another: grpc allows one sender
	// at a time.
	var sendMu sync.Mutex
	send := func(m *agentv1.StreamRecordsRequest) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return st.Send(m)
	}
	pushDone := make(chan struct{})
	close(pushDone) // until the Hello starts the pusher
	defer func() {
		cancel()
		<-pushDone
	}()
	var (
		frame   rawcodec.Frame
		entries []ring.Entry
		hello   *agentv1.Hello
	)
	for {
		frame = rawcodec.Frame{}
		if err := st.RecvMsg(&frame); err != nil {
			if errors.Is(err, io.EOF) {
				return got, errors.New("agent closed the stream")
			}
			return got, err
		}
		num, body, err := topField(frame.B)
		if err != nil {
			return got, fmt.Errorf("agent message: %w", err)
		}
		if hello == nil && num != 1 {
			return got, fmt.Errorf("agent sent message %d before its Hello", num)
		}
		switch num {
		case 1: // Hello
			if hello != nil {
				return got, errors.New("agent sent a second Hello")
			}
			hello = new(agentv1.Hello)
			if err := proto.Unmarshal(body, hello); err != nil {
				return got, fmt.Errorf("agent Hello: %w", err)
			}
			if err := c.setUp(hello); err != nil {
				return got, err
			}
			if f.cfg.Store != nil {
				if err := f.cfg.Store.SetAgentAt(c.addr, hello.GetAgentId()); err != nil {
					log.Warn("cannot remember the agent's id", "err", err)
				}
			}
			got = true
			if f.cfg.EdgePolicy != nil {
				pushDone = make(chan struct{})
				go func() {
					defer close(pushDone)
					f.pushEdgePolicy(ctx, send, log)
				}()
			}
			if hello.GetMissingRecords() > 0 {
				log.Warn("agent no longer holds records the hub never received", "missing", hello.GetMissingRecords())
			}
			log.Info("agent stream up", "agent", hello.GetAgentId(), "node", hello.GetNodeId(),
				"epoch", hello.GetEpoch(), "resume_after", open.GetResumeAfter().GetSeq())
		case 2: // RecordBatch
			entries, err = decodeBatch(body, hello, entries[:0])
			if err != nil {
				return got, err
			}
			if f.cfg.Inspect != nil {
				f.cfg.Inspect(hello, entries)
			}
			f.countReceived(entries)
			res := f.cfg.Ring.Append(hello.GetAgentId(), entries)
			if f.cfg.Store != nil {
				// Acknowledge what the store holds; subscribers have seen what the ring took.
				start := time.Now()
				if res, err = f.cfg.Store.Append(hello.GetAgentId(), entries); err != nil {
					return got, err
				}
				f.storeNanos.Add(int64(time.Since(start)))
				f.storeBatches.Add(1)
			}
			c.addCounts(res)
			ack := &agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_Ack{Ack: &agentv1.Ack{Epoch: res.Last.Epoch, Seq: res.Last.Seq}}}
			if err := send(ack); err != nil {
				return got, recvErr(st, err)
			}
		case 3: // Heartbeat
		case 4: // Stats
			var s agentv1.Stats
			if err := proto.Unmarshal(body, &s); err != nil {
				return got, fmt.Errorf("agent Stats: %w", err)
			}
			if s.GetWindowDroppedRecords() > 0 || s.GetKernelDroppedRecords() > 0 {
				log.Warn("agent reports drops", "window_dropped", s.GetWindowDroppedRecords(), "kernel_dropped", s.GetKernelDroppedRecords())
			}
			c.mu.Lock()
			c.stats = &s
			c.mu.Unlock()
			if c.setEdge(&s) && s.GetEdgePolicyError() != "" {
				log.Warn("agent cannot apply the edge policy; it applies the one before",
					"applied_version", s.GetEdgePolicyVersion(), "err", s.GetEdgePolicyError())
			}
		}
	}
}

// resumeAt returns the position to resume an agent after: the last the store holds, else the
// last the ring holds.
func (f *Fanin) resumeAt(c *agentConn) (ring.Position, string, bool) {
	id := c.id()
	if id == "" && f.cfg.Store != nil {
		id = f.cfg.Store.AgentAt(c.addr)
	}
	if id == "" {
		return ring.Position{}, "", false
	}
	if f.cfg.Store != nil {
		p, ok := f.cfg.Store.Last(id)
		return p, id, ok
	}
	p, ok := f.cfg.Ring.Last(id)
	return p, id, ok
}

// recvErr returns the stream's real error after a failed Send: grpc reports io.EOF from Send
// and the status from the next Recv.
func recvErr(st grpc.ClientStream, err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	var f rawcodec.Frame
	for {
		if err := st.RecvMsg(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("agent closed the stream")
			}
			return err
		}
	}
}

// topField returns the member of a StreamRecordsResponse's oneof and its bytes. Fields this hub
// does not know are skipped, as protobuf skips them.
func topField(b []byte) (protowire.Number, []byte, error) {
	var (
		num  protowire.Number
		body []byte
	)
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return 0, nil, protowire.ParseError(l)
		}
		b = b[l:]
		if typ != protowire.BytesType || n < 1 || n > 4 { // not a member this hub knows
			l = protowire.ConsumeFieldValue(n, typ, b)
			if l < 0 {
				return 0, nil, protowire.ParseError(l)
			}
			b = b[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return 0, nil, protowire.ParseError(l)
		}
		num, body = n, v // the last member set wins, as in proto3
		b = b[l:]
	}
	if num == 0 {
		return 0, nil, errors.New("empty message")
	}
	return num, body, nil
}

// decodeBatch appends the records of an encoded RecordBatch to dst. Every record must come from
// the agent that said hello, in its epoch.
func decodeBatch(b []byte, hello *agentv1.Hello, dst []ring.Entry) ([]ring.Entry, error) {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return dst, fmt.Errorf("record batch: %w", protowire.ParseError(l))
		}
		b = b[l:]
		if n != 1 || typ != protowire.BytesType {
			l = protowire.ConsumeFieldValue(n, typ, b)
			if l < 0 {
				return dst, fmt.Errorf("record batch: %w", protowire.ParseError(l))
			}
			b = b[l:]
			continue
		}
		raw, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return dst, fmt.Errorf("record batch: %w", protowire.ParseError(l))
		}
		b = b[l:]
		m, err := ring.Scan(raw)
		if err != nil {
			return dst, err
		}
		if string(m.AgentID) != hello.GetAgentId() || m.Epoch != hello.GetEpoch() {
			return dst, fmt.Errorf("record %s/%d/%d does not belong to agent %s epoch %d",
				m.AgentID, m.Epoch, m.Seq, hello.GetAgentId(), hello.GetEpoch())
		}
		node := hello.GetNodeId()
		if string(m.NodeID) != node {
			node = string(m.NodeID)
		}
		dst = append(dst, ring.Entry{
			NodeID: node, AgentID: hello.GetAgentId(),
			Epoch: m.Epoch, Seq: m.Seq, Type: m.Type, OpFlags: m.OpFlags, Raw: raw,
		})
	}
	return dst, nil
}

func (c *agentConn) id() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agentID
}

func (c *agentConn) setUp(h *agentv1.Hello) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.GetAgentId() == "" {
		return errors.New("agent sent no agent id")
	}
	c.agentID, c.nodeID = h.GetAgentId(), h.GetNodeId()
	c.connected, c.lastErr, c.connectTime = true, "", time.Now()
	return nil
}

func (c *agentConn) setDown(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected = false
	if err != nil {
		c.lastErr = err.Error()
	}
}

// setEdge keeps what s says of the agent's edge policy, and reports whether its error changed.
func (c *agentConn) setEdge(s *agentv1.Stats) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.edge.err != s.GetEdgePolicyError()
	c.edge = edgeStats{version: s.GetEdgePolicyVersion(), dropped: s.GetEdgeDroppedRecords(), err: s.GetEdgePolicyError()}
	return changed
}

func (c *agentConn) addCounts(r ring.AppendResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received += int64(r.Appended)
	c.duplicates += int64(r.Duplicates)
	c.last = r.Last
}

// countReceived counts a batch's records by type.
func (f *Fanin) countReceived(entries []ring.Entry) {
	var n ring.ByType
	for i := range entries {
		n[entries[i].Type]++
	}
	f.received.Add(&n)
}

// Counters are the fan-in's counts since it started.
type Counters struct {
	// Received counts the records taken in from agents, duplicates included, by type.
	Received ring.ByType
	// StoreBatches is the number of batches made durable before they were acknowledged, and
	// StoreTime the time that took.
	StoreBatches int64
	StoreTime    time.Duration
}

// Counters returns the fan-in's counts.
func (f *Fanin) Counters() Counters {
	c := Counters{Received: f.received.Load()}
	c.StoreBatches, c.StoreTime = f.storeBatches.Load(), time.Duration(f.storeNanos.Load())
	return c
}

// AgentStats returns the last Stats of each agent that sent one, by address.
func (f *Fanin) AgentStats() map[string]*agentv1.Stats {
	out := make(map[string]*agentv1.Stats)
	for _, c := range f.conns {
		c.mu.Lock()
		if c.stats != nil {
			out[c.addr] = c.stats
		}
		c.mu.Unlock()
	}
	return out
}

// Status reports every agent's state.
func (f *Fanin) Status() []*hubv1.AgentStatus {
	out := make([]*hubv1.AgentStatus, 0, len(f.conns))
	for _, c := range f.conns {
		c.mu.Lock()
		s := &hubv1.AgentStatus{
			Address:            c.addr,
			AgentId:            c.agentID,
			NodeId:             c.nodeID,
			Connected:          c.connected,
			ReceivedRecords:    c.received,
			DuplicateRecords:   c.duplicates,
			LastError:          c.lastErr,
			EdgePolicyVersion:  c.edge.version,
			EdgeDroppedRecords: c.edge.dropped,
			EdgePolicyError:    c.edge.err,
		}
		if c.agentID != "" && c.last != (ring.Position{}) {
			s.LastPosition = &sysflowv1.Position{AgentId: c.agentID, Epoch: c.last.Epoch, Seq: c.last.Seq}
		}
		if f.cfg.Store != nil && s.LastPosition == nil {
			// Before the agent's first batch since the hub started: what the store holds.
			if id := cmp.Or(c.agentID, f.cfg.Store.AgentAt(c.addr)); id != "" {
				if p, ok := f.cfg.Store.Last(id); ok {
					s.AgentId = id
					s.LastPosition = &sysflowv1.Position{AgentId: id, Epoch: p.Epoch, Seq: p.Seq}
				}
			}
		}
		if !c.connectTime.IsZero() {
			s.ConnectTime = timestamppb.New(c.connectTime)
		}
		c.mu.Unlock()
		out = append(out, s)
	}
	return out
}
