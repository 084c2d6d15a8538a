package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/agent/rawcodec"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/gen/sysflux/policy/v1/policyv1connect"
	"github.com/sysflux/sysflux/hub/alert"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/engine"
)

// agentLister reports the agents a hub reads from.
type agentLister interface {
	Status() []*hubv1.AgentStatus
}

// Config configures a Service.
type Config struct {
	// Ring is where subscriptions read records from.
	Ring *ring.Ring
	// Agents reports agent state for ListAgents; nil reports none.
	Agents agentLister
	// Alerts are the alerts of the hub's rules, for subscribers that ask for them; nil serves
	// none.
	Alerts *alert.Broker
	// Policy is the rule set in force, which the policy RPCs read and change; nil serves no
	// policy RPCs.
	Policy *engine.Active
	// Store is where Query, GetProvenance and Export read stored records; nil serves none.
	Store *store.Store
	// ReadBatch is the most records a subscription reads from the ring at a time; zero means
	// 1024.
	ReadBatch int
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger

	// The limits on what clients ask of the service. Zero means the default named; a value out
	// of range means the default too.

	// MaxSubscribers bounds the subscriptions served at once: Subscribe refuses more with
	// RESOURCE_EXHAUSTED. DefaultMaxSubscribers (256).
	MaxSubscribers int
	// MaxFilterBytes bounds the text of a filter (Subscribe, Query, Export):
	// DefaultMaxFilterBytes (64 KiB).
	MaxFilterBytes int
	// MaxFilterCost bounds what evaluating a filter on one record may cost, in CEL's cost units
	// (engine.MaxCost): a filter that might cost more is refused with INVALID_ARGUMENT, by CEL's
	// static estimate with values of up to engine.CostValueBytes; an evaluation of a CEL filter
	// that costs more all the same, on a record with longer values, is stopped and the record
	// does not match (Falco conditions are only estimated: see engine.MaxCost).
	// DefaultMaxFilterCost (250,000, about 1 ms). The rules in force have no such limit: they
	// are the administrators' to choose.
	MaxFilterCost uint64
	// MaxRequestBytes bounds a request message, as received (connect.WithReadMaxBytes):
	// DefaultMaxRequestBytes (4 MiB).
	MaxRequestBytes int
	// MaxResponseBytes bounds a response message (connect.WithSendMaxBytes):
	// DefaultMaxResponseBytes (16 MiB). Query pages end early rather than exceed it; a
	// subscription skips records larger than it, and tells the subscriber so.
	MaxResponseBytes int
	// MaxBatchBytes bounds the records of one message of a subscription, in their protobuf
	// encoding (a larger record goes alone): DefaultMaxBatchBytes (1 MiB), and at most a
	// quarter of MaxResponseBytes, for the JSON encoding. With ReadBatch it bounds what a
	// subscription holds on its own: the records it reads from the ring at a time, and one
	// message.
	MaxBatchBytes int
}

// Service implements HubService.
type Service struct {
	cfg     Config
	log     *slog.Logger
	filters filterCache
	counts  counters
}

// New returns a Service.
func New(cfg Config) *Service {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: log}
}

