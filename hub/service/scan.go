package service

import (
	"context"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/store"
)

// scanned is a record a query's scan read: whether it matched, and if it did, the record and the
// entities it references, as of its time.
type scanned struct {
	key     []byte
	matched bool
	rec     *sysflowv1.Record
	refs    []*sysflowv1.Record
	err     error // the record matched but could not be decoded
}

// scanMatches scans sel's range and calls fn, in scan order, with every record read, until fn
// returns false. The store reads ahead on a goroutine of its own while the records are matched
// here: matching is sequential, since the resolvers follow the entities the scan shows.
func (s *Service) scanMatches(ctx context.Context, sel *selection, fn func(*scanned) bool) error {
	var sc scanned
	return s.cfg.Store.Scan(ctx, sel.rg, func(it *store.Item) (bool, error) {
		matched, entity := sel.match(it)
		sc = scanned{key: it.Key, matched: matched}
		if matched {
			sc.rec, sc.refs, sc.err = sel.decode(it, entity)
		}
		return fn(&sc), nil
	})
}

// decode decodes a matching record, unless it is an entity match decoded already, and resolves
// what it references as of its time.
func (sel *selection) decode(it *store.Item, rec *sysflowv1.Record) (*sysflowv1.Record, []*sysflowv1.Record, error) {
	if rec == nil {
		rec = new(sysflowv1.Record)
		if err := ring.Decode(it.Raw, rec); err != nil {
			return nil, nil, err
		}
	}
	c := refCollector{node: it.NodeID, ents: sel.entities(it.NodeID), seen: map[proto.Message]bool{}}
	c.ents.At(it.Time)
	c.record(rec)
	return rec, c.out, nil
}
