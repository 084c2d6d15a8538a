package spool_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sysflux/sysflux/agent/spool"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

const (
	testNode  = "node-a"
	testAgent = "agent-a"
	testEpoch = 42
)

// payload returns a record without envelope whose encoding has the same size for every i < 128
// once stamped with a seq < 128.
func payload(i int) *sysflowv1.Record {
	return &sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{
		Ts:      int64(100 + i%20), // one-byte varint
		OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC),
	}}}
}

// stamped is what the window should hold for payload(i) appended as seq.
func stamped(i int, seq int64) *sysflowv1.Record {
	r := payload(i)
	r.NodeId, r.AgentId, r.Epoch, r.Seq = testNode, testAgent, testEpoch, seq
	return r
}

// recSize is the encoded size of payload(i) stamped with a seq below 128.
func recSize(t *testing.T) int64 {
	t.Helper()
	return int64(proto.Size(stamped(0, 1)))
}

var overflowNames = map[spool.Overflow]string{spool.Block: "Block", spool.DropOldest: "DropOldest"}

func newWindow(overflow spool.Overflow, maxRecords int, maxBytes int64) *spool.Window {
	return spool.New(spool.Config{
		NodeID: testNode, AgentID: testAgent, Epoch: testEpoch,
		MaxRecords: maxRecords, MaxBytes: maxBytes, Overflow: overflow,
	})
}