// Handler returns an HTTP handler serving HubService, PolicyService when Config.Policy is set,
// gRPC health and gRPC reflection over gRPC, gRPC-Web and Connect. Serve it with HTTP/1.1 and
// cleartext HTTP/2 enabled (or TLS). Messages are bounded by Config.MaxRequestBytes and
// Config.MaxResponseBytes; opts come after, and may change that.
func (s *Service) Handler(opts ...connect.HandlerOption) http.Handler {
	limits := []connect.HandlerOption{
		connect.WithReadMaxBytes(s.cfg.MaxRequestBytes),
		connect.WithSendMaxBytes(s.cfg.MaxResponseBytes),
	}
	opts = append(append([]connect.HandlerOption{
		connect.WithCodec(binaryCodec{}),
		connect.WithCodec(jsonCodec{}),
	}, limits...), opts...)
	methods := hubv1.File_sysflux_hub_v1_hub_service_proto.Services().ByName("HubService").Methods()
	mux := http.NewServeMux()
	mux.Handle(hubv1connect.HubServiceSubscribeProcedure, connect.NewServerStreamHandler(
		hubv1connect.HubServiceSubscribeProcedure, s.Subscribe,
		append(opts, connect.WithSchema(methods.ByName("Subscribe")))...))
	mux.Handle(hubv1connect.HubServiceListAgentsProcedure, connect.NewUnaryHandler(
		hubv1connect.HubServiceListAgentsProcedure, s.ListAgents,
		append(opts, connect.WithSchema(methods.ByName("ListAgents")), connect.WithIdempotency(connect.IdempotencyNoSideEffects))...))
	mux.Handle(hubv1connect.HubServiceQueryProcedure, connect.NewUnaryHandler(
		hubv1connect.HubServiceQueryProcedure, s.Query,
		append(opts, connect.WithSchema(methods.ByName("Query")), connect.WithIdempotency(connect.IdempotencyNoSideEffects))...))
	mux.Handle(hubv1connect.HubServiceGetProvenanceProcedure, connect.NewUnaryHandler(
		hubv1connect.HubServiceGetProvenanceProcedure, s.GetProvenance,
		append(opts, connect.WithSchema(methods.ByName("GetProvenance")), connect.WithIdempotency(connect.IdempotencyNoSideEffects))...))
	mux.Handle(hubv1connect.HubServiceExportProcedure, connect.NewServerStreamHandler(
		hubv1connect.HubServiceExportProcedure, s.Export,
		append(opts, connect.WithSchema(methods.ByName("Export")))...))
	services := []string{hubv1connect.HubServiceName}
	if s.cfg.Policy != nil {
		mux.Handle(policyv1connect.NewPolicyServiceHandler(newPolicyService(s.cfg.Policy, s.log.With("service", "policy")), opts...))
		services = append(services, policyv1connect.PolicyServiceName)
	}
	checker := grpchealth.NewStaticChecker(services...)
	mux.Handle(grpchealth.NewHandler(checker, limits...))
	reflector := grpcreflect.NewStaticReflector(append(services, grpchealth.HealthV1ServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, limits...))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, limits...))
	return mux
}

// ListAgents reports the hub's agents.
func (s *Service) ListAgents(_ context.Context, _ *connect.Request[hubv1.ListAgentsRequest]) (*connect.Response[hubv1.ListAgentsResponse], error) {
	resp := &hubv1.ListAgentsResponse{}
	if s.cfg.Agents != nil {
		resp.Agents = s.cfg.Agents.Status()
	}
	return connect.NewResponse(resp), nil
}

// filter is a validated SubscribeRequest.
type filter struct {
	types     [sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT + 1]bool
	anyType   bool
	nodes     map[string]bool
	opFlags   int32
	resume    map[string]ring.Position
	heartbeat time.Duration
	// records is the compiled filter; nil without one.
	records *recordFilter
}

// filterCompiler compiles a request's filter: Service.compileFilter.
type filterCompiler func(text string, lang hubv1.FilterLanguage) (*recordFilter, error)

// newFilter validates a SubscribeRequest; compile compiles its filter.
func newFilter(req *hubv1.SubscribeRequest, compile filterCompiler) (*filter, error) {
	f := &filter{anyType: len(req.GetRecordTypes()) == 0, opFlags: req.GetOpFlags(), heartbeat: 10 * time.Second}
	for _, t := range req.GetRecordTypes() {
		if t <= sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED || t > sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT {
			return nil, fmt.Errorf("record_types: unknown record type %d", t)
		}
		f.types[t] = true
	}
	if len(req.GetNodeIds()) > 0 {
		f.nodes = make(map[string]bool)
		for _, n := range req.GetNodeIds() {
			f.nodes[n] = true
		}
	}
	if len(req.GetResumeAfter()) > 0 {
		f.resume = make(map[string]ring.Position)
		for i, p := range req.GetResumeAfter() {
			if p.GetAgentId() == "" {
				return nil, fmt.Errorf("resume_after[%d]: agent_id is empty", i)
			}
			if _, dup := f.resume[p.GetAgentId()]; dup {
				return nil, fmt.Errorf("resume_after[%d]: agent %q listed twice", i, p.GetAgentId())
			}
			f.resume[p.GetAgentId()] = ring.Position{Epoch: p.GetEpoch(), Seq: p.GetSeq()}
		}
	}
	if d := req.GetHeartbeatInterval(); d != nil {
		if err := d.CheckValid(); err != nil {
			return nil, fmt.Errorf("heartbeat_interval: %w", err)
		}
		if hb := d.AsDuration(); hb != 0 {
			if hb < 100*time.Millisecond || hb > time.Hour {
				return nil, fmt.Errorf("heartbeat_interval: %v is outside 100ms to 1h", hb)
			}
			f.heartbeat = hb
		}
	}
	rf, err := compile(req.GetFilter(), req.GetFilterLanguage())
	if err != nil {
		return nil, err
	}
	f.records = rf
	return f, nil
}

