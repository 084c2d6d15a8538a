// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"container/list"
	"encoding/hex"
	"fmt"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// DefaultMaxEntities is the number of entities of each kind a Resolver keeps when NewResolver is
// given no positive bound.
const DefaultMaxEntities = 1 << 16

// A Resolver follows the entities of a record stream (processes, files, containers, pods) and
// resolves references to the closest preceding entity with the referenced id. It keeps at most a
// fixed number of entities of each kind: when a kind is full, observing a new entity evicts the
// one observed longest ago, so a Resolver on a live stream does not grow without limit.
//
// A Resolver keeps the messages it observes; callers must not modify them afterwards. A Resolver
// is not safe for concurrent use.
type Resolver struct {
	procs      *table[oidKey, *sysflowv1.Process]
	files      *table[[foidSize]byte, *sysflowv1.File]
	containers *table[string, *sysflowv1.Container]
	pods       *table[string, *sysflowv1.Pod]
}

// oidKey is a process object id as a map key.
type oidKey struct {
	createTS, hpid int64
}

func keyOf(o *sysflowv1.OID) oidKey {
	return oidKey{createTS: o.GetCreateTs(), hpid: o.GetHpid()}
}

// NewResolver returns a Resolver that keeps at most n entities of each kind, or
// DefaultMaxEntities when n is not positive.
func NewResolver(n int) *Resolver {
	if n <= 0 {
		n = DefaultMaxEntities
	}
	return &Resolver{
		procs:      newTable[oidKey, *sysflowv1.Process](n),
		files:      newTable[[foidSize]byte, *sysflowv1.File](n),
		containers: newTable[string, *sysflowv1.Container](n),
		pods:       newTable[string, *sysflowv1.Pod](n),
	}
}

// Observe records rec's entity, if rec is one, replacing an earlier entity with the same id.
// Records other than entities are ignored, as are files whose object id is not 20 bytes.
func (r *Resolver) Observe(rec *sysflowv1.Record) {
	switch x := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		if x.Process != nil {
			r.procs.put(keyOf(x.Process.GetOid()), x.Process)
		}
	case *sysflowv1.Record_File:
		if k, ok := foidKey(x.File.GetOid()); ok {
			r.files.put(k, x.File)
		}
	case *sysflowv1.Record_Container:
		if x.Container != nil {
			r.containers.put(x.Container.GetId(), x.Container)
		}
	case *sysflowv1.Record_Pod:
		if x.Pod != nil {
			r.pods.put(x.Pod.GetId(), x.Pod)
		}
	}
}

// Process returns the process with object id oid, or nil.
func (r *Resolver) Process(oid *sysflowv1.OID) *sysflowv1.Process {
	if oid == nil {
		return nil
	}
	return r.procs.get(keyOf(oid))
}

// File returns the file with object id oid, or nil.
func (r *Resolver) File(oid []byte) *sysflowv1.File {
	k, ok := foidKey(oid)
	if !ok {
		return nil
	}
	return r.files.get(k)
}

// Container returns the container with id, or nil.
func (r *Resolver) Container(id string) *sysflowv1.Container {
	return r.containers.get(id)
}

// Pod returns the pod with id, or nil.
func (r *Resolver) Pod(id string) *sysflowv1.Pod {
	return r.pods.get(id)
}

// Unresolved lists the references of rec that resolve to no entity observed so far, one string
// per reference, such as "proc_oid 1647543894672412244/57312" or "container_id 47a2351d842b";
// nil when all resolve. Call it before observing rec itself. The references checked are
// proc_oid of events and flows, file_oid and new_file_oid of file flows and events, poid and
// container_id of processes, container_id of files and pod_id of containers; absent optional
// references (a null poid, container id or pod id, an empty new_file_oid) are not checked.
func (r *Resolver) Unresolved(rec *sysflowv1.Record) []string {
	var out []string
	proc := func(field string, oid *sysflowv1.OID) {
		if r.Process(oid) == nil {
			out = append(out, fmt.Sprintf("%s %d/%d", field, oid.GetCreateTs(), oid.GetHpid()))
		}
	}
	file := func(field string, oid []byte) {
		if r.File(oid) == nil {
			out = append(out, field+" "+hex.EncodeToString(oid))
		}
	}
	container := func(id *string) {
		if id != nil && r.Container(*id) == nil {
			out = append(out, "container_id "+*id)
		}
	}
	switch x := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		if x.Process == nil {
			break
		}
		if p := x.Process.GetPoid(); p != nil {
			proc("poid", p)
		}
		container(x.Process.ContainerId)
	case *sysflowv1.Record_File:
		if x.File != nil {
			container(x.File.ContainerId)
		}
	case *sysflowv1.Record_Container:
		if x.Container == nil {
			break
		}
		if id := x.Container.PodId; id != nil && r.Pod(*id) == nil {
			out = append(out, "pod_id "+*id)
		}
	case *sysflowv1.Record_ProcessEvent:
		proc("proc_oid", x.ProcessEvent.GetProcOid())
	case *sysflowv1.Record_NetworkFlow:
		proc("proc_oid", x.NetworkFlow.GetProcOid())
	case *sysflowv1.Record_FileFlow:
		proc("proc_oid", x.FileFlow.GetProcOid())
		file("file_oid", x.FileFlow.GetFileOid())
	case *sysflowv1.Record_FileEvent:
		proc("proc_oid", x.FileEvent.GetProcOid())
		file("file_oid", x.FileEvent.GetFileOid())
		if n := x.FileEvent.GetNewFileOid(); len(n) > 0 {
			file("new_file_oid", n)
		}
	case *sysflowv1.Record_NetworkEvent:
		proc("proc_oid", x.NetworkEvent.GetProcOid())
	case *sysflowv1.Record_ProcessFlow:
		proc("proc_oid", x.ProcessFlow.GetProcOid())
	}
	return out
}

func foidKey(b []byte) ([foidSize]byte, bool) {
	var k [foidSize]byte
	if len(b) != foidSize {
		return k, false
	}
	copy(k[:], b)
	return k, true
}

// table is a map bounded to max entries that evicts the entry put longest ago.
type table[K comparable, V any] struct {
	max   int
	m     map[K]*list.Element
	order list.List // of entry[K, V], oldest first
}

type entry[K comparable, V any] struct {
	k K
	v V
}

func newTable[K comparable, V any](max int) *table[K, V] {
	return &table[K, V]{max: max, m: make(map[K]*list.Element)}
}

// put stores v under k, as the newest entry.
func (t *table[K, V]) put(k K, v V) {
	if e, ok := t.m[k]; ok {
		e.Value = entry[K, V]{k, v}
		t.order.MoveToBack(e)
		return
	}
	if t.order.Len() >= t.max {
		oldest := t.order.Front()
		delete(t.m, oldest.Value.(entry[K, V]).k)
		t.order.Remove(oldest)
	}
	t.m[k] = t.order.PushBack(entry[K, V]{k, v})
}

func (t *table[K, V]) get(k K) V {
	if e, ok := t.m[k]; ok {
		return e.Value.(entry[K, V]).v
	}
	var zero V
	return zero
}
