package ring_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// entry returns an entry of agent at (epoch, seq) whose Raw has size bytes.
func entry(agent string, epoch, seq int64, size int) ring.Entry {
	return ring.Entry{
		NodeID: "node-" + agent, AgentID: agent, Epoch: epoch, Seq: seq,
		Type: sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, OpFlags: 128,
		Raw: fmt.Appendf(make([]byte, 0, size), "%s/%d/%d%s", agent, epoch, seq, make([]byte, size))[:size],
	}
}

// positions returns the (agent, epoch, seq) of entries as strings, for readable diffs.
func positions(entries []ring.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s/%d/%d", e.AgentID, e.Epoch, e.Seq))
	}
	return out
}

func readAll(t *testing.T, r *ring.Ring, from int64) (entries []ring.Entry, next, lost int64) {
	t.Helper()
	dst := make([]ring.Entry, 1000)
	n, next, lost := r.Read(from, dst)
	return dst[:n], next, lost
}

func TestPositionAfter(t *testing.T) {
	tests := []struct {
		p, q ring.Position
		want bool
	}{
		{p: ring.Position{Epoch: 1, Seq: 2}, q: ring.Position{Epoch: 1, Seq: 1}, want: true},
		{p: ring.Position{Epoch: 1, Seq: 1}, q: ring.Position{Epoch: 1, Seq: 1}, want: false},
		{p: ring.Position{Epoch: 1, Seq: 1}, q: ring.Position{Epoch: 1, Seq: 2}, want: false},
		{p: ring.Position{Epoch: 2, Seq: 1}, q: ring.Position{Epoch: 1, Seq: 100}, want: true},
		{p: ring.Position{Epoch: 1, Seq: 100}, q: ring.Position{Epoch: 2, Seq: 1}, want: false},
		{p: ring.Position{Epoch: 1, Seq: 1}, q: ring.Position{}, want: true},
		{p: ring.Position{}, q: ring.Position{}, want: false},
	}
	for _, tt := range tests {
		if got := tt.p.After(tt.q); got != tt.want {
			t.Errorf("%+v.After(%+v) = %v, want %v", tt.p, tt.q, got, tt.want)
		}
	}
}

