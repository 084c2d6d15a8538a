// Package entity keeps the entities (processes, files, containers, pods) that SysFlow records
// reference, so that rules can read a flow's process, its file and its ancestors. An agent
// sends each entity before the first record that references it, and again (state REUP) when
// it has not sent it for a while; a Table remembers the latest version of each, up to a bound,
// forgetting the least recently used first.
package entity

import (
	"container/list"
	"sync"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// DefaultMax is the default bound of a Table, per kind of entity.
const DefaultMax = 200_000

// Table holds the entities of one agent's records. It is safe for concurrent use.
type Table struct {
	mu         sync.Mutex
	max        int
	procs      lru[procKey, *sysflowv1.Process]
	files      lru[string, *sysflowv1.File]
	containers lru[string, *sysflowv1.Container]
	pods       lru[string, *sysflowv1.Pod]
}

type procKey struct{ createTS, hpid int64 }

func keyOf(oid *sysflowv1.OID) procKey { return procKey{oid.GetCreateTs(), oid.GetHpid()} }

// New returns a table keeping at most max entities of each kind (DefaultMax when max <= 0).
func New(max int) *Table {
	if max <= 0 {
		max = DefaultMax
	}
	return &Table{
		max:        max,
		procs:      newLRU[procKey, *sysflowv1.Process](),
		files:      newLRU[string, *sysflowv1.File](),
		containers: newLRU[string, *sysflowv1.Container](),
		pods:       newLRU[string, *sysflowv1.Pod](),
	}
}

// Put remembers rec if it is an entity, and reports whether it was.
func (t *Table) Put(rec *sysflowv1.Record) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		t.procs.put(keyOf(r.Process.GetOid()), r.Process, t.max)
	case *sysflowv1.Record_File:
		t.files.put(string(r.File.GetOid()), r.File, t.max)
	case *sysflowv1.Record_Container:
		t.containers.put(r.Container.GetId(), r.Container, t.max)
	case *sysflowv1.Record_Pod:
		t.pods.put(r.Pod.GetId(), r.Pod, t.max)
	default:
		return false
	}
	return true
}

// Process returns the process with this OID, or nil.
func (t *Table) Process(oid *sysflowv1.OID) *sysflowv1.Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.procs.get(keyOf(oid))
}

// File returns the file with this OID, or nil.
func (t *Table) File(oid []byte) *sysflowv1.File {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.files.get(string(oid))
}

// Container returns the container with this id, or nil.
func (t *Table) Container(id string) *sysflowv1.Container {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.containers.get(id)
}

// Pod returns the pod with this id, or nil.
func (t *Table) Pod(id string) *sysflowv1.Pod {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pods.get(id)
}

// Len returns the number of processes, files, containers and pods held.
func (t *Table) Len() (procs, files, containers, pods int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.procs.l.Len(), t.files.l.Len(), t.containers.l.Len(), t.pods.l.Len()
}

// lru is a map that forgets its least recently used entries beyond a bound.
type lru[K comparable, V any] struct {
	m map[K]*list.Element
	l *list.List // of entry[K, V], most recent at the back
}

type entry[K comparable, V any] struct {
	k K
	v V
}

func newLRU[K comparable, V any]() lru[K, V] {
	return lru[K, V]{m: map[K]*list.Element{}, l: list.New()}
}

func (c *lru[K, V]) put(k K, v V, max int) {
	if e, ok := c.m[k]; ok {
		e.Value = entry[K, V]{k, v}
		c.l.MoveToBack(e)
		return
	}
	c.m[k] = c.l.PushBack(entry[K, V]{k, v})
	for c.l.Len() > max {
		old := c.l.Front()
		delete(c.m, old.Value.(entry[K, V]).k)
		c.l.Remove(old)
	}
}

func (c *lru[K, V]) get(k K) V {
	e, ok := c.m[k]
	if !ok {
		var zero V
		return zero
	}
	c.l.MoveToBack(e)
	return e.Value.(entry[K, V]).v
}
