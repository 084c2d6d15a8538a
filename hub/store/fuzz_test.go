package store

import (
	"context"
	"testing"

	"github.com/sysflux/sysflux/hub/ring"
)

// FuzzAppend stores any bytes the fan-in would accept from an agent as a record: the store
// either refuses the batch with an error, keeping nothing, or stores the record once and scans
// it back as it was given. It never panics.
func FuzzAppend(f *testing.F) {
	for i, e := range traceEntries(f, "sfprocessor_shellshock.sf", "n", "a") {
		if i%7 == 0 {
			f.Add(e.Raw)
		}
	}
	s := open(f, f.TempDir(), Options{})
	defer s.Close()
	seq := int64(0)
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ring.Scan(raw)
		if err != nil {
			return
		}
		seq++
		e := ring.Entry{NodeID: string(m.NodeID), AgentID: "fuzz", Epoch: 1, Seq: seq, Type: m.Type, OpFlags: m.OpFlags, Raw: raw}
		before, _ := s.Last("fuzz")
		res, err := s.Append("fuzz", []ring.Entry{e})
		if err != nil {
			if after, _ := s.Last("fuzz"); after != before {
				t.Fatalf("a refused batch moved the position from %v to %v", before, after)
			}
			return
		}
		if res.Appended != 1 {
			t.Fatalf("Append = %+v, want 1 appended", res)
		}
		found := 0
		err = s.Scan(context.Background(), All, func(it *Item) (bool, error) {
			if it.AgentID == "fuzz" && it.Seq == seq {
				found++
				if string(it.Raw) != string(raw) || it.Type != m.Type || it.OpFlags != m.OpFlags || it.NodeID != string(m.NodeID) {
					t.Fatalf("scanned back %x (%v, %d, %q), stored %x (%v, %d, %q)", it.Raw, it.Type, it.OpFlags, it.NodeID, raw, m.Type, m.OpFlags, m.NodeID)
				}
			}
			return true, nil
		})
		if err != nil || found != 1 {
			t.Fatalf("scan found the record %d times: %v", found, err)
		}
	})
}