func TestAppendDedup(t *testing.T) {
	type batch struct {
		agent   string
		entries []ring.Entry
		want    ring.AppendResult
	}
	e := func(agent string, epoch, seq int64) ring.Entry { return entry(agent, epoch, seq, 10) }
	tests := []struct {
		name    string
		batches []batch
		want    []string // every entry kept, in order
	}{
		{
			name: "new records",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 1), e("a", 1, 2)}, want: ring.AppendResult{Appended: 2, Last: ring.Position{Epoch: 1, Seq: 2}}},
				{agent: "a", entries: []ring.Entry{e("a", 1, 3)}, want: ring.AppendResult{Appended: 1, Last: ring.Position{Epoch: 1, Seq: 3}}},
			},
			want: []string{"a/1/1", "a/1/2", "a/1/3"},
		},
		{
			name: "batch sent again",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 1), e("a", 1, 2)}, want: ring.AppendResult{Appended: 2, Last: ring.Position{Epoch: 1, Seq: 2}}},
				{agent: "a", entries: []ring.Entry{e("a", 1, 1), e("a", 1, 2)}, want: ring.AppendResult{Duplicates: 2, Last: ring.Position{Epoch: 1, Seq: 2}}},
			},
			want: []string{"a/1/1", "a/1/2"},
		},
		{
			name: "overlapping batch",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 1), e("a", 1, 2)}, want: ring.AppendResult{Appended: 2, Last: ring.Position{Epoch: 1, Seq: 2}}},
				{agent: "a", entries: []ring.Entry{e("a", 1, 2), e("a", 1, 3)}, want: ring.AppendResult{Appended: 1, Duplicates: 1, Last: ring.Position{Epoch: 1, Seq: 3}}},
			},
			want: []string{"a/1/1", "a/1/2", "a/1/3"},
		},
		{
			name: "duplicates and reordering inside one batch",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 1), e("a", 1, 1), e("a", 1, 3), e("a", 1, 2), e("a", 1, 4)},
					want: ring.AppendResult{Appended: 3, Duplicates: 2, Last: ring.Position{Epoch: 1, Seq: 4}}},
			},
			want: []string{"a/1/1", "a/1/3", "a/1/4"},
		},
		{
			name: "gaps are accepted",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 5), e("a", 1, 9)}, want: ring.AppendResult{Appended: 2, Last: ring.Position{Epoch: 1, Seq: 9}}},
			},
			want: []string{"a/1/5", "a/1/9"},
		},
		{
			name: "new epoch restarts at one",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 1), e("a", 1, 2)}, want: ring.AppendResult{Appended: 2, Last: ring.Position{Epoch: 1, Seq: 2}}},
				{agent: "a", entries: []ring.Entry{e("a", 2, 1)}, want: ring.AppendResult{Appended: 1, Last: ring.Position{Epoch: 2, Seq: 1}}},
			},
			want: []string{"a/1/1", "a/1/2", "a/2/1"},
		},
		{
			name: "older epoch is dropped",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 2, 1)}, want: ring.AppendResult{Appended: 1, Last: ring.Position{Epoch: 2, Seq: 1}}},
				{agent: "a", entries: []ring.Entry{e("a", 1, 5), e("a", 1, 6)}, want: ring.AppendResult{Duplicates: 2, Last: ring.Position{Epoch: 2, Seq: 1}}},
			},
			want: []string{"a/2/1"},
		},
		{
			name: "epoch change inside a batch",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 7), e("a", 2, 1), e("a", 1, 8), e("a", 2, 2)},
					want: ring.AppendResult{Appended: 3, Duplicates: 1, Last: ring.Position{Epoch: 2, Seq: 2}}},
			},
			want: []string{"a/1/7", "a/2/1", "a/2/2"},
		},
		{
			name: "agents are independent",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 1), e("a", 1, 2)}, want: ring.AppendResult{Appended: 2, Last: ring.Position{Epoch: 1, Seq: 2}}},
				{agent: "b", entries: []ring.Entry{e("b", 1, 1)}, want: ring.AppendResult{Appended: 1, Last: ring.Position{Epoch: 1, Seq: 1}}},
				{agent: "a", entries: []ring.Entry{e("a", 1, 2), e("a", 1, 3)}, want: ring.AppendResult{Appended: 1, Duplicates: 1, Last: ring.Position{Epoch: 1, Seq: 3}}},
			},
			want: []string{"a/1/1", "a/1/2", "b/1/1", "a/1/3"},
		},
		{
			name: "empty batch",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 1, 4)}, want: ring.AppendResult{Appended: 1, Last: ring.Position{Epoch: 1, Seq: 4}}},
				{agent: "a", want: ring.AppendResult{Last: ring.Position{Epoch: 1, Seq: 4}}},
			},
			want: []string{"a/1/4"},
		},
		{
			name: "zero position is never new",
			batches: []batch{
				{agent: "a", entries: []ring.Entry{e("a", 0, 0)}, want: ring.AppendResult{Duplicates: 1}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ring.New(ring.Limits{MaxRecords: 100})
			for i, b := range tt.batches {
				got := r.Append(b.agent, b.entries)
				if diff := cmp.Diff(b.want, got); diff != "" {
					t.Errorf("batch %d: Append(%q, %v) (-want +got):\n%s", i, b.agent, positions(b.entries), diff)
				}
				if p, ok := r.Last(b.agent); got.Last != (ring.Position{}) && (!ok || p != got.Last) {
					t.Errorf("batch %d: Last(%q) = %+v, %v, want %+v, true", i, b.agent, p, ok, got.Last)
				}
			}
			entries, next, lost := readAll(t, r, 0)
			if diff := cmp.Diff(tt.want, positions(entries)); diff != "" {
				t.Errorf("entries kept (-want +got):\n%s", diff)
			}
			if next != int64(len(tt.want)) || lost != 0 {
				t.Errorf("Read(0) next, lost = %d, %d, want %d, 0", next, lost, len(tt.want))
			}
		})
	}
}

