package store

import (
	"testing"

	"github.com/sysflux/sysflux/hub/ring"
)

// BenchmarkAppend appends the records of sfprocessor_k8s_small.sf, again and again under new
// sequence numbers, in batches of 512 synced to disk.
func BenchmarkAppend(b *testing.B) {
	entries := traceEntries(b, "sfprocessor_k8s_small.sf", "node-1", "agent-1")
	s := open(b, b.TempDir(), Options{})
	defer s.Close()
	const batch = 512
	seq := int64(0)
	buf := make([]ring.Entry, 0, batch)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := entries[i%len(entries)]
		seq++
		e.Seq = seq
		buf = append(buf, e)
		if len(buf) == batch || i == b.N-1 {
			if _, err := s.Append("agent-1", buf); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
