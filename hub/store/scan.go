package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"

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
	// NodeID and AgentID say where the record comes from; Epoch and Seq are its position.
	NodeID, AgentID string
	Epoch, Seq      int64
	// Type is the record's type, OpFlags its operation flags (zero for types without them).
	Type    sysflowv1.RecordType
	OpFlags int32
	// Raw is the record's protobuf encoding.
	Raw []byte
}

// scanBatch is a run of items read ahead by Scan, with the bytes they point into.
type scanBatch struct {
	items []Item
	buf   []byte
	offs  []int // where each item's key starts in buf; its value follows its key
	lens  []int // value lengths
}

const (
	scanBatchItems = 512
	scanBatchBytes = 256 << 10
)

// Scan calls fn with every record in rg, in time order; records of the same time in their
// agent's order. The Item and what it holds are valid only during the call. Scan stops when fn
// returns false or an error, or ctx ends.
//
// Records are read ahead on a goroutine of their own, so that reading the store and what fn
// does with the records run at the same time; both have ended when Scan returns.
func (s *Store) Scan(ctx context.Context, rg Range, fn func(*Item) (bool, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *scanBatch, 2)
	free := make(chan *scanBatch, 3)
	for range cap(free) {
		free <- &scanBatch{}
	}
	done := make(chan error, 1)
	go func() {
		defer close(full)
		done <- s.readAhead(ctx, rg, free, full)
	}()
	stop := func(err error) error {
		cancel()
		for range full { // let the reader end
		}
		<-done
		return err
	}
	for b := range full {
		for i := range b.items {
			more, err := fn(&b.items[i])
			if err != nil || !more {
				return stop(err)
			}
		}
		free <- b
	}
	return <-done
}

// names returns the store's node and agent names by number.
func (s *Store) names() (nodes map[uint32]string, agents map[uint32]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nodes = maps.Clone(s.nodeNames)
	agents = make(map[uint32]string, len(s.agents))
	for id, a := range s.agents {
		agents[a.idx] = id
	}
	return nodes, agents
}

