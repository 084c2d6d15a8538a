package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// Run applies retention every Options.RetentionInterval until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.RetentionInterval)
	defer t.Stop()
	for {
		if _, err := s.Retain(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Error("retention failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Retained says what a retention pass removed.
type Retained struct {
	// Before is the time before which records were removed; math.MinInt64 when none were.
	Before int64
	// Entities is the number of entities removed.
	Entities int
}

// Retain removes the records the retention options no longer keep, as of now, and the entities
// that no record kept may reference.
func (s *Store) Retain(ctx context.Context, now time.Time) (Retained, error) {
	s.retainMu.Lock()
	defer s.retainMu.Unlock()
	res := Retained{Before: math.MinInt64}
	oldest, newest, ok := s.Bounds()
	if !ok {
		return res, nil
	}
	cutoff := int64(math.MinInt64)
	if age := s.opts.RetentionAge; age > 0 {
		cutoff = min(newest, now.UnixNano()) - int64(age)
	}
	if limit := s.opts.RetentionBytes; limit > 0 {
		c, err := s.sizeCutoff(oldest, newest, limit)
		if err != nil {
			return res, err
		}
		cutoff = max(cutoff, c)
	}
	if cutoff <= oldest {
		return res, nil
	}
	if err := s.db.DeleteRange([]byte{prefixRecord}, timeKey(cutoff), pebble.Sync); err != nil {
		return res, fmt.Errorf("remove records before %s: %w", time.Unix(0, cutoff).UTC(), err)
	}
	res.Before = cutoff
	n, err := s.retainEntities(ctx, cutoff, cutoff-usePeriod)
	res.Entities = n
	if err != nil {
		return res, err
	}
	// Give the space back now rather than at Pebble's next compaction of those files.
	if err := s.db.Compact(ctx, []byte{prefixRecord}, timeKey(cutoff), false); err != nil && ctx.Err() == nil {
		return res, fmt.Errorf("compact removed records: %w", err)
	}
	s.log.Info("retention removed old records", "before", time.Unix(0, cutoff).UTC(), "entities", n)
	return res, nil
}

// sizeCutoff returns the time before which records must go for the store to fit in limit bytes,
// with a tenth of the limit to spare; math.MinInt64 when it fits.
func (s *Store) sizeCutoff(oldest, newest int64, limit int64) (int64, error) {
	used := int64(s.db.Metrics().DiskSpaceUsage())
	if used <= limit {
		return math.MinInt64, nil
	}
	excess := uint64(used - limit + limit/10)
	lo, hi := oldest, newest+1
	for lo < hi { // the first time t such that the records before it take excess bytes
		mid := lo + (hi-lo)/2
		n, err := s.db.EstimateDiskUsage([]byte{prefixRecord}, timeKey(mid))
		if err != nil {
			return 0, err
		}
		if n >= excess {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// retainEntities removes the entity versions no record kept can resolve to: versions followed by
// a later one at or before cutoff; and the last version of processes and files that neither
// were stored nor referenced by a record at or after before. It drops what the store remembers
// of their use.
func (s *Store) retainEntities(ctx context.Context, cutoff, before int64) (int, error) {
	used, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixUsed}, UpperBound: []byte{prefixUsed + 1}})
	if err != nil {
		return 0, err
	}
	defer used.Close()
	lastUse := func(idKey []byte) int64 {
		k := append([]byte{prefixUsed}, idKey[1:]...)
		if !used.SeekGE(k) || string(used.Key()) != string(k) || len(used.Value()) != 8 {
			return math.MinInt64
		}
		return int64(binary.BigEndian.Uint64(used.Value()))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEntity}, UpperBound: []byte{prefixEntity + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	var (
		rec     sysflowv1.Record
		removed int
		refs    []entityRef
		n       int
	)
	// last removes the last version of an entity, with its key k, if nothing kept needs it.
	last := func(k, idKey []byte, ts int64, v []byte) {
		kind := idKey[5]
		if kind != kindProcess && kind != kindFile {
			return
		}
		if max(ts, lastUse(idKey)) >= before {
			return
		}
		b.Delete(k, nil)
		b.Delete(append([]byte{prefixUsed}, idKey[1:]...), nil)
		rec.Reset()
		if ring.Decode(v, &rec) == nil {
			if p := rec.GetProcess(); p != nil && p.GetPoid() != nil {
				c := append([]byte{prefixChildren}, idKey[1:5]...)
				c = procID(c, p.GetPoid().GetHpid(), p.GetPoid().GetCreateTs())
				c = procID(c, p.GetOid().GetHpid(), p.GetOid().GetCreateTs())
				b.Delete(c, nil)
			}
		}
		var r entityRef
		r.node, r.kind = binary.BigEndian.Uint32(idKey[1:5]), kind
		r.n = uint8(copy(r.id[:], idKey[7:]))
		refs = append(refs, r)
		removed++
	}
	var prevKey, prevID, prevVal []byte
	var prevTS int64
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n&1023 == 0 && ctx.Err() != nil {
			return removed, ctx.Err()
		}
		k := it.Key()
		idKey, ts, valid := parseEntityKey(k)
		if !valid {
			continue
		}
		if prevKey != nil {
			if string(prevID) == string(idKey) {
				// A later version at or before the cutoff serves every record kept.
				if ts <= cutoff {
					b.Delete(prevKey, nil)
					removed++
				}
			} else {
				last(prevKey, prevID, prevTS, prevVal)
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return removed, err
		}
		prevKey, prevVal = append(prevKey[:0], k...), append(prevVal[:0], v...)
		prevID, prevTS = prevKey[:len(idKey)], ts
	}
	if prevKey != nil {
		last(prevKey, prevID, prevTS, prevVal)
	}
	if err := it.Error(); err != nil {
		return removed, err
	}
	// Last uses of entities never stored, or older than the entity itself, are not needed.
	for ok := used.First(); ok; ok = used.Next() {
		if v := used.Value(); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < before {
			b.Delete(used.Key(), nil)
		}
	}
	if err := used.Error(); err != nil {
		return removed, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return removed, err
	}
	s.mu.Lock()
	for _, r := range refs {
		delete(s.used, r)
	}
	for r, u := range s.used {
		if u.ts < before && u.ts == u.saved {
			delete(s.used, r)
		}
	}
	s.mu.Unlock()
	return removed, nil
}

// Compact compacts the whole store, so that reads that follow go through the fewest files.
// Pebble compacts on its own as records arrive; this is for measuring a store at rest.
func (s *Store) Compact(ctx context.Context) error {
	return s.db.Compact(ctx, []byte{0}, []byte{0xff}, true)
}
