// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow

import (
	"container/list"
	"maps"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// procState is what the Aggregator knows of one process.
type procState struct {
	pid int32
	oid *sysflowv1.OID
	// sent is a copy of the entity last emitted for the process, and from the source that
	// entity as the source returned it (nil for an entity made from an event).
	sent, from *sysflowv1.Process
	flows      map[int32]*flow // open flows by descriptor
	pf         *procFlow       // nil when no thread was cloned or exited lately
	lruElem    *list.Element
}

// procFlow is the ProcessFlow of a process being aggregated.
type procFlow struct {
	elem        *list.Element
	start, last int64
	flags       int32
	cloned      int64
	exited      int64
	cloneErrors int64
}

// pinned reports whether the process must be kept: it has open flows or a process flow.
func (ps *procState) pinned() bool { return len(ps.flows) > 0 || ps.pf != nil }

// sortedFlows returns the open flows of ps in descriptor order.
func (ps *procState) sortedFlows() []*flow {
	fds := slices.Sorted(maps.Keys(ps.flows))
	fs := make([]*flow, len(fds))
	for i, fd := range fds {
		fs[i] = ps.flows[fd]
	}
	return fs
}

// current returns the source's entity of process pid, or nil.
func (a *Aggregator) current(pid int32) *sysflowv1.Process {
	if a.src == nil {
		return nil
	}
	p, ok := a.src.Process(pid)
	if !ok || p.GetOid() == nil {
		return nil
	}
	return p
}

// process returns the state of process pid, emitting its entity first when it was not emitted
// or changed. The event ev, whose process pid is, and parent (the state of pid's parent, for a
// process just cloned) describe the process when the source does not know it; start is the
// process's start time, 0 when the event does not say.
func (a *Aggregator) process(pid int32, start int64, ev *Event, parent *procState) *procState {
	return a.resolve(pid, a.current(pid), start, ev, parent)
}

// resolve is process with the source's entity cur (nil when unknown) already looked up.
func (a *Aggregator) resolve(pid int32, cur *sysflowv1.Process, start int64, ev *Event, parent *procState) *procState {
	ps := a.procs[pid]
	if cur != nil && ps != nil && !sameOID(ps.oid, cur.GetOid()) {
		// Another process with the same pid: the old one exited unseen.
		a.log.Debug("process replaced without exit", "pid", pid, "old", ps.oid, "new", cur.GetOid())
		a.endProcess(ps, ev.Time, nil)
		ps = nil
	}
	if cur == nil && ps != nil {
		a.procLRU.MoveToBack(ps.lruElem)
		return ps
	}
	var made *sysflowv1.Process
	if cur == nil {
		a.stats.UnknownProcesses++
		made = a.synthesize(pid, start, ev, parent)
	}
	if ps == nil {
		oid := cur.GetOid()
		if made != nil {
			oid = made.GetOid()
		}
		ps = &procState{pid: pid, oid: proto.CloneOf(oid), flows: make(map[int32]*flow)}
		a.addProcess(ps)
	} else {
		a.procLRU.MoveToBack(ps.lruElem)
	}
	switch {
	case made != nil:
		a.sendEntity(ps, nil, made)
	case ps.sent == nil:
		a.sendEntity(ps, cur, nil)
	case cur == ps.from:
	case sameEntity(ps.sent, cur):
		ps.from = cur
	default:
		// Records pending for the process describe what it did before the change.
		a.cut(ps, ev.Time)
		a.sendEntity(ps, cur, nil)
	}
	return ps
}

// sendEntity emits the entity of ps: from, the source's (copied), or made, one of the
// Aggregator's own.
func (a *Aggregator) sendEntity(ps *procState, from, made *sysflowv1.Process) {
	p := made
	if from != nil {
		p = proto.CloneOf(from)
	}
	if p == nil {
		return
	}
	a.sendAncestors(p, 0)
	if a.emit(&sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: proto.CloneOf(p)}}) {
		ps.sent, ps.from = p, from
	}
}

// synthesize makes a minimal entity for process pid, which the source does not know: a copy of
// its parent's for a process just cloned, else what the event says.
func (a *Aggregator) synthesize(pid int32, start int64, ev *Event, parent *procState) *sysflowv1.Process {
	var p *sysflowv1.Process
	switch {
	case parent != nil && parent.sent != nil:
		p = proto.CloneOf(parent.sent)
		p.State = sysflowv1.ObjectState_OBJECT_STATE_CREATED
		p.Poid = proto.CloneOf(parent.oid)
	case parent != nil:
		p = &sysflowv1.Process{State: sysflowv1.ObjectState_OBJECT_STATE_CREATED, Poid: proto.CloneOf(parent.oid)}
	default:
		p = &sysflowv1.Process{State: sysflowv1.ObjectState_OBJECT_STATE_REUP}
		if pp := a.procs[ev.PPID]; ev.PID == pid && ev.PPID > 0 && pp != nil {
			p.Poid = proto.CloneOf(pp.oid)
		}
	}
	p.Oid = &sysflowv1.OID{CreateTs: start, Hpid: int64(pid)}
	p.Ts = ev.Time
	if ev.Kind == KindExec && ev.PID == pid {
		p.Exe, p.ExeArgs, p.Uid, p.Gid = ev.Path, strings.Join(ev.Args, " "), ev.UID, ev.GID
	}
	if a.containerOf != nil {
		p.ContainerId = optional(a.containerOf(pid))
	}
	return p
}