// match reports whether e passes the request's selectors (not its positions).
func (f *filter) match(e *ring.Entry) bool {
	if !f.anyType && !f.types[e.Type] {
		return false
	}
	if f.nodes != nil && !f.nodes[e.NodeID] {
		return false
	}
	return f.opFlags == 0 || e.OpFlags&f.opFlags != 0
}

// Subscribe streams matching records from the ring until the client goes away.
//
// A subscription reads the ring with a cursor of its own, ReadBatch records at a time, and
// waits for nobody but its client: appending to the ring never waits for a reader, and a
// subscription that falls further behind than the ring holds is told how many records it lost,
// in its stream, and goes on from the oldest record the ring holds. What it holds on its own is
// bounded: one read of the ring, and one message of at most MaxBatchBytes of records.
func (s *Service) Subscribe(ctx context.Context, req *connect.Request[hubv1.SubscribeRequest], stream *connect.ServerStream[encodedSubscribeResponse]) error {
	if n := s.counts.subscribers.Add(1); n > int64(s.cfg.MaxSubscribers) {
		s.counts.subscribers.Add(-1)
		s.counts.subscriptionsRefused.Add(1)
		s.log.Debug("subscription refused", "peer", req.Peer().Addr, "max_subscribers", s.cfg.MaxSubscribers)
		return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
			"this hub serves at most %d subscriptions at once, and serves that many: try again later", s.cfg.MaxSubscribers))
	}
	defer s.counts.subscribers.Add(-1)
	f, err := newFilter(req.Msg, s.compileFilter)
	if err != nil {
		return invalidArgument(err)
	}
	r := s.cfg.Ring
	start, end := r.Bounds()
	cursor, liveFrom := end, end
	if req.Msg.GetFromOldest() || f.resume != nil {
		cursor = start
	}
	if req.Msg.GetFromOldest() {
		liveFrom = 0
	}
	// Losses before lostFrom are of records the subscriber did not ask for.
	lostFrom := int64(0)
	if f.records != nil && cursor > start {
		// A filter needs the entities the records it reads reference, which came before: it
		// reads them from the oldest record held on.
		cursor, lostFrom = start, liveFrom
	}
	content := req.Msg.GetContent()
	wantRecords := content != hubv1.SubscribeContent_SUBSCRIBE_CONTENT_ALERTS
	wantAlerts := content == hubv1.SubscribeContent_SUBSCRIBE_CONTENT_ALERTS || content == hubv1.SubscribeContent_SUBSCRIBE_CONTENT_RECORDS_AND_ALERTS
	if wantAlerts && s.cfg.Alerts == nil {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("this hub evaluates no rules, so it has no alerts"))
	}
	var alertCursor int64
	if wantAlerts {
		alertCursor = s.cfg.Alerts.End()
	}
	log := s.log.With("peer", req.Peer().Addr)
	log.Info("subscriber connected", "from", cursor, "resume_agents", len(f.resume), "content", content.String(),
		"filter", abbrev(req.Msg.GetFilter(), 1024), "filter_language", req.Msg.GetFilterLanguage().String())
	sub := &subscription{s: s, stream: stream, log: log}
	defer func() {
		if f.records != nil && f.records.undecodable > 0 {
			log.Warn("records the filter could not decode, and did not send", "records", f.records.undecodable)
		}
		if f.records != nil && f.records.ev.Stopped() > 0 {
			log.Warn("records the filter's cost limit stopped its evaluation on, and did not send", "records", f.records.ev.Stopped())
		}
		log.Info("subscriber gone", "records_sent", sub.sent, "records_lost", sub.lost, "alerts_sent", sub.alertsSent, "alerts_lost", sub.alertsLost)
	}()

	var (
		buf     = make([]ring.Entry, s.cfg.ReadBatch)
		alerts  = make([]alert.Item, 256)
		stopped int64 // the filter's evaluations stopped, as counted in the service's stats
	)
	hb := time.NewTimer(f.heartbeat)
	defer hb.Stop()
	for {
		var alertsChanged <-chan struct{}
		if wantAlerts {
			alertsChanged = s.cfg.Alerts.Changed()
			n, next, lost := s.cfg.Alerts.Read(alertCursor, alerts)
			if lost > 0 {
				if err := sub.alertsLostMessage(lost); err != nil {
					return err
				}
			}
			for i := range alerts[:n] {
				if err := sendMessage(stream, &hubv1.SubscribeResponse{Item: &hubv1.SubscribeResponse_Alert{Alert: alertMessage(&alerts[i])}}); err != nil {
					return err
				}
				alerts[i] = alert.Item{}
				sub.alertsSent++
				s.counts.alertsSent.Add(1)
			}
			alertCursor = next
			if n > 0 {
				hb.Reset(f.heartbeat)
			}
		}
		// A nil channel never fires: alerts-only subscriptions wait on alerts alone.
		var changed <-chan struct{}
		if wantRecords {
			changed = r.Changed()
			n, next, lost := r.Read(cursor, buf)
			if skipped := min(lost, max(lostFrom-cursor, 0)); skipped > 0 {
				lost -= skipped
			}
			if lost > 0 {
				if err := sub.lostMessage(lost, "the subscriber fell further behind than the hub's in-memory log holds"); err != nil {
					return err
				}
			}
			first, sentBefore := next-int64(n), sub.messages
			for i := range buf[:n] {
				e := &buf[i]
				if f.records != nil {
					f.records.observe(e)
				}
				if !f.match(e) {
					continue
				}
				if p, ok := f.resume[e.AgentID]; ok {
					if !(ring.Position{Epoch: e.Epoch, Seq: e.Seq}).After(p) {
						continue
					}
				} else if first+int64(i) < liveFrom {
					continue
				}
				if f.records != nil && !f.records.match(e) {
					continue
				}
				if err := sub.add(e.Type, e.Raw); err != nil {
					return err
				}
			}
			clear(buf[:n]) // let the ring's records go
			cursor = next
			if f.records != nil {
				if d := f.records.ev.Stopped() - stopped; d > 0 {
					s.counts.evaluationsStopped.Add(d)
					stopped += d
				}
			}
			if err := sub.flush(); err != nil {
				return err
			}
			if sub.messages > sentBefore {
				hb.Reset(f.heartbeat)
			}
			if n > 0 {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-alertsChanged:
		case <-hb.C:
			if err := sendHeartbeat(stream); err != nil {
				return err
			}
			hb.Reset(f.heartbeat)
		}
	}
}

