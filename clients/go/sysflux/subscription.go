package sysflux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

// defaultHeartbeatInterval is the hub's heartbeat interval when the request leaves it zero.
const defaultHeartbeatInterval = 10 * time.Second

// idleHeartbeats is how many heartbeat intervals a stream may stay silent before the client
// considers it dead.
const idleHeartbeats = 3

// errIdle marks a stream the client gave up on because nothing arrived for too long.
var errIdle = errors.New("stream idle")

// Subscription is a reconnecting stream of the records a hub serves for one SubscribeRequest.
// Read it like bufio.Scanner:
//
//	for sub.Next() {
//		use(sub.Record())
//	}
//	err := sub.Err()
//
// Next, Record and Err must be called from one goroutine. Close, Lost, Duplicates, Positions and
// Reconnects may be called from any goroutine.
type Subscription struct {
	c   *Client
	req *hubv1.SubscribeRequest // the caller's request without resume_after
	// ctx is the subscription's lifetime: the caller's context, also ended by Close. Next has no
	// context parameter, so the subscription keeps the one Subscribe was given, as grpc-go's
	// streams keep theirs.
	ctx    context.Context
	cancel context.CancelFunc
	idle   time.Duration
	pos    *positions
	// started is when Subscribe was called, for the client's connect timeout.
	started time.Time
	bo      *backoff.ExponentialBackOff

	stream       grpc.ClientStream // nil between streams
	streamCtx    context.Context
	streamCancel context.CancelCauseFunc
	watchdog     *time.Timer // ends the stream after idle without a message
	opened       bool        // whether a stream was ever opened
	failures     int         // failed attempts since the last message; >0 means wait first
	lastErr      error       // the error of the last failed attempt, nil after a message

	batch  []*sysflowv1.Record // received, not yet delivered
	alerts []*hubv1.Alert      // received, not yet delivered
	rec    *sysflowv1.Record
	alert  *hubv1.Alert
	err    error
	done   bool

	closed     atomic.Bool
	lost       atomic.Int64
	duplicates atomic.Int64
	reconnects atomic.Int64
	heartbeats atomic.Int64
}

