package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/hub/ring"
)

// Options configure a Store.
type Options struct {
	// Dir is the directory the store lives in; it is created if needed.
	Dir string
	// RetentionAge is how far back from the newest record records are kept; zero keeps records
	// of any age.
	RetentionAge time.Duration
	// RetentionBytes bounds the store's size on disk: beyond it the oldest records are removed;
	// zero sets no bound.
	RetentionBytes int64
	// RetentionInterval is how often retention runs, when Run runs; zero means a minute.
	RetentionInterval time.Duration
	// CacheBytes is the size of the cache of decompressed blocks that reads go through; zero
	// means 128 MiB.
	CacheBytes int64
	// Logger receives the store's logs (Pebble's among them); nil discards them.
	Logger *slog.Logger
}

// Store is the hub's durable store. It is safe for concurrent use.
type Store struct {
	db   *pebble.DB
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	agents     map[string]*agentState
	agentLocks map[string]*sync.Mutex
	addrs      map[string]string // agent addresses to agent ids
	nodes      map[string]uint32
	nodeNames  map[uint32]string
	nextAgent  uint32
	nextNode   uint32
	unsaved    map[string]uint32 // nodes whose key is not on disk yet
	used       map[entityRef]*usage
	retainMu   sync.Mutex // one retention pass at a time
}

// entityRef names an entity in the used map.
type entityRef struct {
	node uint32
	kind byte
	n    uint8
	id   [20]byte
}

func (r entityRef) key(p byte) []byte { return entityKey(nil, p, r.node, r.kind, r.id[:r.n]) }

// usage is when an entity was last referenced, and what of that is on disk.
type usage struct {
	ts, saved int64
}

// usePeriod is how much later in record time an entity must be referenced before its last use
// is written again.
const usePeriod = int64(time.Minute)

// Open opens the store in opts.Dir, creating it if needed. It refuses a store written with
// another layout version.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: no directory")
	}
	if opts.RetentionInterval <= 0 {
		opts.RetentionInterval = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 128 << 20
	}
	cache := pebble.NewCache(opts.CacheBytes)
	defer cache.Unref() // the store holds its own reference
	popts := &pebble.Options{
		Cache:              cache,
		Logger:             pebbleLogger{log.With("component", "pebble")},
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       64 << 20,
		// Record keys arrive in time order from every agent; fewer, larger L0 files help.
		L0CompactionThreshold: 4,
		L0StopWritesThreshold: 1000,
		LBaseMaxBytes:         256 << 20,
	}
	popts.EnsureDefaults()
	db, err := pebble.Open(opts.Dir, popts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	s := &Store{
		db: db, opts: opts, log: log,
		agents: map[string]*agentState{}, agentLocks: map[string]*sync.Mutex{}, addrs: map[string]string{},
		nodes: map[string]uint32{}, nodeNames: map[uint32]string{}, unsaved: map[string]uint32{},
		used: map[entityRef]*usage{},
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", opts.Dir, err)
	}
	return s, nil
}

// load checks the layout version (writing it into a new store) and reads agents and nodes.
func (s *Store) load() error {
	v, closer, err := s.db.Get(versionKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		empty, err := s.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return errors.New("the store has records but no layout version")
		}
		if err := s.db.Set(versionKey, []byte(strconv.Itoa(LayoutVersion)), pebble.Sync); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		got := string(v)
		closer.Close()
		if got != strconv.Itoa(LayoutVersion) {
			return fmt.Errorf("the store has layout version %s; this hub reads version %d", got, LayoutVersion)
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAgent}, UpperBound: []byte{prefixAgent + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		a, err := decodeAgent(it.Value())
		if err != nil {
			it.Close()
			return fmt.Errorf("agent %q: %w", it.Key()[1:], err)
		}
		s.agents[string(it.Key()[1:])] = a
		s.nextAgent = max(s.nextAgent, a.idx+1)
	}
	if err := it.Close(); err != nil {
		return err
	}
	it, err = s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixAddress}, UpperBound: []byte{prefixAddress + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		s.addrs[string(it.Key()[1:])] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		return err
	}
	it, err = s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixNode}, UpperBound: []byte{prefixNode + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if len(it.Value()) != 4 {
			it.Close()
			return fmt.Errorf("node %q: value of %d bytes", it.Key()[1:], len(it.Value()))
		}
		idx := binary.BigEndian.Uint32(it.Value())
		s.nodes[string(it.Key()[1:])] = idx
		s.nodeNames[idx] = string(it.Key()[1:])
		s.nextNode = max(s.nextNode, idx+1)
	}
	return it.Close()
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// Close closes the store, writing when entities were last used.
func (s *Store) Close() error {
	b := s.db.NewBatch()
	s.mu.Lock()
	for r, u := range s.used {
		if u.ts > u.saved {
			b.Set(r.key(prefixUsed), binary.BigEndian.AppendUint64(nil, uint64(u.ts)), nil)
		}
	}
	s.mu.Unlock()
	err := b.Commit(pebble.Sync)
	return errors.Join(err, s.db.Close())
}