// subscription gathers the records a subscription sends into messages of at most
// Config.MaxBatchBytes, and counts what it sends and loses.
type subscription struct {
	s      *Service
	stream *connect.ServerStream[encodedSubscribeResponse]
	log    *slog.Logger

	recs     [][]byte // the records of the next message
	types    []sysflowv1.RecordType
	size     int   // their size in the message
	tooLarge int64 // records skipped since the last sent, for being too large to send
	out      encodedSubscribeResponse
	messages int64 // batches sent
	sent     int64 // records sent
	lost     int64 // records lost

	alertsSent, alertsLost int64
	// loss is what the log has yet to say of the losses; nextLog when it may say it.
	loss    map[string]int64
	nextLog time.Time
}

// lossLogEvery is how often a subscription logs its losses, at most: a slow subscriber loses
// records at every read.
const lossLogEvery = 10 * time.Second

// add adds a record to the next message, sending the message first if the record would make
// it too large. A record too large for any message is skipped, and the subscriber told so
// where it would have been.
func (b *subscription) add(t sysflowv1.RecordType, rec []byte) error {
	if len(rec) > b.s.cfg.maxRecordBytes() {
		b.tooLarge++
		return b.sendRecords()
	}
	if err := b.sendTooLarge(); err != nil {
		return err
	}
	size := protowire.SizeTag(1) + protowire.SizeBytes(len(rec))
	if len(b.recs) > 0 && b.size+size > b.s.cfg.MaxBatchBytes {
		if err := b.sendRecords(); err != nil {
			return err
		}
	}
	b.recs, b.types = append(b.recs, rec), append(b.types, t)
	b.size += size
	return nil
}

