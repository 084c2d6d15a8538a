// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow

import (
	"container/list"
	"crypto/sha1"

	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Operation bits of flows.
const (
	opOpen      = int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN)
	opConnect   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT)
	opAccept    = int32(sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT)
	opReadRecv  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV)
	opWriteSend = int32(sysflowv1.OperationFlag_OPERATION_FLAG_WRITE_SEND)
	opClose     = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE)
	opShutdown  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_SHUTDOWN)
	opBind      = int32(sysflowv1.OperationFlag_OPERATION_FLAG_BIND)
	opListen    = int32(sysflowv1.OperationFlag_OPERATION_FLAG_LISTEN)
)

// How a KindClose, KindRepeer or KindCounters event ends a flow.
const (
	endNone  = iota // counters only
	endClose        // the descriptor was closed
	endPeer         // an unconnected socket turned to another peer
)

// fdKey names a descriptor of a process.
type fdKey struct{ pid, fd int32 }

// counters are a descriptor's read and write operations and bytes.
type counters struct{ rOps, wOps, rBytes, wBytes int64 }

// since returns what the totals t add to the totals s seen before. A total below the one seen
// before means counting started again: it then counts from zero, and reset is true.
func (t counters) since(s counters) (d counters, reset bool) {
	sub := func(t, s int64) int64 {
		if t < s {
			reset = true
			return t
		}
		return t - s
	}
	d = counters{sub(t.rOps, s.rOps), sub(t.wOps, s.wOps), sub(t.rBytes, s.rBytes), sub(t.wBytes, s.wBytes)}
	return d, reset
}

func (c *counters) add(d counters) {
	c.rOps += d.rOps
	c.wOps += d.wOps
	c.rBytes += d.rBytes
	c.wBytes += d.wBytes
}

// fileInfo is the File entity of a file flow.
type fileInfo struct {
	oid       [sha1.Size]byte
	path      string
	container string
	restype   int32
	ts        int64
}

// flow is a file or network flow: open (in byStart and byActivity, and its process's flows) or
// idle (in parked).
type flow struct {
	ps      *procState
	fd, tid int32

	file      *fileInfo // nil for a network flow
	openFlags int32
	cloexec   bool
	net       *netInfo // nil for a file flow

	start   int64    // ts of the next record
	last    int64    // last activity
	flags   int32    // operations of the next record
	pending counters // counts of the next record
	seen    counters // the totals last seen
	emitted bool     // whether a record of the flow was emitted

	startElem, actElem, parkElem *list.Element
}

// open handles KindOpen.
func (a *Aggregator) open(ev *Event) {
	if ev.Ret < 0 {
		a.stats.FailedOpens++
		return
	}
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	dir := ps.sent.GetCwd()
	if ev.DirFD > 0 {
		dir = a.dirPath(ps, ev.DirFD)
	}
	p := resolvePath(ev.Path, dir)
	cid := a.container(ps)
	a.add(&flow{
		ps:  ps,
		fd:  int32(ev.Ret),
		tid: ev.TID,
		file: &fileInfo{
			oid: FileOID(cid, p), path: p, container: cid, restype: restypeOf(ev.Flags), ts: ev.Time,
		},
		openFlags: OpenFlags(ev.Flags),
		cloexec:   ev.Flags&oCloExec != 0,
		start:     ev.Time,
		last:      ev.Time,
		flags:     opOpen,
	})
}

// dup handles KindDup: FD becomes a flow of its own on OldFD's file or socket, without OPEN,
// as a shell's redirection (open, dup2 onto 1, close, write) makes of a file.
func (a *Aggregator) dup(ev *Event) {
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	src := ps.flows[ev.OldFD]
	if src == nil {
		if e, ok := a.parked[fdKey{ev.PID, ev.OldFD}]; ok && sameOID(e.Value.(*flow).ps.oid, ps.oid) {
			src = e.Value.(*flow)
		}
	}
	if src == nil {
		a.stats.UnknownFDs++
		return
	}
	a.add(&flow{
		ps: ps, fd: ev.FD, tid: ev.TID,
		file: src.file, net: src.net, openFlags: src.openFlags,
		start: ev.Time, last: ev.Time,
	})
}