// Size returns the disk space the store uses, in bytes: tables, write-ahead log and
// manifests.
func (s *Store) Size() int64 {
	return int64(s.db.Metrics().DiskSpaceUsage())
}

// Last returns the last position of an agent the store holds.
func (s *Store) Last(agentID string) (ring.Position, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[agentID]
	if !ok || (a.epoch == 0 && a.seq == 0) {
		return ring.Position{}, false
	}
	return ring.Position{Epoch: a.epoch, Seq: a.seq}, true
}

// AgentAt returns the id of the agent last seen at an address, "" if none was.
func (s *Store) AgentAt(addr string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[addr]
}

// SetAgentAt remembers that the agent at an address has this id, so that after a restart the
// hub can resume it before it says who it is.
func (s *Store) SetAgentAt(addr, agentID string) error {
	s.mu.Lock()
	same := s.addrs[addr] == agentID
	s.addrs[addr] = agentID
	s.mu.Unlock()
	if same {
		return nil
	}
	return s.db.Set(append([]byte{prefixAddress}, addr...), []byte(agentID), pebble.NoSync)
}

// agentLock returns the lock that serialises one agent's appends.
func (s *Store) agentLock(agentID string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.agentLocks[agentID]
	if l == nil {
		l = new(sync.Mutex)
		s.agentLocks[agentID] = l
	}
	return l
}

// nodeIndex returns a node's number, assigning one if it has none. s.mu is held.
func (s *Store) nodeIndex(node string) uint32 {
	if idx, ok := s.nodes[node]; ok {
		return idx
	}
	idx := s.nextNode
	s.nextNode++
	s.nodes[node] = idx
	s.nodeNames[idx] = node
	s.unsaved[node] = idx
	return idx
}

// Append stores an agent's records, in the order given, and returns once they are on disk.
// Records at or before the agent's stored position are duplicates and are skipped; records
// marked Dropped move the position on without being stored. On error nothing is stored and the
// position stays where it was.
func (s *Store) Append(agentID string, entries []ring.Entry) (ring.AppendResult, error) {
	l := s.agentLock(agentID)
	l.Lock()
	defer l.Unlock()

	s.mu.Lock()
	prev, ok := s.agents[agentID]
	if !ok {
		prev = &agentState{idx: s.nextAgent}
		s.nextAgent++
		if len(entries) > 0 {
			prev.node = s.nodeIndex(entries[0].NodeID)
		}
		s.agents[agentID] = prev
	}
	st := *prev
	s.mu.Unlock()

	var (
		res      ring.AppendResult
		r        refs
		rec      sysflowv1.Record
		key, val []byte
		touches  []touch
		lastNode string
		haveNode bool
		nodeIdx  uint32
		b        = s.db.NewBatch()
	)
	defer b.Close()
	last := ring.Position{Epoch: st.epoch, Seq: st.seq}
	for i := range entries {
		e := &entries[i]
		p := ring.Position{Epoch: e.Epoch, Seq: e.Seq}
		if !p.After(last) {
			res.Duplicates++
			continue
		}
		last = p
		if e.Dropped {
			res.Dropped++
			continue
		}
		if err := readRefs(e.Raw, &r); err != nil {
			return ring.AppendResult{}, fmt.Errorf("record %s/%d/%d: %w", agentID, e.Epoch, e.Seq, err)
		}
		if !haveNode || e.NodeID != lastNode {
			s.mu.Lock()
			nodeIdx = s.nodeIndex(e.NodeID)
			s.mu.Unlock()
			lastNode, haveNode = e.NodeID, true
		}
		ts := r.ts
		switch {
		case r.hasTime:
			st.lastTime, st.hasLastTime = ts, true
		case st.hasLastTime:
			ts = st.lastTime
		default:
			ts = nextTime(entries[i+1:])
		}
		key = recordKey(key[:0], ts, st.idx, e.Epoch, e.Seq)
		val = appendRecordValue(val[:0], e, nodeIdx)
		if err := b.Set(key, val, nil); err != nil {
			return ring.AppendResult{}, err
		}
		res.Appended++
		if isEntity(r.typ) {
			rec.Reset()
			if err := ring.Decode(e.Raw, &rec); err != nil {
				return ring.AppendResult{}, fmt.Errorf("record %s/%d/%d: %w", agentID, e.Epoch, e.Seq, err)
			}
			if err := putEntity(b, nodeIdx, &rec, e.Raw, ts); err != nil {
				return ring.AppendResult{}, err
			}
			continue
		}
		if r.hasProc {
			t := touch{ref: entityRef{node: nodeIdx, kind: kindProcess, n: 16}, ts: ts}
			procID(t.ref.id[:0], r.hpid, r.createTS)
			touches = append(touches, t)
		}
		for _, f := range r.files {
			if len(f) > 0 && len(f) <= 20 {
				t := touch{ref: entityRef{node: nodeIdx, kind: kindFile, n: uint8(len(f))}, ts: ts}
				copy(t.ref.id[:], f)
				touches = append(touches, t)
			}
		}
	}
	res.Last = last
	if res.Appended == 0 && res.Dropped == 0 {
		return res, nil
	}
	st.epoch, st.seq = last.Epoch, last.Seq
	s.mu.Lock()
	for name, idx := range s.unsaved {
		b.Set(append([]byte{prefixNode}, name...), binary.BigEndian.AppendUint32(nil, idx), nil)
	}
	savedNodes := make([]string, 0, len(s.unsaved))
	for name := range s.unsaved {
		savedNodes = append(savedNodes, name)
	}
	s.markUsed(b, touches)
	s.mu.Unlock()
	if err := b.Set(append([]byte{prefixAgent}, agentID...), st.encode(), nil); err != nil {
		return ring.AppendResult{}, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return ring.AppendResult{}, fmt.Errorf("store agent %s's records: %w", agentID, err)
	}
	s.mu.Lock()
	*prev = st
	for _, name := range savedNodes {
		delete(s.unsaved, name)
	}
	s.mu.Unlock()
	return res, nil
}

