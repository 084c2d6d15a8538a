package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// Range selects records by time.
type Range struct {
	// Start is the earliest record time, inclusive; End the time to stop before. Both are in
	// nanoseconds since the Unix epoch; math.MinInt64 and math.MaxInt64 set no bound.
	Start, End int64
	// After, when set, is the key of a record: the scan starts after it. It must lie within
	// the range.
	After []byte
}

// All is the range of every record.
var All = Range{Start: math.MinInt64, End: math.MaxInt64}

// Item is a stored record as Scan reads it.
type Item struct {
	// Key is the record's key; a later scan resumes after it with Range.After.
	Key []byte
	// Time is the time the record is stored at.
	Time int64
	// Meta is the record's envelope, type and operation flags.
	Meta ring.Meta
	// Raw is the record's protobuf encoding.
	Raw []byte
}

// Scan calls fn with every record in rg, in time order; records of the same time in their
// agent's order. The Item and what it holds are valid only during the call. Scan stops when fn
// returns false or an error, or ctx ends.
func (s *Store) Scan(ctx context.Context, rg Range, fn func(*Item) (bool, error)) error {
	opts := &pebble.IterOptions{UpperBound: []byte{prefixRecord + 1}}
	if rg.Start != math.MinInt64 {
		opts.LowerBound = timeKey(rg.Start)
	} else {
		opts.LowerBound = []byte{prefixRecord}
	}
	if rg.End != math.MaxInt64 {
		opts.UpperBound = timeKey(rg.End)
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer it.Close()
	var ok bool
	if rg.After != nil {
		ok = it.SeekGE(append(slices.Clip(rg.After), 0))
	} else {
		ok = it.First()
	}
	var item Item
	for n := 0; ok; ok = it.Next() {
		if n++; n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := it.Key()
		if len(k) != recordKeyLen {
			return fmt.Errorf("record key %x of %d bytes", k, len(k))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		m, err := ring.Scan(v)
		if err != nil {
			return fmt.Errorf("stored record %x: %w", k, err)
		}
		item = Item{Key: k, Time: recordKeyTime(k), Meta: m, Raw: v}
		more, err := fn(&item)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// Bounds returns the times of the oldest and newest records stored; ok is false when there are
// none.
func (s *Store) Bounds() (oldest, newest int64, ok bool) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixRecord}, UpperBound: []byte{prefixRecord + 1}})
	if err != nil {
		return 0, 0, false
	}
	defer it.Close()
	if !it.First() {
		return 0, 0, false
	}
	oldest = recordKeyTime(it.Key())
	it.Last()
	return oldest, recordKeyTime(it.Key()), true
}

// Nodes returns the nodes the store has records of.
func (s *Store) Nodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.nodes))
	for n := range s.nodes {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// ErrUnknownNode is returned for a node the store has no records of.
var ErrUnknownNode = errors.New("no records of this node")

// Entities resolves the entities of one node's records: from those a scan showed it (Observe),
// else from the entity table, in the version stored last. It implements policy/field.Entities.
// It is not safe for concurrent use.
type Entities struct {
	s          *Store
	node       uint32
	known      bool
	procs      map[[16]byte]*sysflowv1.Process
	files      map[string]*sysflowv1.File
	containers map[string]*sysflowv1.Container
	pods       map[string]*sysflowv1.Pod
	key        []byte
}

// maxCached bounds the entities an Entities keeps of each kind before it starts again.
const maxCached = 200_000

// Entities returns a resolver for a node's entities.
func (s *Store) Entities(node string) *Entities {
	s.mu.Lock()
	idx, ok := s.nodes[node]
	s.mu.Unlock()
	return &Entities{
		s: s, node: idx, known: ok,
		procs: map[[16]byte]*sysflowv1.Process{}, files: map[string]*sysflowv1.File{},
		containers: map[string]*sysflowv1.Container{}, pods: map[string]*sysflowv1.Pod{},
	}
}

// Observe keeps rec, if it is an entity, as the current version of that entity.
func (e *Entities) Observe(rec *sysflowv1.Record) {
	switch x := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		put(e.procs, procKey(x.Process.GetOid()), x.Process)
	case *sysflowv1.Record_File:
		put(e.files, string(x.File.GetOid()), x.File)
	case *sysflowv1.Record_Container:
		put(e.containers, x.Container.GetId(), x.Container)
	case *sysflowv1.Record_Pod:
		put(e.pods, x.Pod.GetId(), x.Pod)
	}
}

func put[K comparable, V any](m map[K]V, k K, v V) {
	if len(m) >= maxCached {
		clear(m)
	}
	m[k] = v
}