// Subscribe returns a subscription to the records that match req. It does not block: the
// stream is opened by the first call to Next.
//
// The subscription remembers, for each agent, the position of the last record Next delivered,
// starting from req.resume_after. When the stream fails with a retryable error (Unavailable,
// Internal, Unknown, ResourceExhausted, Aborted, Canceled or DeadlineExceeded not caused by ctx,
// the hub ending the stream, or no message for three heartbeat intervals) it waits with
// exponential backoff and subscribes again with the same request, resume_after set to those
// positions. Any other error, or the end of ctx, ends the subscription, as does failing to open
// a first stream within the client's connect timeout (see WithConnectTimeout).
//
// Subscribe does not modify req. The subscription ends when ctx ends or Close is called.
func (c *Client) Subscribe(ctx context.Context, req *hubv1.SubscribeRequest) *Subscription {
	if req == nil {
		req = &hubv1.SubscribeRequest{}
	} else {
		req = proto.CloneOf(req)
	}
	pos := newPositions()
	pos.merge(req.GetResumeAfter())
	req.ResumeAfter = nil

	hb := req.GetHeartbeatInterval().AsDuration()
	if hb <= 0 {
		hb = defaultHeartbeatInterval
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Subscription{
		c:       c,
		req:     req,
		ctx:     ctx,
		cancel:  cancel,
		idle:    idleHeartbeats * hb,
		pos:     pos,
		started: time.Now(),
		bo: &backoff.ExponentialBackOff{
			InitialInterval:     c.backoffMin,
			RandomizationFactor: 0.5,
			Multiplier:          2,
			MaxInterval:         c.backoffMax,
		},
	}
}

// All returns the records that match req as an iterator. Each iteration subscribes anew (see
// Subscribe) and runs until the loop stops, ctx ends, or the subscription fails; an error is
// yielded once, with a nil record, as the last pair, and includes ctx's error when ctx ended.
func (c *Client) All(ctx context.Context, req *hubv1.SubscribeRequest) iter.Seq2[*sysflowv1.Record, error] {
	return func(yield func(*sysflowv1.Record, error) bool) {
		sub := c.Subscribe(ctx, req)
		defer sub.Close()
		for sub.Next() {
			if !yield(sub.Record(), nil) {
				return
			}
		}
		if err := sub.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// Next advances to the next record, which Record then returns. It blocks until a record
// arrives, reconnecting as needed, and returns false when the subscription has ended; Err then
// says why.
//
// A subscription with content ALERTS or RECORDS_AND_ALERTS also advances to alerts, which Alert
// returns (Record is then nil). Alerts are live: a reconnected subscription gets the alerts
// raised from then on.
func (s *Subscription) Next() bool {
	s.rec, s.alert = nil, nil
	if s.done {
		return false
	}
	for {
		if s.ctx.Err() != nil {
			return s.finish(nil)
		}
		if len(s.alerts) > 0 {
			s.alert, s.alerts[0] = s.alerts[0], nil
			s.alerts = s.alerts[1:]
			return true
		}
		if r := s.nextBuffered(); r != nil {
			s.rec = r
			return true
		}
		if s.stream == nil {
			if err := s.open(); err != nil {
				if !s.retry(err) {
					return false
				}
				continue
			}
		}
		resp, err := s.recv()
		if err != nil {
			s.closeStream()
			if !s.retry(err) {
				return false
			}
			continue
		}
		s.handle(resp)
	}
}

// Record returns the record Next advanced to, or nil after Next returned false or advanced to
// an alert. The caller owns the record.
func (s *Subscription) Record() *sysflowv1.Record { return s.rec }

// Alert returns the alert Next advanced to, or nil when it advanced to a record.
func (s *Subscription) Alert() *hubv1.Alert { return s.alert }

// Err returns the error that ended the subscription: the hub's error (with its gRPC status) or
// ctx's error, wrapped with the hub's address; ctx's error also names the last failure when the
// subscription was reconnecting. It is nil while the subscription runs and after Close.
func (s *Subscription) Err() error { return s.err }

// Close ends the subscription and releases its stream. A Next blocked in another goroutine
// returns false. Close always returns nil.
func (s *Subscription) Close() error {
	s.closed.Store(true)
	s.cancel()
	return nil
}

// Lost returns the number of records the hub reported it could not deliver (the sum of the
// RecordsLost messages received).
func (s *Subscription) Lost() int64 { return s.lost.Load() }

// Duplicates returns the number of records received but dropped because they were not after
// the position already delivered for their agent.
func (s *Subscription) Duplicates() int64 { return s.duplicates.Load() }

// Heartbeats returns the number of heartbeats received: the hub sends one whenever it sent
// nothing else for the request's heartbeat interval. A heartbeat received after a record shows
// that the hub had no other record for the subscription at that moment.
func (s *Subscription) Heartbeats() int64 { return s.heartbeats.Load() }

// Reconnects returns the number of times the subscription opened a new stream after a failed
// one.
func (s *Subscription) Reconnects() int { return int(s.reconnects.Load()) }

// Positions returns, sorted by agent id, the position of the last record delivered for each
// agent, including the positions of the request's resume_after not yet passed. Passing them as
// resume_after of a new subscription continues where this one stopped.
func (s *Subscription) Positions() []*sysflowv1.Position { return s.pos.list() }

// nextBuffered returns the next received record that comes after its agent's position, and
// advances that position. It drops and counts records that do not.
func (s *Subscription) nextBuffered() *sysflowv1.Record {
	for len(s.batch) > 0 {
		r := s.batch[0]
		s.batch[0] = nil
		s.batch = s.batch[1:]
		if r == nil {
			continue
		}
		if s.pos.advance(r) {
			return r
		}
		s.duplicates.Add(1)
		s.c.log.Debug("dropped duplicate record", "agent", r.GetAgentId(), "epoch", r.GetEpoch(), "seq", r.GetSeq())
	}
	s.batch = nil
	return nil
}

// open waits out the backoff after a failure, then opens a stream that resumes after the
// delivered positions.
func (s *Subscription) open() error {
	if s.failures > 0 {
		d := min(max(s.bo.NextBackOff(), s.c.backoffMin), s.c.backoffMax)
		s.c.log.Info("reconnecting subscription", "delay", d, "attempt", s.failures)
		t := time.NewTimer(d)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return s.ctx.Err()
		case <-t.C:
		}
	}
	req := proto.CloneOf(s.req)
	req.ResumeAfter = s.pos.list()

	ctx, cancel := context.WithCancelCause(s.ctx)
	stream, err := s.c.conn.NewStream(ctx, &hubv1.HubService_ServiceDesc.Streams[0],
		hubv1.HubService_Subscribe_FullMethodName, grpc.StaticMethod())
	if err == nil {
		// io.EOF means the hub already ended the stream; the next receive returns its status.
		if err = stream.SendMsg(req); errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err == nil {
		err = stream.CloseSend()
	}
	if err != nil {
		cancel(nil)
		return err
	}

	s.stream, s.streamCtx, s.streamCancel = stream, ctx, cancel
	s.watchdog = time.AfterFunc(s.idle, func() { cancel(errIdle) })
	watchdog := s.watchdog
	context.AfterFunc(ctx, func() { watchdog.Stop() })
	if s.opened {
		s.reconnects.Add(1)
		s.c.log.Info("resubscribed", "agents", len(req.ResumeAfter))
	}
	s.opened = true
	return nil
}

// recv receives the next message of the current stream.
func (s *Subscription) recv() (*hubv1.SubscribeResponse, error) {
	resp := new(hubv1.SubscribeResponse)
	err := s.stream.RecvMsg(resp)
	if err != nil {
		if errors.Is(context.Cause(s.streamCtx), errIdle) && s.ctx.Err() == nil {
			return nil, fmt.Errorf("no message for %v: %w", s.idle, errIdle)
		}
		return nil, err
	}
	s.watchdog.Reset(s.idle)
	s.failures = 0
	s.lastErr = nil
	s.bo.Reset()
	return resp, nil
}

// handle takes in one message of the stream.
func (s *Subscription) handle(resp *hubv1.SubscribeResponse) {
	switch item := resp.GetItem().(type) {
	case *hubv1.SubscribeResponse_Batch:
		s.batch = item.Batch.GetRecords()
	case *hubv1.SubscribeResponse_Heartbeat:
		// recv reset the watchdog.
		s.heartbeats.Add(1)
	case *hubv1.SubscribeResponse_Alert:
		s.alerts = append(s.alerts, item.Alert)
	case *hubv1.SubscribeResponse_Lost:
		n := item.Lost.GetLostRecords()
		s.lost.Add(n)
		s.c.log.Warn("hub lost records", "records", n, "reason", item.Lost.GetReason())
	default:
		s.c.log.Debug("ignored unknown subscription item", "item", fmt.Sprintf("%T", item))
	}
}

// closeStream releases the current stream, if any.
func (s *Subscription) closeStream() {
	if s.stream == nil {
		return
	}
	s.streamCancel(nil)
	s.stream, s.streamCtx, s.streamCancel, s.watchdog = nil, nil, nil, nil
}

// retry decides after err whether to reconnect. When not, it ends the subscription and reports
// false.
func (s *Subscription) retry(err error) bool {
	if s.ctx.Err() != nil {
		return s.finish(nil)
	}
	if s.c.closed.Load() {
		return s.finish(fmt.Errorf("client closed: %w", s.c.wrap("subscribe to", err)))
	}
	if !retryable(err) {
		return s.finish(s.c.wrap("subscribe to", err))
	}
	if !s.opened && s.c.connectTimeout > 0 && time.Since(s.started) >= s.c.connectTimeout {
		return s.finish(fmt.Errorf("no stream opened in %v: %w", s.c.connectTimeout, s.c.wrap("subscribe to", err)))
	}
	s.failures++
	s.lastErr = err
	s.c.log.Info("subscription interrupted", "err", err, "attempt", s.failures)
	return true
}

// finish ends the subscription with err, or, when err is nil, with ctx's error unless Close
// ended it. It reports false, for Next to return.
func (s *Subscription) finish(err error) bool {
	s.closeStream()
	if err == nil && !s.closed.Load() {
		if ctxErr := s.ctx.Err(); ctxErr != nil && s.lastErr != nil {
			err = fmt.Errorf("subscribe to %s: %w (last error: %v)", s.c.addr, ctxErr, s.c.wrap("subscribe to", s.lastErr))
		} else if ctxErr != nil {
			err = fmt.Errorf("subscribe to %s: %w", s.c.addr, ctxErr)
		}
	}
	s.err = err
	s.done = true
	s.batch = nil
	s.cancel()
	return false
}

// retryable reports whether a subscription that failed with err, while its context is still
// live, should subscribe again.
func retryable(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, errIdle) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Unknown, codes.ResourceExhausted,
		codes.Aborted, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}