// flush sends what add gathered.
func (b *subscription) flush() error {
	if err := b.sendRecords(); err != nil {
		return err
	}
	return b.sendTooLarge()
}

// sendRecords sends the records gathered, if any, in one message.
func (b *subscription) sendRecords() error {
	if len(b.recs) == 0 {
		return nil
	}
	b.out.b = rawcodec.AppendBatch(b.out.b[:0], protowire.Number(1), b.recs)
	if err := b.stream.Send(&b.out); err != nil {
		return err
	}
	n := int64(len(b.recs))
	b.sent += n
	b.messages++
	b.s.counts.recordsSent.Add(n)
	var byType ring.ByType
	for _, t := range b.types {
		byType[t]++
	}
	b.s.counts.sentByType.Add(&byType)
	clear(b.recs) // let the ring's records go
	b.recs, b.types, b.size = b.recs[:0], b.types[:0], 0
	return nil
}

// sendTooLarge tells the subscriber of the records skipped for their size, if any.
func (b *subscription) sendTooLarge() error {
	if b.tooLarge == 0 {
		return nil
	}
	n := b.tooLarge
	b.tooLarge = 0
	return b.lostMessage(n, fmt.Sprintf("records larger than the hub's largest message (%d bytes) were left out", b.s.cfg.MaxResponseBytes))
}

// lostMessage tells the subscriber, after the records gathered, that it lost n records and
// why; and counts them.
func (b *subscription) lostMessage(n int64, reason string) error {
	if err := b.sendRecords(); err != nil {
		return err
	}
	b.lost += n
	b.s.counts.recordsLost.Add(n)
	b.logLoss(reason, n)
	return sendMessage(b.stream, &hubv1.SubscribeResponse{Item: &hubv1.SubscribeResponse_Lost{Lost: &hubv1.RecordsLost{
		LostRecords: n, Reason: reason,
	}}})
}

// alertsLostMessage tells the subscriber it lost n alerts; and counts them.
func (b *subscription) alertsLostMessage(n int64) error {
	const reason = "alerts: the subscriber fell further behind than the hub's alert log holds"
	b.alertsLost += n
	b.s.counts.alertsLost.Add(n)
	b.logLoss(reason, n)
	return sendMessage(b.stream, &hubv1.SubscribeResponse{Item: &hubv1.SubscribeResponse_Lost{Lost: &hubv1.RecordsLost{
		LostRecords: n, Reason: reason,
	}}})
}

// logLoss logs a loss: the first at once, then what was lost since at most every
// lossLogEvery. What is left unsaid when the subscriber goes is in the totals it logs then.
func (b *subscription) logLoss(reason string, n int64) {
	if b.loss == nil {
		b.loss = map[string]int64{}
	}
	b.loss[reason] += n
	now := time.Now()
	if now.Before(b.nextLog) {
		return
	}
	for r, n := range b.loss {
		b.log.Warn("subscriber lost records", "lost", n, "reason", r)
	}
	clear(b.loss)
	b.nextLog = now.Add(lossLogEvery)
}

func sendHeartbeat(stream *connect.ServerStream[encodedSubscribeResponse]) error {
	msg := &hubv1.SubscribeResponse{Item: &hubv1.SubscribeResponse_Heartbeat{Heartbeat: &hubv1.SubscribeHeartbeat{SendTime: timestamppb.Now()}}}
	return sendMessage(stream, msg)
}

// alertMessage converts an alert for the stream.
func alertMessage(it *alert.Item) *hubv1.Alert {
	a := it.Alert
	m := &hubv1.Alert{
		Rule: a.Rule, Priority: a.Priority, Output: a.Output, Time: timestamppb.New(a.Time),
		Source: a.Source, Tags: a.Tags, Hostname: a.Hostname,
		OutputFields: make(map[string]string, len(a.OutputFields)),
		Position:     &sysflowv1.Position{AgentId: it.AgentID, Epoch: it.Epoch, Seq: it.Seq},
	}
	for k, v := range a.OutputFields {
		if v != nil {
			m.OutputFields[k] = fmt.Sprint(v)
		}
	}
	return m
}

// sendMessage sends a response that is not a batch of records.
func sendMessage(stream *connect.ServerStream[encodedSubscribeResponse], msg *hubv1.SubscribeResponse) error {
	b, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	return stream.Send(&encodedSubscribeResponse{b: b})
}