// appendN appends payload(0..n-1) and fails the test on any error. Its context is cancelled, so
// an Append that would wait fails instead.
func appendN(t *testing.T, w *spool.Window, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i := range n {
		if err := w.Append(ctx, payload(i)); err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
}

// readSeqs reads every record held after after and returns their seqs.
func readSeqs(t *testing.T, w *spool.Window, after int64) (seqs []int64, last, missing int64) {
	t.Helper()
	recs, last, missing := w.Read(after, 1<<20, nil)
	for i, b := range recs {
		var r sysflowv1.Record
		if err := proto.Unmarshal(b, &r); err != nil {
			t.Fatalf("Read(%d): record %d: %v", after, i, err)
		}
		seqs = append(seqs, r.GetSeq())
	}
	return seqs, last, missing
}

func seqRange(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestAppendStampsAndNumbers(t *testing.T) {
	w := newWindow(spool.Block, 100, 0)
	if w.NodeID() != testNode || w.AgentID() != testAgent || w.Epoch() != testEpoch {
		t.Fatalf("NodeID, AgentID, Epoch = %q, %q, %d, want %q, %q, %d",
			w.NodeID(), w.AgentID(), w.Epoch(), testNode, testAgent, testEpoch)
	}
	inputs := []*sysflowv1.Record{
		payload(0),
		// A record that already carries an envelope gets the window's.
		{NodeId: "other-node", AgentId: "other-agent", Epoch: 7, Seq: 99,
			Rec: &sysflowv1.Record_File{File: &sysflowv1.File{Path: "/etc/passwd"}}},
		{Rec: &sysflowv1.Record_Header{Header: &sysflowv1.SFHeader{Version: 5}}},
		// A record without a payload is still numbered.
		{},
	}
	for i, in := range inputs {
		if err := w.Append(t.Context(), in); err != nil {
			t.Fatalf("Append(record %d): %v", i, err)
		}
		if got, want := in.GetSeq(), int64(i+1); got != want {
			t.Errorf("record %d: Seq after Append = %d, want %d", i, got, want)
		}
	}
	recs, last, missing := w.Read(0, 100, nil)
	if last != int64(len(inputs)) || missing != 0 {
		t.Errorf("Read(0, 100) last, missing = %d, %d, want %d, 0", last, missing, len(inputs))
	}
	if len(recs) != len(inputs) {
		t.Fatalf("Read(0, 100) returned %d records, want %d", len(recs), len(inputs))
	}
	for i, b := range recs {
		got := new(sysflowv1.Record)
		if err := proto.Unmarshal(b, got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want := proto.Clone(inputs[i]).(*sysflowv1.Record)
		want.NodeId, want.AgentId, want.Epoch, want.Seq = testNode, testAgent, testEpoch, int64(i+1)
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("record %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestAppendNoGaps(t *testing.T) {
	// Sequence numbers stay contiguous across evictions, drops and the varint growing from one
	// to two bytes at 128.
	for _, overflow := range []spool.Overflow{spool.Block, spool.DropOldest} {
		t.Run(overflowNames[overflow], func(t *testing.T) {
			w := newWindow(overflow, 16, 0)
			const n = 300
			for i := range n {
				appendN(t, w, 1)
				if i%3 == 0 {
					w.Ack(testEpoch, int64(i+1))
				}
			}
			seqs, last, _ := readSeqs(t, w, 0)
			if diff := cmp.Diff(seqRange(n-15, n), seqs); diff != "" {
				t.Errorf("held seqs (-want +got):\n%s", diff)
			}
			if last != n {
				t.Errorf("Read last = %d, want %d", last, n)
			}
			if st := w.Stats(); st.Produced != n || st.Next != n+1 {
				t.Errorf("Stats() Produced, Next = %d, %d, want %d, %d", st.Produced, st.Next, n, n+1)
			}
		})
	}
}

// Linux names (files, arguments, environment) may be any bytes, protobuf strings only UTF-8:
// a record with other bytes is kept, with them escaped, wherever they are in it.
func TestAppendEscapesInvalidUTF8(t *testing.T) {
	w := newWindow(spool.Block, 10, 0)
	appendN(t, w, 2)
	bad := &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{
		Exe: "/tmp/ev\xffil", ExeArgs: "caf\xc3\xa9 \xc3", Env: []string{"A=1", "B=\xfe"},
		Oid: &sysflowv1.OID{Hpid: 7},
	}}}
	if err := w.Append(t.Context(), bad); err != nil {
		t.Fatalf("Append(invalid UTF-8): %v", err)
	}
	pod := &sysflowv1.Record{Rec: &sysflowv1.Record_Pod{Pod: &sysflowv1.Pod{
		Name: "p", Labels: map[string]string{"k\x80": "v", "ok": "\x81"},
	}}}
	if err := w.Append(t.Context(), pod); err != nil {
		t.Fatalf("Append(pod with invalid UTF-8 labels): %v", err)
	}
	appendN(t, w, 1)
	recs, _, _ := w.Read(0, 10, nil)
	if len(recs) != 5 {
		t.Fatalf("window holds %d records, want 5", len(recs))
	}
	var got sysflowv1.Record
	if err := proto.Unmarshal(recs[2], &got); err != nil {
		t.Fatal(err)
	}
	p := got.GetProcess()
	if p.GetExe() != `/tmp/ev\xffil` || p.GetExeArgs() != `café \xc3` || !slices.Equal(p.GetEnv(), []string{"A=1", `B=\xfe`}) || p.GetOid().GetHpid() != 7 || got.GetSeq() != 3 {
		t.Errorf("escaped process = %v", &got)
	}
	if err := proto.Unmarshal(recs[3], &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{`k\x80`: "v", "ok": `\x81`}, got.GetPod().GetLabels()); diff != "" {
		t.Errorf("escaped labels (-want +got):\n%s", diff)
	}
	if got := w.Stats().Produced; got != 5 {
		t.Errorf("Stats().Produced = %d, want 5", got)
	}
}

func TestBounds(t *testing.T) {
	size := recSize(t)
	tests := []struct {
		name       string
		overflow   spool.Overflow
		maxRecords int
		maxBytes   int64
		appends    int
		ackAfter   int   // ack ackSeq after this many appends (0: never)
		ackSeq     int64 // sequence number acknowledged
		want       spool.Stats
	}{
		{
			name: "under both bounds", overflow: spool.Block, maxRecords: 5, maxBytes: 5 * size,
			appends: 4,
			want:    spool.Stats{Produced: 4, Records: 4, Bytes: 4 * size, Oldest: 1, Next: 5},
		},
		{
			name: "record bound drops oldest", overflow: spool.DropOldest, maxRecords: 3,
			appends: 10,
			want:    spool.Stats{Produced: 10, Records: 3, Bytes: 3 * size, Dropped: 7, Oldest: 8, Next: 11},
		},
		{
			name: "byte bound drops oldest", overflow: spool.DropOldest, maxRecords: 100, maxBytes: 3*size + size/2,
			appends: 10,
			want:    spool.Stats{Produced: 10, Records: 3, Bytes: 3 * size, Dropped: 7, Oldest: 8, Next: 11},
		},
		{
			name: "byte bound exactly reached", overflow: spool.DropOldest, maxRecords: 100, maxBytes: 3 * size,
			appends: 3,
			want:    spool.Stats{Produced: 3, Records: 3, Bytes: 3 * size, Oldest: 1, Next: 4},
		},
		{
			name: "record larger than the byte bound is kept alone", overflow: spool.DropOldest, maxRecords: 100, maxBytes: size - 1,
			appends: 3,
			want:    spool.Stats{Produced: 3, Records: 1, Bytes: size, Dropped: 2, Oldest: 3, Next: 4},
		},
		{
			name: "acked records are evicted first, not counted as dropped", overflow: spool.DropOldest, maxRecords: 4,
			appends: 6, ackAfter: 4, ackSeq: 2,
			want: spool.Stats{Produced: 6, Acked: 2, Records: 4, Bytes: 4 * size, Oldest: 3, Next: 7},
		},
		{
			name: "drops start once acked records are gone", overflow: spool.DropOldest, maxRecords: 4,
			appends: 8, ackAfter: 4, ackSeq: 2,
			want: spool.Stats{Produced: 8, Acked: 2, Records: 4, Bytes: 4 * size, Dropped: 2, Oldest: 5, Next: 9},
		},
		{
			name: "acked records stay until room is needed", overflow: spool.Block, maxRecords: 10,
			appends: 6, ackAfter: 3, ackSeq: 3,
			want: spool.Stats{Produced: 6, Acked: 3, Records: 6, Bytes: 6 * size, Oldest: 1, Next: 7},
		},
		{
			name: "block evicts acked records without waiting", overflow: spool.Block, maxRecords: 3,
			appends: 5, ackAfter: 3, ackSeq: 2,
			want: spool.Stats{Produced: 5, Acked: 2, Records: 3, Bytes: 3 * size, Oldest: 3, Next: 6},
		},
		{
			name: "block evicts acked records by bytes", overflow: spool.Block, maxRecords: 100, maxBytes: 3 * size,
			appends: 5, ackAfter: 3, ackSeq: 3,
			want: spool.Stats{Produced: 5, Acked: 3, Records: 3, Bytes: 3 * size, Oldest: 3, Next: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(tt.overflow, tt.maxRecords, tt.maxBytes)
			// A cancelled context makes any Append that would wait fail.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			for i := range tt.appends {
				if i == tt.ackAfter && tt.ackAfter > 0 {
					w.Ack(testEpoch, tt.ackSeq)
				}
				if err := w.Append(ctx, payload(i)); err != nil {
					t.Fatalf("Append(%d): %v", i, err)
				}
			}
			got := w.Stats()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Stats() (-want +got):\n%s", diff)
			}
			recs, _, _ := w.Read(0, 1<<20, nil)
			var total int64
			for _, b := range recs {
				total += int64(len(b))
			}
			if int64(len(recs)) != got.Records || total != got.Bytes {
				t.Errorf("Read returned %d records of %d bytes, Stats says %d of %d", len(recs), total, got.Records, got.Bytes)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	w := spool.New(spool.Config{Epoch: 1}) // zero bounds: 1,000,000 records, 256 MiB
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i := range 1000 {
		if err := w.Append(ctx, payload(i)); err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
	if st := w.Stats(); st.Records != 1000 || st.Dropped != 0 {
		t.Errorf("Stats() Records, Dropped = %d, %d, want 1000, 0", st.Records, st.Dropped)
	}
}

func TestBlockWaitsForAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWindow(spool.Block, 2, 0)
		appendN(t, w, 2)
		done := make(chan error, 1)
		go func() { done <- w.Append(t.Context(), payload(2)) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Append into a window full of unacked records returned %v, want it to wait", err)
		default:
		}

		// Acks that free nothing keep it waiting.
		w.Ack(testEpoch+1, 2)
		w.Ack(testEpoch, 0)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Append returned %v after acks that free nothing, want it to wait", err)
		default:
		}

		w.Ack(testEpoch, 1)
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Append after Ack: %v", err)
			}
		default:
			t.Fatalf("Append still waits after Ack(%d, 1)", testEpoch)
		}
		seqs, _, _ := readSeqs(t, w, 0)
		if diff := cmp.Diff([]int64{2, 3}, seqs); diff != "" {
			t.Errorf("held seqs (-want +got):\n%s", diff)
		}
		if st := w.Stats(); st.Dropped != 0 {
			t.Errorf("Stats().Dropped = %d, want 0", st.Dropped)
		}
	})
}

func TestBlockWaitsForBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		size := recSize(t)
		w := newWindow(spool.Block, 100, 2*size)
		appendN(t, w, 2)
		done := make(chan error, 1)
		go func() { done <- w.Append(t.Context(), payload(2)) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Append past the byte bound returned %v, want it to wait", err)
		default:
		}
		w.Ack(testEpoch, 2)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatalf("Append after Ack: %v", err)
		}
		if st := w.Stats(); st.Records != 2 || st.Oldest != 2 || st.Bytes != 2*size {
			t.Errorf("Stats() = %+v, want Records 2, Oldest 2, Bytes %d", st, 2*size)
		}
	})
}

func TestBlockContextEnds(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func(context.Context) (context.Context, context.CancelFunc)
		end     func(cancel context.CancelFunc) // ends the context while Append waits
		wantErr error
	}{
		{
			name:    "cancel",
			ctx:     context.WithCancel,
			end:     func(cancel context.CancelFunc) { cancel() },
			wantErr: context.Canceled,
		},
		{
			name: "deadline",
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, time.Minute)
			},
			end:     func(context.CancelFunc) { time.Sleep(time.Minute) },
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWindow(spool.Block, 2, 0)
				appendN(t, w, 2)
				ctx, cancel := tt.ctx(t.Context())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- w.Append(ctx, payload(2)) }()
				synctest.Wait()
				tt.end(cancel)
				synctest.Wait()
				var err error
				select {
				case err = <-done:
				default:
					t.Fatalf("Append still waits after the context ended")
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Append = %v, want %v", err, tt.wantErr)
				}
				want := spool.Stats{Produced: 2, Records: 2, Bytes: 2 * recSize(t), Oldest: 1, Next: 3}
				if diff := cmp.Diff(want, w.Stats()); diff != "" {
					t.Errorf("Stats() after the failed Append (-want +got):\n%s", diff)
				}
				// The failed Append used no sequence number.
				w.Ack(testEpoch, 1)
				appendN(t, w, 1)
				seqs, _, _ := readSeqs(t, w, 0)
				if diff := cmp.Diff([]int64{2, 3}, seqs); diff != "" {
					t.Errorf("held seqs (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestBlockManyWaiters(t *testing.T) {
	// Waiters that resume in any order get distinct, contiguous sequence numbers, and each
	// record is encoded with the number it is stored under.
	synctest.Test(t, func(t *testing.T) {
		const waiters = 5
		w := newWindow(spool.Block, 3, 0)
		appendN(t, w, 3)
		errs := make(chan error, waiters)
		for i := range waiters {
			go func() { errs <- w.Append(t.Context(), payload(3+i)) }()
		}
		synctest.Wait()
		for seq := int64(1); seq <= waiters; seq++ {
			w.Ack(testEpoch, seq)
			synctest.Wait()
			if err := <-errs; err != nil {
				t.Fatalf("Append after Ack(%d): %v", seq, err)
			}
		}
		seqs, last, missing := readSeqs(t, w, waiters)
		if diff := cmp.Diff([]int64{6, 7, 8}, seqs); diff != "" {
			t.Errorf("held seqs (-want +got):\n%s", diff)
		}
		if last != 8 || missing != 0 {
			t.Errorf("Read(%d) last, missing = %d, %d, want 8, 0", waiters, last, missing)
		}
	})
}

func TestBlockWaiterSeqGrows(t *testing.T) {
	// A waiter that first encoded seq 127 and is stored as 128 needs one byte more.
	synctest.Test(t, func(t *testing.T) {
		size := recSize(t)
		w := newWindow(spool.Block, 126, 0)
		appendN(t, w, 126)
		first := make(chan error, 1)
		go func() { first <- w.Append(t.Context(), payload(0)) }()
		synctest.Wait()
		second := make(chan error, 1)
		go func() { second <- w.Append(t.Context(), payload(0)) }()
		synctest.Wait()
		w.Ack(testEpoch, 2)
		synctest.Wait()
		for range 2 {
			select {
			case err := <-first:
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
			case err := <-second:
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
			}
		}
		recs, last, _ := w.Read(126, 10, nil)
		if len(recs) != 2 || last != 128 {
			t.Fatalf("Read(126) returned %d records up to %d, want 2 up to 128", len(recs), last)
		}
		for i, b := range recs {
			var r sysflowv1.Record
			if err := proto.Unmarshal(b, &r); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if got, want := r.GetSeq(), int64(127+i); got != want {
				t.Errorf("record %d: encoded seq = %d, want %d", i, got, want)
			}
		}
		if got, want := w.Stats().Bytes, 125*size+size+1; got != want {
			t.Errorf("Stats().Bytes = %d, want %d", got, want)
		}
	})
}

func TestRead(t *testing.T) {
	// The window holds seqs 6..10 after five drops.
	newFull := func(t *testing.T) *spool.Window {
		w := newWindow(spool.DropOldest, 5, 0)
		appendN(t, w, 10)
		return w
	}
	tests := []struct {
		name        string
		after       int64
		max         int
		wantSeqs    []int64
		wantLast    int64
		wantMissing int64
	}{
		{name: "from the oldest held", after: 5, max: 10, wantSeqs: seqRange(6, 10), wantLast: 10},
		{name: "in the middle", after: 7, max: 10, wantSeqs: seqRange(8, 10), wantLast: 10},
		{name: "limited by max", after: 6, max: 2, wantSeqs: seqRange(7, 8), wantLast: 8},
		{name: "max zero", after: 6, max: 0, wantLast: 6},
		{name: "caught up", after: 10, max: 10, wantLast: 10},
		{name: "after dropped records", after: 0, max: 10, wantSeqs: seqRange(6, 10), wantLast: 10, wantMissing: 5},
		{name: "after some dropped records", after: 3, max: 2, wantSeqs: seqRange(6, 7), wantLast: 7, wantMissing: 2},
		{name: "missing with max zero", after: 2, max: 0, wantLast: 5, wantMissing: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFull(t)
			recs, last, missing := w.Read(tt.after, tt.max, nil)
			var seqs []int64
			for _, b := range recs {
				var r sysflowv1.Record
				if err := proto.Unmarshal(b, &r); err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, r.GetSeq())
			}
			if diff := cmp.Diff(tt.wantSeqs, seqs); diff != "" {
				t.Errorf("Read(%d, %d) seqs (-want +got):\n%s", tt.after, tt.max, diff)
			}
			if last != tt.wantLast || missing != tt.wantMissing {
				t.Errorf("Read(%d, %d) last, missing = %d, %d, want %d, %d",
					tt.after, tt.max, last, missing, tt.wantLast, tt.wantMissing)
			}
		})
	}
}