// addProcess adds ps to the processes tracked, forgetting the least recently used ones without
// open flows or process flow beyond maxProcesses.
func (a *Aggregator) addProcess(ps *procState) {
	a.procs[ps.pid] = ps
	ps.lruElem = a.procLRU.PushBack(ps)
	for n := a.procLRU.Len(); len(a.procs) > maxProcesses && n > 1; n-- {
		e := a.procLRU.Front()
		old := e.Value.(*procState)
		if old.pinned() {
			a.procLRU.MoveToBack(e)
			continue
		}
		a.forgetProcess(old)
	}
}

// forgetProcess stops tracking ps.
func (a *Aggregator) forgetProcess(ps *procState) {
	if a.procs[ps.pid] == ps {
		delete(a.procs, ps.pid)
	}
	a.procLRU.Remove(ps.lruElem)
}

// cut emits the records pending for ps, whose entity is about to change, and starts new ones at
// time t.
func (a *Aggregator) cut(ps *procState, t int64) {
	for _, f := range ps.sortedFlows() {
		if f.flags != 0 {
			a.emitFlow(f, f.last)
			a.restart(f, t)
		}
	}
	if pf := ps.pf; pf != nil && pf.flags != 0 {
		a.emitProcFlow(ps, pf.last)
		pf.start = t
		a.procFlows.MoveToBack(pf.elem)
	}
}

// endProcess emits what is pending for ps, which ended at time t, then the exit event ev (when
// not nil), and stops tracking ps.
func (a *Aggregator) endProcess(ps *procState, t int64, ev *Event) {
	if ps.pf != nil {
		a.emitProcFlow(ps, t)
		a.dropProcFlow(ps)
	}
	for _, f := range ps.sortedFlows() {
		a.emitFlow(f, t)
		a.remove(f)
	}
	if ev != nil {
		a.emitProcEvent(ps, ev, sysflowv1.OperationFlag_OPERATION_FLAG_EXIT, nil, int32(ev.Ret))
	}
	a.forgetProcess(ps)
}

// exec handles KindExec. Descriptors opened with O_CLOEXEC are closed by the exec.
func (a *Aggregator) exec(ev *Event) {
	cur := a.current(ev.PID)
	if ps := a.procs[ev.PID]; ps != nil && (cur == nil || sameOID(ps.oid, cur.GetOid())) {
		for _, f := range ps.sortedFlows() {
			if f.cloexec {
				f.flags |= int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE)
				f.last = max(f.last, ev.Time)
				a.emitFlow(f, f.last)
				a.remove(f)
			}
		}
	}
	ps := a.resolve(ev.PID, cur, ev.StartTime, ev, nil)
	a.emitProcEvent(ps, ev, sysflowv1.OperationFlag_OPERATION_FLAG_EXEC, ev.Args, int32(ev.Ret))
}

// clone handles KindClone: a CLONE event for a new process, a count in the ProcessFlow for a
// new thread or a failed clone.
func (a *Aggregator) clone(ev *Event) {
	// The event's StartTime is the child's: the parent's is unknown.
	parent := a.process(ev.PID, 0, ev, nil)
	switch {
	case ev.Ret < 0:
		pf := a.procFlow(parent, ev.Time)
		pf.flags |= int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLONE)
		pf.cloneErrors++
	case ev.ChildPID == ev.PID:
		pf := a.procFlow(parent, ev.Time)
		pf.flags |= int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLONE)
		pf.cloned++
	case ev.ChildPID > 0:
		a.process(ev.ChildPID, ev.StartTime, ev, parent)
		a.emitProcEvent(parent, ev, sysflowv1.OperationFlag_OPERATION_FLAG_CLONE, nil, ev.ChildPID)
	default:
		a.log.Debug("clone without child", "pid", ev.PID, "tid", ev.TID)
	}
}

// exit handles KindExit: of a thread, a count in the ProcessFlow; of the main thread, the end
// of the process.
func (a *Aggregator) exit(ev *Event) {
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	if ev.TID != ev.PID {
		pf := a.procFlow(ps, ev.Time)
		pf.flags |= int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXIT)
		pf.exited++
		return
	}
	a.endProcess(ps, ev.Time, ev)
}