func TestAppendKeepsEntries(t *testing.T) {
	r := ring.New(ring.Limits{})
	in := []ring.Entry{entry("a", 1, 1, 20), entry("a", 1, 2, 30)}
	in[1].Type, in[1].OpFlags = sysflowv1.RecordType_RECORD_TYPE_POD, 0
	r.Append("a", in)
	got, _, _ := readAll(t, r, 0)
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("Read after Append (-want +got):\n%s", diff)
	}
}

func TestLast(t *testing.T) {
	r := ring.New(ring.Limits{})
	if p, ok := r.Last("a"); ok {
		t.Errorf("Last(%q) on an empty ring = %+v, true, want false", "a", p)
	}
	r.Append("a", nil)
	r.Append("a", []ring.Entry{entry("a", 0, 0, 1)})
	if p, ok := r.Last("a"); ok {
		t.Errorf("Last(%q) after appending nothing = %+v, true, want false", "a", p)
	}
	r.Append("a", []ring.Entry{entry("a", 3, 7, 1)})
	r.Append("a", []ring.Entry{entry("a", 2, 9, 1)})
	if p, ok := r.Last("a"); !ok || p != (ring.Position{Epoch: 3, Seq: 7}) {
		t.Errorf("Last(%q) = %+v, %v, want {3 7}, true", "a", p, ok)
	}
	if p, ok := r.Last("b"); ok {
		t.Errorf("Last(%q) of an unknown agent = %+v, true, want false", "b", p)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name       string
		limits     ring.Limits
		sizes      []int // sizes of entries a/1/1, a/1/2, ...
		wantSeqs   []string
		wantStart  int64
		wantBytes  int64
		wantRecord int64
	}{
		{
			name: "within limits", limits: ring.Limits{MaxRecords: 4, MaxBytes: 100},
			sizes: []int{10, 10, 10}, wantSeqs: []string{"a/1/1", "a/1/2", "a/1/3"}, wantStart: 0, wantBytes: 30, wantRecord: 3,
		},
		{
			name: "record limit drops oldest", limits: ring.Limits{MaxRecords: 3, MaxBytes: 1000},
			sizes: []int{10, 10, 10, 10, 10}, wantSeqs: []string{"a/1/3", "a/1/4", "a/1/5"}, wantStart: 2, wantBytes: 30, wantRecord: 3,
		},
		{
			name: "byte limit drops oldest", limits: ring.Limits{MaxRecords: 100, MaxBytes: 25},
			sizes: []int{10, 10, 10, 10}, wantSeqs: []string{"a/1/3", "a/1/4"}, wantStart: 2, wantBytes: 20, wantRecord: 2,
		},
		{
			name: "byte limit exactly reached", limits: ring.Limits{MaxRecords: 100, MaxBytes: 30},
			sizes: []int{10, 10, 10}, wantSeqs: []string{"a/1/1", "a/1/2", "a/1/3"}, wantStart: 0, wantBytes: 30, wantRecord: 3,
		},
		{
			name: "large entry drops several", limits: ring.Limits{MaxRecords: 100, MaxBytes: 30},
			sizes: []int{10, 10, 10, 25}, wantSeqs: []string{"a/1/4"}, wantStart: 3, wantBytes: 25, wantRecord: 1,
		},
		{
			name: "entry over the byte limit is kept alone", limits: ring.Limits{MaxRecords: 100, MaxBytes: 30},
			sizes: []int{10, 50, 10}, wantSeqs: []string{"a/1/3"}, wantStart: 2, wantBytes: 10, wantRecord: 1,
		},
		{
			name: "one record", limits: ring.Limits{MaxRecords: 1},
			sizes: []int{1, 2, 3}, wantSeqs: []string{"a/1/3"}, wantStart: 2, wantBytes: 3, wantRecord: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Appended one by one and all at once, the result is the same.
			for _, oneByOne := range []bool{true, false} {
				r := ring.New(tt.limits)
				var all []ring.Entry
				for i, size := range tt.sizes {
					all = append(all, entry("a", 1, int64(i+1), size))
				}
				if oneByOne {
					for _, e := range all {
						r.Append("a", []ring.Entry{e})
					}
				} else {
					r.Append("a", all)
				}
				entries, next, lost := readAll(t, r, tt.wantStart)
				if diff := cmp.Diff(tt.wantSeqs, positions(entries)); diff != "" {
					t.Errorf("one by one %v: entries kept (-want +got):\n%s", oneByOne, diff)
				}
				if next != int64(len(tt.sizes)) || lost != 0 {
					t.Errorf("one by one %v: Read(%d) next, lost = %d, %d, want %d, 0", oneByOne, tt.wantStart, next, lost, len(tt.sizes))
				}
				if start, end := r.Bounds(); start != tt.wantStart || end != int64(len(tt.sizes)) {
					t.Errorf("one by one %v: Bounds() = %d, %d, want %d, %d", oneByOne, start, end, tt.wantStart, len(tt.sizes))
				}
				if records, bytes := r.Stats(); records != tt.wantRecord || bytes != tt.wantBytes {
					t.Errorf("one by one %v: Stats() = %d, %d, want %d, %d", oneByOne, records, bytes, tt.wantRecord, tt.wantBytes)
				}
			}
		})
	}
}