func TestReadEmpty(t *testing.T) {
	w := newWindow(spool.Block, 5, 0)
	recs, last, missing := w.Read(0, 10, nil)
	if len(recs) != 0 || last != 0 || missing != 0 {
		t.Errorf("Read(0, 10) on an empty window = %d records, %d, %d, want 0, 0, 0", len(recs), last, missing)
	}
	if st := w.Stats(); st != (spool.Stats{Next: 1}) {
		t.Errorf("Stats() of an empty window = %+v, want only Next 1", st)
	}
}

func TestReadAppendsToDst(t *testing.T) {
	w := newWindow(spool.Block, 5, 0)
	appendN(t, w, 3)
	dst := make([][]byte, 0, 8)
	recs, last, _ := w.Read(0, 8, dst)
	if len(recs) != 3 || last != 3 {
		t.Fatalf("Read(0, 8) = %d records up to %d, want 3 up to 3", len(recs), last)
	}
	if &recs[:1][0] != &dst[:1][0] {
		t.Errorf("Read did not append into dst's backing array")
	}
	// max counts the records Read adds, not what dst already holds.
	prefix := [][]byte{[]byte("a"), []byte("b")}
	more, last, _ := w.Read(0, 2, prefix)
	if len(more) != 4 || last != 2 {
		t.Errorf("Read(0, 2, dst of 2) = %d records up to %d, want 4 up to 2", len(more), last)
	}
	// A record stays readable and unchanged after it is evicted.
	before := string(recs[0])
	w.Ack(testEpoch, 3)
	appendN(t, w, 5)
	if string(recs[0]) != before {
		t.Errorf("record bytes returned by Read changed after eviction")
	}
}

