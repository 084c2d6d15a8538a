// Package alert delivers the hub's alerts: to subscribers through a Broker, a bounded log of the
// latest alerts that readers follow at their own pace, and to Falcosidekick through a Sender,
// which posts each alert in Falco's JSON format with retries, from a bounded queue that drops
// the oldest alerts (and counts them) rather than slow the hub down.
package alert

import (
	"sync"

	"github.com/sysflux/sysflux/policy/engine"
)

// Item is an alert and where its record is.
type Item struct {
	*engine.Alert
	// AgentID, Epoch and Seq are the position of the record that raised it.
	AgentID    string
	Epoch, Seq int64
}

// Broker is a bounded log of the latest alerts. It is safe for concurrent use.
type Broker struct {
	mu      sync.Mutex
	buf     []Item
	start   int64 // index of the oldest alert kept
	end     int64 // index after the newest
	changed chan struct{}
	total   int64
}

// NewBroker returns a Broker keeping the last max alerts (10,000 when max <= 0).
func NewBroker(max int) *Broker {
	if max <= 0 {
		max = 10_000
	}
	return &Broker{buf: make([]Item, max), changed: make(chan struct{})}
}

// Publish adds an alert.
func (b *Broker) Publish(it Item) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.end-b.start == int64(len(b.buf)) {
		b.buf[b.start%int64(len(b.buf))] = Item{}
		b.start++
	}
	b.buf[b.end%int64(len(b.buf))] = it
	b.end++
	b.total++
	close(b.changed)
	b.changed = make(chan struct{})
}

// Read copies the alerts from index from on into dst and returns how many, the index after
// them, and how many older ones the reader missed because they were no longer kept.
func (b *Broker) Read(from int64, dst []Item) (n int, next, lost int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if from < b.start {
		lost, from = b.start-from, b.start
	}
	for n < len(dst) && from < b.end {
		dst[n] = b.buf[from%int64(len(b.buf))]
		n++
		from++
	}
	return n, from, lost
}

// End returns the index the next alert will have.
func (b *Broker) End() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.end
}

// Changed returns a channel closed at the next Publish.
func (b *Broker) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Total returns the number of alerts published.
func (b *Broker) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}