// dirPath returns the path of the directory open on descriptor fd of ps, or "" when unknown.
func (a *Aggregator) dirPath(ps *procState, fd int32) string {
	f := ps.flows[fd]
	if f == nil {
		if e, ok := a.parked[fdKey{ps.pid, fd}]; ok && sameOID(e.Value.(*flow).ps.oid, ps.oid) {
			f = e.Value.(*flow)
		}
	}
	if f == nil || f.file == nil {
		return ""
	}
	return f.file.path
}

// connect handles KindConnect, KindAccept, KindSocket, KindBind and KindListen. The flow of an
// accept is on the descriptor accept returned (Ret), or on FD when Ret does not name one.
func (a *Aggregator) connect(ev *Event) {
	if ev.Ret < 0 && ev.Ret != -einprogress {
		a.stats.FailedConnects++
		return
	}
	accept := ev.Kind == KindAccept
	fd, op := ev.FD, opConnect
	switch ev.Kind {
	case KindSocket:
		op = 0 // neither connected nor accepted while we watched
	case KindBind:
		op = opBind
	case KindListen:
		op = opListen
	}
	if accept {
		op = opAccept
		if ev.Ret > 0 {
			fd = int32(ev.Ret)
		}
	}
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	ni := newNetInfo(accept, ev.Local, ev.Remote, ev.Proto)
	var seen counters // a socket's counters run from its creation, across reconnections
	if old := ps.flows[fd]; old != nil {
		if old.net != nil && old.net.same(ni) {
			old.flags |= op
			old.last = max(old.last, ev.Time)
			a.byActivity.MoveToBack(old.actElem)
			return
		}
		if old.net != nil {
			seen = old.seen
			if old.pending == (counters{}) && old.flags&^(opBind|opListen) == 0 {
				// A bound socket that now connects or hears from a peer: one flow, which
				// keeps the bind.
				op |= old.flags
				old.flags = 0
			}
		}
	} else if e, ok := a.parked[fdKey{ev.PID, fd}]; ok {
		if old := e.Value.(*flow); old.net != nil && sameOID(old.ps.oid, ps.oid) {
			seen = old.seen
		}
	}
	a.add(&flow{ps: ps, fd: fd, tid: ev.TID, net: ni, start: ev.Time, last: ev.Time, flags: op, seen: seen})
}

// data handles KindCounters, KindClose and KindRepeer, as end says.
func (a *Aggregator) data(ev *Event, end int) {
	closing := end != endNone
	var f *flow
	if ps := a.procs[ev.PID]; ps != nil {
		f = ps.flows[ev.FD]
	}
	idle := false
	if f == nil {
		if e, ok := a.parked[fdKey{ev.PID, ev.FD}]; ok {
			f, idle = e.Value.(*flow), true
		}
	}
	if f == nil {
		a.stats.UnknownFDs++
		return
	}
	active := a.count(f, ev)
	switch {
	case idle && !active && !closing:
		return
	case idle:
		if !a.resume(f, ev) {
			return
		}
		if !closing {
			a.makeRoom()
			a.insert(f)
			return
		}
	case active:
		a.byActivity.MoveToBack(f.actElem)
	}
	if closing {
		if end == endClose {
			f.flags |= opClose
		}
		f.last = max(f.last, ev.Time)
		a.emitFlow(f, f.last)
		if !idle {
			a.remove(f)
		}
	}
}

