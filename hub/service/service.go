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
	// ReadBatch is the most records read from the ring at a time; zero means 1024.
	ReadBatch int
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

// Service implements HubService.
type Service struct {
	cfg     Config
	log     *slog.Logger
	filters filterCache
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.ReadBatch <= 0 {
		cfg.ReadBatch = 1024
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: log}
}

// Handler returns an HTTP handler serving HubService, PolicyService when Config.Policy is set,
// gRPC health and gRPC reflection over gRPC, gRPC-Web and Connect. Serve it with HTTP/1.1 and cleartext HTTP/2 enabled (or TLS).
func (s *Service) Handler(opts ...connect.HandlerOption) http.Handler {
	opts = append([]connect.HandlerOption{
		connect.WithCodec(binaryCodec{}),
		connect.WithCodec(jsonCodec{}),
	}, opts...)
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
	mux.Handle(grpchealth.NewHandler(checker))
	reflector := grpcreflect.NewStaticReflector(append(services, grpchealth.HealthV1ServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
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

// newFilter validates a SubscribeRequest; files are the rules files in force, whose macros and
// lists the request's filter may use.
func newFilter(req *hubv1.SubscribeRequest, files []engine.File) (*filter, error) {
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
	rf, err := compileFilter(req.GetFilter(), req.GetFilterLanguage(), files)
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
func (s *Service) Subscribe(ctx context.Context, req *connect.Request[hubv1.SubscribeRequest], stream *connect.ServerStream[encodedSubscribeResponse]) error {
	var files []engine.File
	if s.cfg.Policy != nil {
		files = s.cfg.Policy.Files()
	}
	f, err := newFilter(req.Msg, files)
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
		"filter", req.Msg.GetFilter(), "filter_language", req.Msg.GetFilterLanguage().String())
	defer func() {
		if f.records != nil && f.records.undecodable > 0 {
			log.Warn("records the filter could not decode, and did not send", "records", f.records.undecodable)
		}
		log.Info("subscriber gone")
	}()

	var (
		buf    = make([]ring.Entry, s.cfg.ReadBatch)
		alerts = make([]alert.Item, 256)
		recs   [][]byte
		out    encodedSubscribeResponse
	)
	hb := time.NewTimer(f.heartbeat)
	defer hb.Stop()
	for {
		var alertsChanged <-chan struct{}
		if wantAlerts {
			alertsChanged = s.cfg.Alerts.Changed()
			n, next, lost := s.cfg.Alerts.Read(alertCursor, alerts)
			if lost > 0 {
				log.Warn("subscriber fell behind the alerts", "lost", lost)
				msg := &hubv1.SubscribeResponse{Item: &hubv1.SubscribeResponse_Lost{Lost: &hubv1.RecordsLost{
					LostRecords: lost,
					Reason:      "alerts: the subscriber fell further behind than the hub's alert log holds",
				}}}
				if err := sendMessage(stream, msg); err != nil {
					return err
				}
			}
			for i := range alerts[:n] {
				if err := sendMessage(stream, &hubv1.SubscribeResponse{Item: &hubv1.SubscribeResponse_Alert{Alert: alertMessage(&alerts[i])}}); err != nil {
					return err
				}
				alerts[i] = alert.Item{}
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
				log.Warn("subscriber fell behind the ring", "lost", lost)
				msg := &hubv1.SubscribeResponse{Item: &hubv1.SubscribeResponse_Lost{Lost: &hubv1.RecordsLost{
					LostRecords: lost,
					Reason:      "the subscriber fell further behind than the hub's in-memory log holds",
				}}}
				if err := sendMessage(stream, msg); err != nil {
					return err
				}
			}
			first := next - int64(n)
			recs = recs[:0]
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
				recs = append(recs, e.Raw)
			}
			clear(buf[:n]) // let the ring's records go
			cursor = next
			if len(recs) > 0 {
				out.b = rawcodec.AppendBatch(out.b[:0], protowire.Number(1), recs)
				if err := stream.Send(&out); err != nil {
					return err
				}
				hb.Reset(f.heartbeat)
				continue
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