func TestAck(t *testing.T) {
	tests := []struct {
		name      string
		acks      [][2]int64 // epoch, seq
		wantAcked int64
	}{
		{name: "none", wantAcked: 0},
		{name: "forward", acks: [][2]int64{{testEpoch, 2}, {testEpoch, 4}}, wantAcked: 4},
		{name: "backwards is ignored", acks: [][2]int64{{testEpoch, 4}, {testEpoch, 2}}, wantAcked: 4},
		{name: "another epoch is ignored", acks: [][2]int64{{testEpoch - 1, 3}, {testEpoch + 1, 3}}, wantAcked: 0},
		{name: "another epoch after a valid ack", acks: [][2]int64{{testEpoch, 2}, {testEpoch + 1, 5}}, wantAcked: 2},
		{name: "beyond next is clamped", acks: [][2]int64{{testEpoch, 1000}}, wantAcked: 5},
		{name: "zero and negative are ignored", acks: [][2]int64{{testEpoch, 0}, {testEpoch, -3}}, wantAcked: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(spool.Block, 10, 0)
			appendN(t, w, 5)
			for _, a := range tt.acks {
				w.Ack(a[0], a[1])
			}
			if got := w.Stats().Acked; got != tt.wantAcked {
				t.Errorf("Stats().Acked after %v = %d, want %d", tt.acks, got, tt.wantAcked)
			}
		})
	}
}