// mark adds the operation op to the flow of ev's descriptor (shutdown, ftruncate), taking it
// back if it was idle.
func (a *Aggregator) mark(ev *Event, op int32) {
	var f *flow
	if ps := a.procs[ev.PID]; ps != nil {
		f = ps.flows[ev.FD]
	}
	if f == nil {
		e, ok := a.parked[fdKey{ev.PID, ev.FD}]
		if !ok {
			a.stats.UnknownFDs++
			return
		}
		if f = e.Value.(*flow); !a.resume(f, ev) {
			return
		}
		a.makeRoom()
		a.insert(f)
	} else {
		a.byActivity.MoveToBack(f.actElem)
	}
	f.flags |= op
	f.last = max(f.last, ev.Time)
}

// count adds the counters of ev, totals, to f and reports whether they moved.
func (a *Aggregator) count(f *flow, ev *Event) bool {
	tot := counters{rOps: ev.ReadOps, wOps: ev.WriteOps, rBytes: ev.ReadBytes, wBytes: ev.WriteBytes}
	d, reset := tot.since(f.seen)
	if reset {
		a.stats.CounterResets++
		a.log.Debug("counters went backwards", "pid", ev.PID, "fd", ev.FD)
	}
	f.seen = tot
	if d == (counters{}) {
		return false
	}
	if d.rOps > 0 || d.rBytes > 0 {
		f.flags |= opReadRecv
	}
	if d.wOps > 0 || d.wBytes > 0 {
		f.flags |= opWriteSend
	}
	f.pending.add(d)
	f.last = max(f.last, ev.Time)
	return true
}

// add opens f, replacing the flow open or idle on the same descriptor, and flushing the flow
// idle for longest first when MaxFlows flows are open.
func (a *Aggregator) add(f *flow) {
	if old := f.ps.flows[f.fd]; old != nil {
		// The descriptor was closed unseen (dup2 onto it, or a lost event).
		a.emitFlow(old, old.last)
		a.remove(old)
	}
	a.unpark(fdKey{f.ps.pid, f.fd})
	a.makeRoom()
	a.insert(f)
}

// resume takes the idle flow f back for activity seen by ev, unless its process is gone; the
// caller closes it or opens it again. Its next record starts at ev.
func (a *Aggregator) resume(f *flow, ev *Event) bool {
	a.unpark(fdKey{f.ps.pid, f.fd})
	ps := a.process(ev.PID, ev.StartTime, ev, nil)
	if !sameOID(ps.oid, f.ps.oid) {
		a.stats.UnknownFDs++
		return false
	}
	a.stats.Resumed++
	f.ps, f.start = ps, ev.Time
	return true
}

// makeRoom sets aside the flows idle for longest until fewer than MaxFlows flows are open.
func (a *Aggregator) makeRoom() {
	for a.byActivity.Len() >= a.maxFlows {
		a.stats.Evicted++
		a.park(a.byActivity.Front().Value.(*flow))
	}
}

// insert adds f to the open flows.
func (a *Aggregator) insert(f *flow) {
	f.ps.flows[f.fd] = f
	f.startElem = a.byStart.PushBack(f)
	f.actElem = a.byActivity.PushBack(f)
}

// remove takes f out of the open flows.
func (a *Aggregator) remove(f *flow) {
	if f.ps.flows[f.fd] == f {
		delete(f.ps.flows, f.fd)
	}
	a.byStart.Remove(f.startElem)
	a.byActivity.Remove(f.actElem)
	f.startElem, f.actElem = nil, nil
}

// restart starts the next record of the open flow f at time t.
func (a *Aggregator) restart(f *flow, t int64) {
	f.start = t
	a.byStart.MoveToBack(f.startElem)
}

// park emits what the open flow f has to report and sets it aside as idle, forgetting the flows
// set aside longest ago beyond MaxFlows.
func (a *Aggregator) park(f *flow) {
	a.emitFlow(f, f.last)
	a.remove(f)
	k := fdKey{f.ps.pid, f.fd}
	a.unpark(k)
	f.parkElem = a.parkedLRU.PushBack(f)
	a.parked[k] = f.parkElem
	for a.parkedLRU.Len() > a.maxFlows {
		old := a.parkedLRU.Front().Value.(*flow)
		a.stats.Forgotten++
		a.unpark(fdKey{old.ps.pid, old.fd})
	}
}