// touch is a reference to an entity by a record of time ts.
type touch struct {
	ref entityRef
	ts  int64
}

// markUsed notes the entities records referenced, and writes to b the last use of those that
// were not written for a usePeriod of record time. s.mu is held.
func (s *Store) markUsed(b *pebble.Batch, touches []touch) {
	for _, t := range touches {
		u := s.used[t.ref]
		if u == nil {
			u = &usage{ts: t.ts, saved: math.MinInt64}
			s.used[t.ref] = u
		}
		u.ts = max(u.ts, t.ts)
		if u.ts-u.saved >= usePeriod || u.saved == math.MinInt64 {
			b.Set(t.ref.key(prefixUsed), binary.BigEndian.AppendUint64(nil, uint64(u.ts)), nil)
			u.saved = u.ts
		}
	}
}

// nextTime returns the time of the first record of entries with a time of its own, or now.
func nextTime(entries []ring.Entry) int64 {
	var r refs
	for i := range entries {
		if entries[i].Dropped {
			continue
		}
		if readRefs(entries[i].Raw, &r) == nil && r.hasTime {
			return r.ts
		}
	}
	return time.Now().UnixNano()
}

// putEntity writes an entity record to the entity table in b, as the entity's version at ts.
func putEntity(b *pebble.Batch, node uint32, rec *sysflowv1.Record, raw []byte, ts int64) error {
	var (
		kind byte
		id   []byte
	)
	switch x := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		oid := x.Process.GetOid()
		kind, id = kindProcess, procID(nil, oid.GetHpid(), oid.GetCreateTs())
		if p := x.Process.GetPoid(); p != nil {
			c := append([]byte{prefixChildren}, binary.BigEndian.AppendUint32(nil, node)...)
			c = procID(c, p.GetHpid(), p.GetCreateTs())
			c = procID(c, oid.GetHpid(), oid.GetCreateTs())
			if err := b.Set(c, nil, nil); err != nil {
				return err
			}
		}
	case *sysflowv1.Record_File:
		kind, id = kindFile, x.File.GetOid()
	case *sysflowv1.Record_Container:
		kind, id = kindContainer, []byte(x.Container.GetId())
	case *sysflowv1.Record_Pod:
		kind, id = kindPod, []byte(x.Pod.GetId())
	default:
		return nil
	}
	if len(id) > maxEntityID {
		return nil // not an id SysFlow makes; the record itself is stored
	}
	key := entityKey(nil, prefixEntity, node, kind, id)
	key = binary.BigEndian.AppendUint64(key, uint64(ts)^(1<<63))
	return b.Set(key, raw, nil)
}

// pebbleLogger sends Pebble's logs to slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