func procKey(oid *sysflowv1.OID) [16]byte {
	var k [16]byte
	procID(k[:0], oid.GetHpid(), oid.GetCreateTs())
	return k
}

// get reads an entity from the table into rec; false when it is not there or is unreadable.
func (e *Entities) get(kind byte, id []byte, rec *sysflowv1.Record) bool {
	if !e.known {
		return false
	}
	e.key = entityKey(e.key[:0], prefixEntity, e.node, kind, id)
	v, closer, err := e.s.db.Get(e.key)
	if err != nil {
		return false
	}
	defer closer.Close()
	return proto.Unmarshal(v, rec) == nil
}

// Process returns the process with this object id, or nil.
func (e *Entities) Process(oid *sysflowv1.OID) *sysflowv1.Process {
	k := procKey(oid)
	if p, ok := e.procs[k]; ok {
		return p
	}
	var rec sysflowv1.Record
	var p *sysflowv1.Process
	if e.get(kindProcess, k[:], &rec) {
		p = rec.GetProcess()
	}
	put(e.procs, k, p) // nil too: it is not looked up again
	return p
}

// File returns the file with this object id, or nil.
func (e *Entities) File(oid []byte) *sysflowv1.File {
	if f, ok := e.files[string(oid)]; ok {
		return f
	}
	var rec sysflowv1.Record
	var f *sysflowv1.File
	if e.get(kindFile, oid, &rec) {
		f = rec.GetFile()
	}
	put(e.files, string(oid), f)
	return f
}

// Container returns the container with this id, or nil.
func (e *Entities) Container(id string) *sysflowv1.Container {
	if c, ok := e.containers[id]; ok {
		return c
	}
	var rec sysflowv1.Record
	var c *sysflowv1.Container
	if e.get(kindContainer, []byte(id), &rec) {
		c = rec.GetContainer()
	}
	put(e.containers, id, c)
	return c
}

// Pod returns the pod with this id, or nil.
func (e *Entities) Pod(id string) *sysflowv1.Pod {
	if p, ok := e.pods[id]; ok {
		return p
	}
	var rec sysflowv1.Record
	var p *sysflowv1.Pod
	if e.get(kindPod, []byte(id), &rec) {
		p = rec.GetPod()
	}
	put(e.pods, id, p)
	return p
}

// LatestProcess returns the most recently created process of a node with this host pid, or,
// when createTS is not zero, exactly that process; nil when there is none.
func (s *Store) LatestProcess(node string, hpid, createTS int64) (*sysflowv1.Process, error) {
	s.mu.Lock()
	idx, ok := s.nodes[node]
	s.mu.Unlock()
	if !ok {
		return nil, ErrUnknownNode
	}
	if createTS != 0 {
		return s.Entities(node).Process(&sysflowv1.OID{Hpid: hpid, CreateTs: createTS}), nil
	}
	prefix := entityKey(nil, prefixEntity, idx, kindProcess, binary.BigEndian.AppendUint64(nil, uint64(hpid)^(1<<63)))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.Last() {
		return nil, it.Error()
	}
	var rec sysflowv1.Record
	if err := proto.Unmarshal(it.Value(), &rec); err != nil {
		return nil, fmt.Errorf("stored process %d: %w", hpid, err)
	}
	return rec.GetProcess(), nil
}

// Children returns the processes whose parent is oid, in order of creation.
func (s *Store) Children(node string, oid *sysflowv1.OID) ([]*sysflowv1.Process, error) {
	s.mu.Lock()
	idx, ok := s.nodes[node]
	s.mu.Unlock()
	if !ok {
		return nil, ErrUnknownNode
	}
	prefix := append([]byte{prefixChildren}, binary.BigEndian.AppendUint32(nil, idx)...)
	prefix = procID(prefix, oid.GetHpid(), oid.GetCreateTs())
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	ents := s.Entities(node)
	var out []*sysflowv1.Process
	for ok := it.First(); ok; ok = it.Next() {
		id := it.Key()[len(prefix):]
		if len(id) != 16 {
			continue
		}
		hpid, cts := parseProcID(id)
		if p := ents.Process(&sysflowv1.OID{Hpid: hpid, CreateTs: cts}); p != nil {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b *sysflowv1.Process) int {
		return cmp.Compare(a.GetOid().GetCreateTs(), b.GetOid().GetCreateTs())
	})
	return out, it.Error()
}

// prefixEnd returns the first key after every key with this prefix.
func prefixEnd(prefix []byte) []byte {
	end := slices.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
