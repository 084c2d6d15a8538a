package ring

import (
	"sync"
	"sync/atomic"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Entry is one record in the log.
type Entry struct {
	// NodeID and AgentID say where the record comes from.
	NodeID, AgentID string
	// Epoch and Seq are the record's delivery position.
	Epoch, Seq int64
	// Type is the record's type.
	Type sysflowv1.RecordType
	// OpFlags are the record's operation flags, zero for types without them.
	OpFlags int32
	// Raw is the record's protobuf encoding. It is never modified once appended.
	Raw []byte
	// Dropped marks a record a drop rule filtered out: Append counts it as received (the
	// agent's position moves past it) but does not keep it.
	Dropped bool
}

// Position is a place in one agent's delivery sequence.
type Position struct {
	Epoch, Seq int64
}

// After reports whether p comes after q.
func (p Position) After(q Position) bool {
	return p.Epoch > q.Epoch || (p.Epoch == q.Epoch && p.Seq > q.Seq)
}

// Limits bound the log. When either is reached the oldest records are dropped.
type Limits struct {
	// MaxRecords is the largest number of records kept; zero means 1,000,000.
	MaxRecords int
	// MaxBytes is the largest total encoded size kept; zero means 512 MiB.
	MaxBytes int64
}

// AppendResult counts what Append did.
type AppendResult struct {
	// Appended records were new.
	Appended int
	// Duplicates were at or before the agent's last appended position and were dropped.
	Duplicates int
	// Dropped were new but marked Dropped: counted as received, not kept.
	Dropped int
	// Last is the agent's last appended position after the call.
	Last Position
}

// Ring is a bounded log of records in arrival order. Each record has an index: the number of
// records appended before it. It is safe for concurrent use.
type Ring struct {
	mu       sync.Mutex
	buf      []Entry // circular; entry with index i is buf[i%len(buf)]
	start    int64   // index of the oldest entry kept
	end      int64   // index the next entry gets
	bytes    int64
	maxBytes int64
	changed  chan struct{} // closed and replaced on every append
	last     map[string]Position
}

// New returns an empty log with the given limits.
func New(l Limits) *Ring {
	if l.MaxRecords <= 0 {
		l.MaxRecords = 1_000_000
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 512 << 20
	}
	return &Ring{
		buf:      make([]Entry, l.MaxRecords),
		maxBytes: l.MaxBytes,
		changed:  make(chan struct{}),
		last:     make(map[string]Position),
	}
}

// Append adds the entries of one agent, all with the given agent id, in sequence order. Entries
// at or before the last position appended for that agent are dropped as duplicates.
func (r *Ring) Append(agentID string, entries []Entry) AppendResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.last[agentID]
	var res AppendResult
	for i := range entries {
		e := &entries[i]
		p := Position{Epoch: e.Epoch, Seq: e.Seq}
		if !p.After(last) {
			res.Duplicates++
			continue
		}
		last = p
		if e.Dropped {
			res.Dropped++
			continue
		}
		r.push(*e)
		res.Appended++
	}
	res.Last = last
	if res.Appended > 0 || res.Dropped > 0 {
		r.last[agentID] = last
	}
	if res.Appended > 0 {
		close(r.changed)
		r.changed = make(chan struct{})
	}
	return res
}

// push appends e, dropping the oldest entries to stay within the limits. r.mu is held.
func (r *Ring) push(e Entry) {
	size := int64(len(e.Raw))
	for r.end-r.start == int64(len(r.buf)) || (r.end > r.start && r.bytes+size > r.maxBytes) {
		old := &r.buf[r.start%int64(len(r.buf))]
		r.bytes -= int64(len(old.Raw))
		*old = Entry{}
		r.start++
	}
	r.buf[r.end%int64(len(r.buf))] = e
	r.bytes += size
	r.end++
}

// Read copies into dst the entries from index from on, at most len(dst) of them, and returns
// how many it copied and the index after the last one. When from is older than the oldest entry
// kept, reading starts at the oldest and lost says how many entries the reader missed.
func (r *Ring) Read(from int64, dst []Entry) (n int, next, lost int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if from < r.start {
		lost = r.start - from
		from = r.start
	}
	for from < r.end && n < len(dst) {
		dst[n] = r.buf[from%int64(len(r.buf))]
		n++
		from++
	}
	return n, from, lost
}

// Changed returns a channel that is closed when entries are appended after the call.
func (r *Ring) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Bounds returns the index of the oldest entry kept and the index the next entry will get.
func (r *Ring) Bounds() (start, end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.start, r.end
}

// Last returns the last position appended for an agent, and whether there is one.
func (r *Ring) Last(agentID string) (Position, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.last[agentID]
	return p, ok
}

// Stats returns the number and total encoded size of the entries kept.
func (r *Ring) Stats() (records, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.end - r.start, r.bytes
}

// ByType holds a count for each record type, indexed by sysflowv1.RecordType.
type ByType [sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT + 1]int64

// TypeCounts counts records by type. It is safe for concurrent use.
type TypeCounts struct {
	n [len(ByType{})]atomic.Int64
}

// Add adds counts, with one atomic add per type counted: the goroutines of every agent or
// subscriber add to the same counters, a batch at a time.
func (c *TypeCounts) Add(counts *ByType) {
	for t, n := range counts {
		if n > 0 {
			c.n[t].Add(n)
		}
	}
}

// Load returns the counts.
func (c *TypeCounts) Load() ByType {
	var out ByType
	for t := range c.n {
		out[t] = c.n[t].Load()
	}
	return out
}