func TestAckClampedDoesNotCoverLaterRecords(t *testing.T) {
	// An ack beyond the last record must not acknowledge records appended later: with Block
	// they must wait for their own ack.
	synctest.Test(t, func(t *testing.T) {
		w := newWindow(spool.Block, 3, 0)
		appendN(t, w, 1)
		w.Ack(testEpoch, 100)
		appendN(t, w, 3) // evicts seq 1, holds 2..4, none acked
		if st := w.Stats(); st.Acked != 1 || st.Oldest != 2 {
			t.Fatalf("Stats() = %+v, want Acked 1, Oldest 2", st)
		}
		done := make(chan error, 1)
		go func() { done <- w.Append(t.Context(), payload(0)) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Append returned %v, want it to wait: seqs 2..4 were never acked", err)
		default:
		}
		w.Ack(testEpoch, 2)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatalf("Append after Ack: %v", err)
		}
	})
}

func TestChanged(t *testing.T) {
	w := newWindow(spool.Block, 10, 0)
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	c := w.Changed()
	if closed(c) {
		t.Fatalf("Changed() is closed before any Append")
	}
	w.Ack(testEpoch, 1)
	if closed(c) {
		t.Errorf("Changed() closed by Ack, want only Append to close it")
	}
	appendN(t, w, 1)
	if !closed(c) {
		t.Errorf("Changed() not closed after Append")
	}
	c2 := w.Changed()
	if closed(c2) {
		t.Errorf("Changed() after Append is already closed, want a new open channel")
	}
	appendN(t, w, 1)
	if !closed(c2) {
		t.Errorf("second Changed() not closed after Append")
	}

	// An Append that fails (a full window, and the caller gives up) signals nothing.
	full := newWindow(spool.Block, 1, 0)
	appendN(t, full, 1)
	c3 := full.Changed()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := full.Append(ctx, &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{}}}); err == nil {
		t.Fatalf("Append to a full window with a cancelled context = nil, want error")
	}
	if closed(c3) {
		t.Errorf("Changed() closed by a failed Append")
	}
}

