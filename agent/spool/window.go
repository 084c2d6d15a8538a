package spool

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Overflow says what Append does when the window is full of unacknowledged records.
type Overflow int

const (
	// Block waits until a hub acknowledges records or the context ends.
	Block Overflow = iota
	// DropOldest drops the oldest unacknowledged record and counts it.
	DropOldest
)

// Config configures a Window.
type Config struct {
	// NodeID and AgentID are stamped on every record.
	NodeID, AgentID string
	// Epoch is stamped on every record; sequence numbers start at 1 within it.
	Epoch int64
	// MaxRecords bounds the number of records kept; zero means 1,000,000.
	MaxRecords int
	// MaxBytes bounds the total encoded size kept; zero means 256 MiB.
	MaxBytes int64
	// Overflow says what happens when the window is full of unacknowledged records.
	Overflow Overflow
}

// Stats are a window's counters.
type Stats struct {
	// Produced counts records appended.
	Produced int64
	// Acked is the highest acknowledged sequence number.
	Acked int64
	// Records and Bytes are what the window holds now.
	Records, Bytes int64
	// Dropped counts unacknowledged records dropped for room.
	Dropped int64
	// Oldest is the sequence number of the oldest record held (zero when empty); Next is the
	// number the next record gets.
	Oldest, Next int64
}

// Window numbers records and keeps them until acknowledged. It is safe for concurrent use.
type Window struct {
	cfg     Config
	marshal proto.MarshalOptions

	mu       sync.Mutex
	buf      [][]byte // circular; record seq s is buf[(s-1)%len(buf)]
	oldest   int64    // seq of the oldest record held; == next when empty
	next     int64
	acked    int64
	bytes    int64
	dropped  int64
	changed  chan struct{} // closed when records are appended, if handed out; then replaced
	watched  bool          // whether changed was handed out since it was made
	ackedCh  chan struct{} // closed and replaced when the acknowledged position moves
	produced int64
}

// New returns an empty window.
func New(cfg Config) *Window {
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = 1_000_000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	return &Window{
		cfg:     cfg,
		buf:     make([][]byte, cfg.MaxRecords),
		oldest:  1,
		next:    1,
		changed: make(chan struct{}),
		ackedCh: make(chan struct{}),
	}
}

// Epoch returns the window's epoch.
func (w *Window) Epoch() int64 { return w.cfg.Epoch }

// AgentID returns the agent id stamped on records.
func (w *Window) AgentID() string { return w.cfg.AgentID }

// NodeID returns the node id stamped on records.
func (w *Window) NodeID() string { return w.cfg.NodeID }

// Append stamps rec with the window's node, agent, epoch and the next sequence number, encodes
// it and keeps it. rec's envelope fields are overwritten; rec is not retained.
func (w *Window) Append(ctx context.Context, rec *sysflowv1.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := w.encode(rec)
	if err != nil {
		return err
	}
	for w.full(int64(len(b))) {
		if w.oldest <= w.acked {
			w.evict()
			continue
		}
		if w.cfg.Overflow == DropOldest {
			w.evict()
			w.dropped++
			continue
		}
		wait := w.ackedCh
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			w.mu.Lock()
			return ctx.Err()
		case <-wait:
		}
		w.mu.Lock()
		if rec.Seq != w.next { // another Append ran while this one waited
			if b, err = w.encode(rec); err != nil {
				return err
			}
		}
	}
	w.buf[(w.next-1)%int64(len(w.buf))] = b
	w.bytes += int64(len(b))
	w.next++
	w.produced++
	if w.watched { // most appends have nobody waiting: spare them a channel
		close(w.changed)
		w.changed = make(chan struct{})
		w.watched = false
	}
	return nil
}

// encode stamps rec with the envelope of the next record and encodes it. w.mu is held.
func (w *Window) encode(rec *sysflowv1.Record) ([]byte, error) {
	rec.NodeId, rec.AgentId, rec.Epoch, rec.Seq = w.cfg.NodeID, w.cfg.AgentID, w.cfg.Epoch, w.next
	b, err := w.marshal.Marshal(rec)
	if err != nil && escapeInvalidUTF8(rec.ProtoReflect()) {
		// A file or process name of bytes that are not UTF-8, which Linux allows and protobuf
		// strings do not: the record is kept, with those bytes escaped.
		b, err = w.marshal.Marshal(rec)
	}
	if err != nil {
		return nil, fmt.Errorf("encode record %d: %w", w.next, err)
	}
	return b, nil
}

// full reports whether a record of size bytes does not fit. w.mu is held.
func (w *Window) full(size int64) bool {
	held := w.next - w.oldest
	if held == 0 {
		return false
	}
	return held == int64(len(w.buf)) || w.bytes+size > w.cfg.MaxBytes
}

// evict drops the oldest record. w.mu is held.
func (w *Window) evict() {
	i := (w.oldest - 1) % int64(len(w.buf))
	w.bytes -= int64(len(w.buf[i]))
	w.buf[i] = nil
	w.oldest++
}

// Ack acknowledges every record up to and including seq of the given epoch. Acknowledgements
// of another epoch, or that do not move the position forward, are ignored.
func (w *Window) Ack(epoch, seq int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if epoch != w.cfg.Epoch || seq <= w.acked {
		return
	}
	w.acked = min(seq, w.next-1)
	close(w.ackedCh)
	w.ackedCh = make(chan struct{})
}

// Read appends to dst the encoded records after seq after, at most max of them, and returns dst
// and the sequence number of the last record it added (after itself when none). missing counts
// records after after that the window no longer holds.
func (w *Window) Read(after int64, max int, dst [][]byte) (recs [][]byte, last, missing int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if missing = w.missing(after); missing > 0 {
		after = w.oldest - 1
	}
	for s, n := after+1, 0; s < w.next && n < max; s, n = s+1, n+1 {
		dst = append(dst, w.buf[(s-1)%int64(len(w.buf))])
		after = s
	}
	return dst, after, missing
}

// Missing returns how many records after seq after the window no longer holds.
func (w *Window) Missing(after int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.missing(after)
}

// missing is Missing with w.mu held.
func (w *Window) missing(after int64) int64 {
	return max(w.oldest-after-1, 0)
}

// Changed returns a channel that is closed when a record is appended after the call.
func (w *Window) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watched = true
	return w.changed
}

// Stats returns the window's counters.
func (w *Window) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Stats{
		Produced: w.produced,
		Acked:    w.acked,
		Records:  w.next - w.oldest,
		Bytes:    w.bytes,
		Dropped:  w.dropped,
		Next:     w.next,
	}
	if s.Records > 0 {
		s.Oldest = w.oldest
	}
	return s
}