func TestRead(t *testing.T) {
	// The ring holds indexes 5..9 (seqs 6..10) after five were dropped.
	r := ring.New(ring.Limits{MaxRecords: 5})
	for seq := int64(1); seq <= 10; seq++ {
		r.Append("a", []ring.Entry{entry("a", 1, seq, 4)})
	}
	tests := []struct {
		name     string
		from     int64
		dstLen   int
		wantSeqs []string
		wantNext int64
		wantLost int64
	}{
		{name: "from the oldest", from: 5, dstLen: 10, wantSeqs: []string{"a/1/6", "a/1/7", "a/1/8", "a/1/9", "a/1/10"}, wantNext: 10},
		{name: "in the middle", from: 8, dstLen: 10, wantSeqs: []string{"a/1/9", "a/1/10"}, wantNext: 10},
		{name: "limited by dst", from: 6, dstLen: 2, wantSeqs: []string{"a/1/7", "a/1/8"}, wantNext: 8},
		{name: "empty dst", from: 6, dstLen: 0, wantNext: 6},
		{name: "at the end", from: 10, dstLen: 10, wantNext: 10},
		{name: "behind the start", from: 0, dstLen: 10, wantSeqs: []string{"a/1/6", "a/1/7", "a/1/8", "a/1/9", "a/1/10"}, wantNext: 10, wantLost: 5},
		{name: "behind the start, limited by dst", from: 3, dstLen: 1, wantSeqs: []string{"a/1/6"}, wantNext: 6, wantLost: 2},
		{name: "behind the start, empty dst", from: 4, dstLen: 0, wantNext: 5, wantLost: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]ring.Entry, tt.dstLen)
			n, next, lost := r.Read(tt.from, dst)
			if diff := cmp.Diff(tt.wantSeqs, positions(dst[:n])); diff != "" {
				t.Errorf("Read(%d, len %d) entries (-want +got):\n%s", tt.from, tt.dstLen, diff)
			}
			if next != tt.wantNext || lost != tt.wantLost {
				t.Errorf("Read(%d, len %d) next, lost = %d, %d, want %d, %d", tt.from, tt.dstLen, next, lost, tt.wantNext, tt.wantLost)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	r := ring.New(ring.Limits{})
	if start, end := r.Bounds(); start != 0 || end != 0 {
		t.Errorf("Bounds() = %d, %d, want 0, 0", start, end)
	}
	if records, bytes := r.Stats(); records != 0 || bytes != 0 {
		t.Errorf("Stats() = %d, %d, want 0, 0", records, bytes)
	}
	if n, next, lost := r.Read(0, make([]ring.Entry, 4)); n != 0 || next != 0 || lost != 0 {
		t.Errorf("Read(0) = %d, %d, %d, want 0, 0, 0", n, next, lost)
	}
}

func TestChanged(t *testing.T) {
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	r := ring.New(ring.Limits{})
	c := r.Changed()
	if closed(c) {
		t.Fatalf("Changed() closed before any Append")
	}
	r.Append("a", nil)
	if closed(c) {
		t.Errorf("Changed() closed by an empty Append")
	}
	r.Append("a", []ring.Entry{entry("a", 1, 1, 1)})
	if !closed(c) {
		t.Errorf("Changed() not closed by Append")
	}
	c = r.Changed()
	if closed(c) {
		t.Errorf("Changed() after Append is closed, want a new open channel")
	}
	r.Append("a", []ring.Entry{entry("a", 1, 1, 1)})
	if closed(c) {
		t.Errorf("Changed() closed by an Append of duplicates only")
	}
	r.Append("a", []ring.Entry{entry("a", 1, 1, 1), entry("a", 1, 2, 1)})
	if !closed(c) {
		t.Errorf("Changed() not closed by an Append with a new record")
	}
}

func TestConcurrent(t *testing.T) {
	const (
		agents   = 4
		perAgent = 2000
		batch    = 7
		readers  = 8
		total    = agents * perAgent
	)
	r := ring.New(ring.Limits{MaxRecords: 256})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for a := range agents {
		agent := fmt.Sprintf("agent-%d", a)
		wg.Go(func() {
			for seq := int64(1); seq <= perAgent; seq += batch {
				var es []ring.Entry
				for s := seq; s < seq+batch && s <= perAgent; s++ {
					es = append(es, entry(agent, 1, s, 8))
				}
				// Every batch is sent twice, as after a reconnect.
				r.Append(agent, es)
				if res := r.Append(agent, es); res.Appended != 0 || res.Duplicates != len(es) {
					t.Errorf("Append(%q) of a batch again = %+v, want only duplicates", agent, res)
				}
				_, _ = r.Last(agent)
			}
		})
	}
	for i := range readers {
		wg.Go(func() {
			last := make(map[string]int64)
			dst := make([]ring.Entry, 1+i*5) // readers of different speeds
			var got, lost, cursor int64
			for got+lost < total {
				changed := r.Changed()
				n, next, l := r.Read(cursor, dst)
				lost += l
				for _, e := range dst[:n] {
					if e.Seq <= last[e.AgentID] {
						t.Errorf("reader %d: %s seq %d after %d", i, e.AgentID, e.Seq, last[e.AgentID])
						return
					}
					if string(e.Raw[:len(e.AgentID)]) != e.AgentID {
						t.Errorf("reader %d: entry %s/%d has Raw %q", i, e.AgentID, e.Seq, e.Raw)
						return
					}
					last[e.AgentID] = e.Seq
				}
				got += int64(n)
				if next != cursor+l+int64(n) {
					t.Errorf("reader %d: Read(%d) = %d entries, next %d, lost %d", i, cursor, n, next, l)
					return
				}
				cursor = next
				_, _ = r.Bounds()
				_, _ = r.Stats()
				if n == 0 {
					select {
					case <-changed:
					case <-ctx.Done():
						t.Errorf("reader %d: read %d and lost %d of %d before the deadline", i, got, lost, total)
						return
					}
				}
			}
			if got+lost != total {
				t.Errorf("reader %d: read %d + lost %d, want %d", i, got, lost, total)
			}
		})
	}
	wg.Wait()
	if start, end := r.Bounds(); end != total || end-start != 256 {
		t.Errorf("Bounds() = %d, %d, want %d, %d", start, end, total-256, total)
	}
}