// setUID handles KindSetUID.
func (a *Aggregator) setUID(ev *Event) {
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	args := ev.Args
	if len(args) == 0 {
		args = []string{strconv.FormatInt(int64(ev.UID), 10)}
	}
	a.emitProcEvent(ps, ev, sysflowv1.OperationFlag_OPERATION_FLAG_SETUID, args, int32(ev.Ret))
}

// setNS handles KindSetNS.
func (a *Aggregator) setNS(ev *Event) {
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	a.emitProcEvent(ps, ev, sysflowv1.OperationFlag_OPERATION_FLAG_SETNS, ev.Args, int32(ev.Ret))
}

// ptrace handles KindPtrace.
func (a *Aggregator) ptrace(ev *Event) {
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	a.emitProcEvent(ps, ev, sysflowv1.OperationFlag_OPERATION_FLAG_PTRACE, ev.Args, int32(ev.Ret))
}

// module handles KindModule.
// finit_module names the module by a descriptor: its path comes from the open flow on it.
func (a *Aggregator) module(ev *Event) {
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	args := ev.Args
	if len(args) == 1 && ev.FD >= 0 {
		path := ""
		if f := ps.flows[ev.FD]; f != nil && f.file != nil {
			path = f.file.path
		}
		args = append(slices.Clip(args), path)
	}
	a.emitProcEvent(ps, ev, sysflowv1.OperationFlag_OPERATION_FLAG_MODULE_LOAD, args, int32(ev.Ret))
}

// emitProcEvent emits a ProcessEvent of ps.
func (a *Aggregator) emitProcEvent(ps *procState, ev *Event, op sysflowv1.OperationFlag, args []string, ret int32) {
	a.emit(&sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{
		ProcOid: proto.CloneOf(ps.oid),
		Ts:      ev.Time,
		Tid:     int64(ev.TID),
		OpFlags: int32(op),
		Args:    slices.Clone(args),
		Ret:     ret,
	}}})
}

// procFlow returns the process flow of ps, starting one at time t if there is none, and marks
// activity at time t.
func (a *Aggregator) procFlow(ps *procState, t int64) *procFlow {
	if ps.pf == nil {
		ps.pf = &procFlow{start: t}
		ps.pf.elem = a.procFlows.PushBack(ps)
	}
	ps.pf.last = max(ps.pf.last, t)
	return ps.pf
}

// emitProcFlow emits the ProcessFlow of ps, ending at end, if it has something to report, and
// resets its counts.
func (a *Aggregator) emitProcFlow(ps *procState, end int64) {
	pf := ps.pf
	if pf.flags == 0 {
		return
	}
	a.emit(&sysflowv1.Record{Rec: &sysflowv1.Record_ProcessFlow{ProcessFlow: &sysflowv1.ProcessFlow{
		ProcOid:          proto.CloneOf(ps.oid),
		Ts:               pf.start,
		NumThreadsCloned: pf.cloned,
		OpFlags:          pf.flags,
		EndTs:            max(end, pf.start),
		NumThreadsExited: pf.exited,
		NumCloneErrors:   pf.cloneErrors,
	}}})
	pf.flags, pf.cloned, pf.exited, pf.cloneErrors = 0, 0, 0, 0
}

// dropProcFlow forgets the process flow of ps.
func (a *Aggregator) dropProcFlow(ps *procState) {
	a.procFlows.Remove(ps.pf.elem)
	ps.pf = nil
}

// sameOID reports whether two process object ids are equal.
// maxAncestors bounds how far up sendAncestors goes.
const maxAncestors = 32

// sendAncestors emits the entities of p's parent and its ancestors that were not emitted yet,
// eldest first: rules read a process's ancestors (Falco's proc.aname[N], proc.apid[N]), which
// records never reference while they do nothing, as a shell waiting for its child.
func (a *Aggregator) sendAncestors(p *sysflowv1.Process, depth int) {
	poid := p.GetPoid()
	if poid == nil || depth >= maxAncestors {
		return
	}
	ppid := int32(poid.GetHpid())
	if ps := a.procs[ppid]; ps != nil && ps.sent != nil && sameOID(ps.oid, poid) {
		return
	}
	cur := a.current(ppid)
	if cur == nil || !sameOID(cur.GetOid(), poid) {
		return // gone, or its pid taken by another process
	}
	a.sendAncestors(cur, depth+1)
	a.resolve(ppid, cur, poid.GetCreateTs(), &Event{Time: p.GetTs(), PID: ppid, StartTime: poid.GetCreateTs()}, nil)
}

func sameOID(x, y *sysflowv1.OID) bool {
	return x.GetCreateTs() == y.GetCreateTs() && x.GetHpid() == y.GetHpid()
}

// sameEntity reports whether the emitted entity sent equals cur but for ts. sent is the
// Aggregator's own copy.
func sameEntity(sent, cur *sysflowv1.Process) bool {
	ts := sent.Ts
	sent.Ts = cur.GetTs()
	eq := proto.Equal(sent, cur)
	sent.Ts = ts
	return eq
}

// optional returns a pointer to s, or nil when s is empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