// unpark forgets the idle flow of descriptor k, if any.
func (a *Aggregator) unpark(k fdKey) {
	e, ok := a.parked[k]
	if !ok {
		return
	}
	delete(a.parked, k)
	a.parkedLRU.Remove(e)
	e.Value.(*flow).parkElem = nil
}

// emitFlow emits the record of f, ending at end, if it has something to report, preceded by its
// File entity when needed, and starts the next record's counts.
func (a *Aggregator) emitFlow(f *flow, end int64) {
	if f.flags == 0 {
		return
	}
	end = max(end, f.start)
	p := f.pending
	var rec *sysflowv1.Record
	if f.file != nil {
		a.sendFile(f)
		rec = &sysflowv1.Record{Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{
			ProcOid:       proto.CloneOf(f.ps.oid),
			Ts:            f.start,
			Tid:           int64(f.tid),
			OpFlags:       f.flags,
			OpenFlags:     f.openFlags,
			EndTs:         end,
			FileOid:       append([]byte(nil), f.file.oid[:]...),
			Fd:            f.fd,
			NumRRecvOps:   p.rOps,
			NumWSendOps:   p.wOps,
			NumRRecvBytes: p.rBytes,
			NumWSendBytes: p.wBytes,
		}}}
	} else {
		n := f.net
		rec = &sysflowv1.Record{Rec: &sysflowv1.Record_NetworkFlow{NetworkFlow: &sysflowv1.NetworkFlow{
			ProcOid:       proto.CloneOf(f.ps.oid),
			Ts:            f.start,
			Tid:           int64(f.tid),
			OpFlags:       f.flags,
			EndTs:         end,
			Sip:           n.sip,
			Sport:         n.sport,
			Dip:           n.dip,
			Dport:         n.dport,
			Proto:         n.proto,
			Fd:            f.fd,
			NumRRecvOps:   p.rOps,
			NumWSendOps:   p.wOps,
			NumRRecvBytes: p.rBytes,
			NumWSendBytes: p.wBytes,
			Sip6:          append([]byte(nil), n.sip6...),
			Dip6:          append([]byte(nil), n.dip6...),
		}}}
	}
	a.emit(rec)
	f.flags, f.pending, f.emitted = 0, counters{}, true
}

// sendFile emits the File entity of the file flow f unless it was emitted lately: CREATED for
// the flow's first record, REUP when sent again.
func (a *Aggregator) sendFile(f *flow) {
	a.sendFileInfo(f.file, f.emitted)
}

// sendFileInfo emits the File entity fi unless it was emitted recently; reup says it is sent
// again for a file already reported.
func (a *Aggregator) sendFileInfo(fi *fileInfo, reup bool) {
	if e, ok := a.files[fi.oid]; ok {
		a.fileLRU.MoveToBack(e)
		return
	}
	state := sysflowv1.ObjectState_OBJECT_STATE_CREATED
	if reup {
		state = sysflowv1.ObjectState_OBJECT_STATE_REUP
	}
	ok := a.emit(&sysflowv1.Record{Rec: &sysflowv1.Record_File{File: &sysflowv1.File{
		State:       state,
		Oid:         append([]byte(nil), fi.oid[:]...),
		Ts:          fi.ts,
		Restype:     fi.restype,
		Path:        fi.path,
		ContainerId: optional(fi.container),
	}}})
	if !ok {
		return
	}
	a.files[fi.oid] = a.fileLRU.PushBack(fi.oid)
	if a.fileLRU.Len() > maxFiles {
		e := a.fileLRU.Front()
		delete(a.files, e.Value.([sha1.Size]byte))
		a.fileLRU.Remove(e)
	}
}

// container returns the id of the container process ps runs in.
func (a *Aggregator) container(ps *procState) string {
	if a.containerOf != nil {
		return a.containerOf(ps.pid)
	}
	return ps.sent.GetContainerId()
}