// readAhead reads the records in rg into batches taken from free and sends them on full.
func (s *Store) readAhead(ctx context.Context, rg Range, free <-chan *scanBatch, full chan<- *scanBatch) error {
	opts := &pebble.IterOptions{LowerBound: []byte{prefixRecord}, UpperBound: []byte{prefixRecord + 1}}
	if rg.Start != math.MinInt64 {
		opts.LowerBound = timeKey(rg.Start)
	}
	if rg.End != math.MaxInt64 {
		opts.UpperBound = timeKey(rg.End)
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return err
	}
	defer it.Close()
	nodes, agents := s.names()
	name := func(m map[uint32]string, idx uint32, nodes bool) string {
		if n, ok := m[idx]; ok {
			return n
		}
		// Named since the scan started.
		fresh, freshAgents := s.names()
		if nodes {
			maps.Copy(m, fresh)
		} else {
			maps.Copy(m, freshAgents)
		}
		return m[idx]
	}
	var ok bool
	if rg.After != nil {
		ok = it.SeekGE(append(slices.Clip(rg.After), 0))
	} else {
		ok = it.First()
	}
	var b *scanBatch
	send := func() error {
		// The items point into buf only now that it no longer grows.
		for i := range b.items {
			k := b.buf[b.offs[i] : b.offs[i]+recordKeyLen]
			b.items[i].Key = k
			b.items[i].Raw = b.buf[b.offs[i]+recordKeyLen+recordValueHeader : b.offs[i]+recordKeyLen+b.lens[i]]
		}
		select {
		case full <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for ; ok; ok = it.Next() {
		if b == nil {
			select {
			case b = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			b.items, b.buf, b.offs, b.lens = b.items[:0], b.buf[:0], b.offs[:0], b.lens[:0]
		}
		k := it.Key()
		if len(k) != recordKeyLen {
			return fmt.Errorf("record key %x of %d bytes", k, len(k))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if len(v) < recordValueHeader {
			return fmt.Errorf("record %x: value of %d bytes", k, len(v))
		}
		agent := binary.BigEndian.Uint32(k[9:13])
		b.items = append(b.items, Item{
			Time:    recordKeyTime(k),
			NodeID:  name(nodes, binary.BigEndian.Uint32(v[5:9]), true),
			AgentID: name(agents, agent, false),
			Epoch:   int64(binary.BigEndian.Uint64(k[13:21])),
			Seq:     int64(binary.BigEndian.Uint64(k[21:29])),
			Type:    sysflowv1.RecordType(v[0]),
			OpFlags: int32(binary.BigEndian.Uint32(v[1:5])),
		})
		b.offs = append(b.offs, len(b.buf))
		b.lens = append(b.lens, len(v))
		b.buf = append(append(b.buf, k...), v...)
		if len(b.items) == scanBatchItems || len(b.buf) >= scanBatchBytes {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if b != nil && len(b.items) > 0 {
		return send()
	}
	return nil
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

// Entities resolves the entities of one node's records, as they were at a time (At): in the
// version a scan showed it last (Observe), else in the entity table's version in force then
// (the latest at or before that time, else the earliest). It implements policy/field.Entities.
// It is not safe for concurrent use; Close releases it.
type Entities struct {
	s     *Store
	node  uint32
	known bool
	at    int64
	// cache says whether what was looked up and observed is kept; without it every lookup
	// reads the table as of the time set.
	cache bool
	// versions keeps, without cache, the versions read and the times they were in force.
	versions   map[string]version
	it         *pebble.Iterator
	procs      map[[16]byte]*sysflowv1.Process
	files      map[string]*sysflowv1.File
	containers map[string]*sysflowv1.Container
	pods       map[string]*sysflowv1.Pod
	key        []byte
}

// maxCached bounds the entities an Entities keeps of each kind before it starts again.
const maxCached = 200_000

// Entities returns a resolver for a node's entities, for a scan in time order: it keeps what it
// looked up and what the scan showed it, and resolves entities as of the time of the record
// read when it first meets them. Its time is the newest until At sets it.
func (s *Store) Entities(node string) *Entities {
	e := s.EntitiesAt(node)
	e.cache = true
	return e
}

// EntitiesAt returns a resolver for a node's entities that reads the entity table as of the
// time At sets (the newest until then) at every lookup, keeping nothing.
func (s *Store) EntitiesAt(node string) *Entities {
	s.mu.Lock()
	idx, ok := s.nodes[node]
	s.mu.Unlock()
	return &Entities{
		s: s, node: idx, known: ok, at: math.MaxInt64, versions: map[string]version{},
		procs: map[[16]byte]*sysflowv1.Process{}, files: map[string]*sysflowv1.File{},
		containers: map[string]*sysflowv1.Container{}, pods: map[string]*sysflowv1.Pod{},
	}
}

// At sets the time entities are resolved as of, in nanoseconds since the Unix epoch.
func (e *Entities) At(ts int64) { e.at = ts }

// Close releases the resolver.
func (e *Entities) Close() error {
	if e.it == nil {
		return nil
	}
	err := e.it.Close()
	e.it = nil
	return err
}

// Observe keeps rec, if it is an entity, as the current version of that entity.
func (e *Entities) Observe(rec *sysflowv1.Record) {
	if !e.cache {
		return
	}
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

// version is a version of an entity and the times it is in force: from, inclusive (math.MinInt64
// for the earliest version), to until, exclusive (math.MaxInt64 for the latest).
type version struct {
	rec         *sysflowv1.Record
	from, until int64
}

// get returns the version of an entity in force at e.at; nil when there is none or it is
// unreadable.
func (e *Entities) get(kind byte, id []byte) *sysflowv1.Record {
	if !e.known || len(id) > maxEntityID {
		return nil
	}
	if e.cache {
		var rec sysflowv1.Record
		if _, ok := e.read(kind, id, &rec); !ok {
			return nil
		}
		return &rec
	}
	key := string(append([]byte{kind}, id...))
	if v, ok := e.versions[key]; ok && v.from <= e.at && e.at < v.until {
		return v.rec
	}
	rec := new(sysflowv1.Record)
	v, ok := e.read(kind, id, rec)
	if !ok {
		return nil
	}
	v.rec = rec
	if len(e.versions) >= maxCached {
		clear(e.versions)
	}
	e.versions[key] = v
	return rec
}

// read reads into rec the version of an entity in force at e.at, and returns when it is in
// force; false when there is none or it is unreadable.
func (e *Entities) read(kind byte, id []byte, rec *sysflowv1.Record) (version, bool) {
	if e.it == nil {
		it, err := e.s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEntity}, UpperBound: []byte{prefixEntity + 1}})
		if err != nil {
			return version{}, false
		}
		e.it = it
	}
	prefix := entityKey(e.key[:0], prefixEntity, e.node, kind, id)
	n := len(prefix)
	var found bool
	if e.at == math.MaxInt64 {
		found = e.it.SeekLT(prefixEnd(prefix))
	} else {
		found = e.it.SeekLT(binary.BigEndian.AppendUint64(prefix, uint64(e.at+1)^(1<<63)))
	}
	e.key = prefix[:n]
	v := version{from: math.MinInt64, until: math.MaxInt64}
	if found && isVersion(e.it.Key(), prefix[:n]) {
		v.from = getTime(e.it.Key()[n:])
	} else if !e.it.SeekGE(prefix[:n]) || !isVersion(e.it.Key(), prefix[:n]) {
		return v, false
	}
	raw, err := e.it.ValueAndErr()
	if err != nil || ring.Decode(raw, rec) != nil {
		return v, false
	}
	if !e.cache && e.it.Next() && isVersion(e.it.Key(), prefix[:n]) {
		v.until = getTime(e.it.Key()[n:])
	}
	return v, true
}

// isVersion reports whether k is the key of a version of the entity whose id's key is idKey.
func isVersion(k, idKey []byte) bool {
	return len(k) == len(idKey)+8 && string(k[:len(idKey)]) == string(idKey)
}

// Process returns the process with this object id, or nil.
func (e *Entities) Process(oid *sysflowv1.OID) *sysflowv1.Process {
	k := procKey(oid)
	if p, ok := e.procs[k]; ok {
		return p
	}
	var p *sysflowv1.Process
	if rec := e.get(kindProcess, k[:]); rec != nil {
		p = rec.GetProcess()
	}
	if e.cache {
		put(e.procs, k, p) // nil too: it is not looked up again
	}
	return p
}

// File returns the file with this object id, or nil.
func (e *Entities) File(oid []byte) *sysflowv1.File {
	if f, ok := e.files[string(oid)]; ok {
		return f
	}
	var f *sysflowv1.File
	if rec := e.get(kindFile, oid); rec != nil {
		f = rec.GetFile()
	}
	if e.cache {
		put(e.files, string(oid), f)
	}
	return f
}

// Container returns the container with this id, or nil.
func (e *Entities) Container(id string) *sysflowv1.Container {
	if c, ok := e.containers[id]; ok {
		return c
	}
	var c *sysflowv1.Container
	if rec := e.get(kindContainer, []byte(id)); rec != nil {
		c = rec.GetContainer()
	}
	if e.cache {
		put(e.containers, id, c)
	}
	return c
}

// Pod returns the pod with this id, or nil.
func (e *Entities) Pod(id string) *sysflowv1.Pod {
	if p, ok := e.pods[id]; ok {
		return p
	}
	var p *sysflowv1.Pod
	if rec := e.get(kindPod, []byte(id)); rec != nil {
		p = rec.GetPod()
	}
	if e.cache {
		put(e.pods, id, p)
	}
	return p
}

// LatestProcess returns the most recently created process of a node with this host pid, or,
// when createTS is not zero, exactly that process, in its latest version; nil when there is
// none.
func (s *Store) LatestProcess(node string, hpid, createTS int64) (*sysflowv1.Process, error) {
	s.mu.Lock()
	idx, ok := s.nodes[node]
	s.mu.Unlock()
	if !ok {
		return nil, ErrUnknownNode
	}
	if createTS != 0 {
		e := s.EntitiesAt(node)
		defer e.Close()
		return e.Process(&sysflowv1.OID{Hpid: hpid, CreateTs: createTS}), nil
	}
	prefix := append([]byte{prefixEntity}, binary.BigEndian.AppendUint32(nil, idx)...)
	prefix = append(prefix, kindProcess, 16)
	prefix = binary.BigEndian.AppendUint64(prefix, uint64(hpid)^(1<<63))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if !it.Last() {
		return nil, it.Error()
	}
	var rec sysflowv1.Record
	if err := ring.Decode(it.Value(), &rec); err != nil {
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
	ents := s.EntitiesAt(node)
	defer ents.Close()
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
