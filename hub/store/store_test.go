package store

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/policy/field"
)

const traces = "../../../shared/fixtures/sysflow/traces"

// traceEntries returns a fixture trace as an agent would send it: every record with its
// envelope, numbered from 1 in epoch 1.
func traceEntries(tb testing.TB, name, node, agent string) []ring.Entry {
	tb.Helper()
	recs, err := sfavro.ReadFile(filepath.Join(traces, name))
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]ring.Entry, len(recs))
	for i, r := range recs {
		r.NodeId, r.AgentId, r.Epoch, r.Seq = node, agent, 1, int64(i+1)
		raw, err := proto.Marshal(r)
		if err != nil {
			tb.Fatal(err)
		}
		m, err := ring.Scan(raw)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = ring.Entry{NodeID: node, AgentID: agent, Epoch: 1, Seq: int64(i + 1), Type: m.Type, OpFlags: m.OpFlags, Raw: raw}
	}
	return out
}

func open(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	opts.Dir = dir
	s, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func appendAll(tb testing.TB, s *Store, agent string, entries []ring.Entry, batch int) {
	tb.Helper()
	for i := 0; i < len(entries); i += batch {
		if _, err := s.Append(agent, entries[i:min(i+batch, len(entries))]); err != nil {
			tb.Fatal(err)
		}
	}
}

// scanAll returns the positions of every stored record, in scan order, and checks that the
// order is by time.
func scanAll(tb testing.TB, s *Store, rg Range) []ring.Entry {
	tb.Helper()
	var out []ring.Entry
	last := int64(math.MinInt64)
	err := s.Scan(context.Background(), rg, func(it *Item) (bool, error) {
		if it.Time < last {
			tb.Fatalf("record %d at %d after one at %d", it.Seq, it.Time, last)
		}
		last = it.Time
		out = append(out, ring.Entry{AgentID: it.AgentID, Epoch: it.Epoch, Seq: it.Seq, Type: it.Type})
		return true, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestAppendIsDurableAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	entries := traceEntries(t, "sfprocessor_k8s_small.sf", "node-1", "agent-1")
	s := open(t, dir, Options{})
	appendAll(t, s, "agent-1", entries[:4000], 500)
	// The agent resends from an older position after a reconnect: only what is new is stored.
	res, err := s.Append("agent-1", entries[3500:4500])
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicates != 500 || res.Appended != 500 || res.Last.Seq != 4500 {
		t.Fatalf("Append of 3501..4500 after 4000 = %+v, want 500 duplicates, 500 appended, last 4500", res)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, Options{})
	defer s.Close()
	if p, ok := s.Last("agent-1"); !ok || p != (ring.Position{Epoch: 1, Seq: 4500}) {
		t.Fatalf("Last after reopen = %v, %v; want 1/4500", p, ok)
	}
	appendAll(t, s, "agent-1", entries, 1000) // everything again: only 4501.. are new
	got := scanAll(t, s, All)
	if len(got) != len(entries) {
		t.Fatalf("stored %d records, want %d", len(got), len(entries))
	}
	seqs := make([]int64, len(got))
	for i, e := range got {
		seqs[i] = e.Seq
	}
	slices.Sort(seqs)
	for i, q := range seqs {
		if q != int64(i+1) {
			t.Fatalf("stored seqs have %d at %d: duplicates or gaps", q, i)
		}
	}
}

func TestScanRangeAndResume(t *testing.T) {
	entries := traceEntries(t, "sfprocessor_k8s_small.sf", "node-1", "agent-1")
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	appendAll(t, s, "agent-1", entries, 700)
	all := scanAll(t, s, All)
	oldest, newest, _ := s.Bounds()
	mid := oldest + (newest-oldest)/2
	before := scanAll(t, s, Range{Start: math.MinInt64, End: mid})
	after := scanAll(t, s, Range{Start: mid, End: math.MaxInt64})
	if len(before)+len(after) != len(all) || len(before) == 0 || len(after) == 0 {
		t.Fatalf("split at %d: %d + %d records, want %d in all, both parts non-empty", mid, len(before), len(after), len(all))
	}
	// Resuming after a key gives the rest.
	var keys [][]byte
	_ = s.Scan(context.Background(), All, func(it *Item) (bool, error) {
		keys = append(keys, slices.Clone(it.Key))
		return true, nil
	})
	rest := scanAll(t, s, Range{Start: math.MinInt64, End: math.MaxInt64, After: keys[99]})
	if len(rest) != len(all)-100 || rest[0].Seq != all[100].Seq {
		t.Fatalf("resume after record 100: %d records starting %d, want %d starting %d", len(rest), rest[0].Seq, len(all)-100, all[100].Seq)
	}
}

func TestEntities(t *testing.T) {
	entries := traceEntries(t, "sfprocessor_k8s_small.sf", "node-1", "agent-1")
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	appendAll(t, s, "agent-1", entries, 1000)
	// Every event and flow's process and file resolve from the entity table.
	r := sfavro.NewResolver(0)
	ents := s.Entities("node-1")
	defer ents.Close()
	var checked int
	for _, e := range entries {
		var rec sysflowv1.Record
		if err := proto.Unmarshal(e.Raw, &rec); err != nil {
			t.Fatal(err)
		}
		r.Observe(&rec)
		oid := field.ProcOID(&rec)
		if oid == nil {
			continue
		}
		want := r.Process(oid)
		if want == nil {
			continue
		}
		got := ents.Process(oid)
		if got == nil {
			t.Fatalf("process %v of record %d not in the store", oid, e.Seq)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no record referenced a process")
	}
	// The latest process with a pid, and its children.
	p, err := s.LatestProcess("node-1", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LatestProcess("node-2", 1, 0); err != ErrUnknownNode {
		t.Fatalf("LatestProcess on an unknown node: %v, want ErrUnknownNode", err)
	}
	_ = p
	var parent *sysflowv1.OID
	for _, e := range entries {
		var rec sysflowv1.Record
		_ = proto.Unmarshal(e.Raw, &rec)
		if pr := rec.GetProcess(); pr != nil && pr.GetPoid() != nil {
			parent = pr.GetPoid()
		}
	}
	kids, err := s.Children("node-1", parent)
	if err != nil || len(kids) == 0 {
		t.Fatalf("Children(%v) = %d processes, %v; want some", parent, len(kids), err)
	}
	for _, k := range kids {
		if !proto.Equal(k.GetPoid(), parent) {
			t.Fatalf("child %v has parent %v, want %v", k.GetOid(), k.GetPoid(), parent)
		}
	}
}

func TestRetention(t *testing.T) {
	entries := traceEntries(t, "sfprocessor_k8s_small.sf", "node-1", "agent-1")
	s := open(t, t.TempDir(), Options{RetentionAge: time.Second})
	defer s.Close()
	appendAll(t, s, "agent-1", entries, 1000)
	oldest, newest, _ := s.Bounds()
	if newest-oldest <= int64(time.Second) {
		t.Fatalf("trace spans %v, too short for this test", time.Duration(newest-oldest))
	}
	// Age is measured from the newest record, not from now: last year's trace is kept but for
	// its last second.
	res, err := s.Retain(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Before != newest-int64(time.Second) {
		t.Fatalf("retention removed before %d, want %d", res.Before, newest-int64(time.Second))
	}
	for _, e := range scanAll(t, s, All) {
		_ = e
	}
	o2, _, _ := s.Bounds()
	if o2 < res.Before {
		t.Fatalf("oldest record %d after retention before %d", o2, res.Before)
	}
	// The entities that kept records reference are still there.
	ents := s.Entities("node-1")
	defer ents.Close()
	_ = s.Scan(context.Background(), All, func(it *Item) (bool, error) {
		var rec sysflowv1.Record
		if err := proto.Unmarshal(it.Raw, &rec); err != nil {
			return false, err
		}
		if oid := field.ProcOID(&rec); oid != nil && ents.Process(oid) == nil {
			t.Errorf("record %d's process %v is gone", it.Seq, oid)
		}
		return true, nil
	})
}

func TestLayoutVersionRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	if err := s.db.Set(versionKey, []byte("99"), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(Options{Dir: dir}); err == nil {
		t.Fatal("Open of a layout version 99 store succeeded")
	} else {
		t.Log(err)
	}
}