func TestConcurrent(t *testing.T) {
	const (
		appenders = 4
		perWriter = 500
		total     = appenders * perWriter
	)
	for _, overflow := range []spool.Overflow{spool.Block, spool.DropOldest} {
		t.Run(overflowNames[overflow], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			w := newWindow(overflow, 32, 0)
			var wg sync.WaitGroup
			for a := range appenders {
				wg.Go(func() {
					for i := range perWriter {
						if err := w.Append(ctx, payload(a+i)); err != nil {
							t.Errorf("Append: %v", err)
							return
						}
					}
				})
			}
			// One reader acks what it reads, as the hub does; others only read and stats.
			for range 2 {
				wg.Go(func() {
					after := int64(0)
					for after < total && ctx.Err() == nil {
						changed := w.Changed()
						recs, last, _ := w.Read(after, 7, nil)
						after = last
						if len(recs) == 0 {
							select {
							case <-changed:
							case <-ctx.Done():
							}
						}
						_ = w.Stats()
					}
				})
			}
			var (
				got     int64
				missing int64
				prev    int64
			)
			after := int64(0)
			for after < total {
				changed := w.Changed()
				recs, last, miss := w.Read(after, 10, nil)
				missing += miss
				for _, b := range recs {
					var r sysflowv1.Record
					if err := proto.Unmarshal(b, &r); err != nil {
						t.Fatal(err)
					}
					if r.GetSeq() <= prev {
						t.Fatalf("seq %d after %d", r.GetSeq(), prev)
					}
					if r.GetSeq() != prev+1 && miss == 0 {
						t.Fatalf("seq %d after %d with nothing missing", r.GetSeq(), prev)
					}
					prev = r.GetSeq()
					got++
				}
				after = last
				w.Ack(testEpoch, last)
				if len(recs) == 0 {
					select {
					case <-changed:
					case <-ctx.Done():
						t.Fatalf("read %d of %d records before the deadline", got, total)
					}
				}
			}
			wg.Wait()
			st := w.Stats()
			if got+missing != total || st.Produced != total {
				t.Errorf("read %d, missing %d, produced %d, want read+missing = produced = %d", got, missing, st.Produced, total)
			}
			if missing > st.Dropped {
				t.Errorf("missing %d > Stats().Dropped %d", missing, st.Dropped)
			}
			if overflow == spool.Block && (missing != 0 || st.Dropped != 0) {
				t.Errorf("Block lost records: missing %d, dropped %d", missing, st.Dropped)
			}
		})
	}
}
