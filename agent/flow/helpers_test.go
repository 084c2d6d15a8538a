// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow_test

import (
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/flow"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

const (
	t0  = int64(1_700_000_000) * int64(time.Second) // a base time for events
	sec = int64(time.Second)

	pid   = int32(100)
	start = t0 - 10*sec // pid's start time
)

// Operation and open flag bits, as int32.
const (
	opClone  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLONE)
	opExec   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC)
	opExit   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXIT)
	opSetUID = int32(sysflowv1.OperationFlag_OPERATION_FLAG_SETUID)
	opAccept = int32(sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT)
	opConn   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT)
	opOpen   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN)
	opRead   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV)
	opWrite  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_WRITE_SEND)
	opClose  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE)
	opModule = int32(sysflowv1.OperationFlag_OPERATION_FLAG_MODULE_LOAD)
)

// source is a ProcessSource over a map, safe for concurrent use.
type source struct {
	mu    sync.Mutex
	procs map[int32]*sysflowv1.Process
}

func newSource(ps ...*sysflowv1.Process) *source {
	s := &source{procs: make(map[int32]*sysflowv1.Process)}
	for _, p := range ps {
		s.set(p)
	}
	return s
}

func (s *source) Process(pid int32) (*sysflowv1.Process, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.procs[pid]
	return p, ok
}

// set stores p as the entity of its pid.
func (s *source) set(p *sysflowv1.Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs[int32(p.GetOid().GetHpid())] = p
}

// process returns a process entity.
func process(pid int32, start int64, cwd string) *sysflowv1.Process {
	return &sysflowv1.Process{
		State: sysflowv1.ObjectState_OBJECT_STATE_CREATED,
		Oid:   &sysflowv1.OID{CreateTs: start, Hpid: int64(pid)},
		Ts:    start,
		Exe:   "/usr/bin/app",
		Cwd:   cwd,
	}
}

func oid(pid int32, start int64) *sysflowv1.OID {
	return &sysflowv1.OID{CreateTs: start, Hpid: int64(pid)}
}

// sink collects emitted records.
type sink struct {
	mu   sync.Mutex
	recs []*sysflowv1.Record
}

func (s *sink) emit(r *sysflowv1.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
	return nil
}

// take returns the records collected since the last take.
func (s *sink) take() []*sysflowv1.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs
	s.recs = nil
	return r
}

// newAggregator returns an Aggregator over src with 30 s flows, 60 s idle timeout, modified by
// cfg, and the sink of its records.
func newAggregator(t *testing.T, src flow.ProcessSource, cfg func(*flow.Config)) (*flow.Aggregator, *sink) {
	t.Helper()
	s := &sink{}
	c := flow.Config{Processes: src, Emit: s.emit, FlowInterval: 30 * time.Second, IdleTimeout: 60 * time.Second}
	if cfg != nil {
		cfg(&c)
	}
	return flow.New(c), s
}

// handle feeds events to a, failing t on error.
func handle(t *testing.T, a *flow.Aggregator, evs ...flow.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := a.Handle(ev); err != nil {
			t.Fatalf("Handle(%+v): %v", ev, err)
		}
	}
}

func tick(t *testing.T, a *flow.Aggregator, now int64) {
	t.Helper()
	if err := a.Tick(now); err != nil {
		t.Fatalf("Tick(%d): %v", now, err)
	}
}

func openEv(at int64, tid int32, path string, flags int32, fd int64) flow.Event {
	return flow.Event{Kind: flow.KindOpen, Time: at, PID: pid, TID: tid, StartTime: start, Path: path, Flags: flags, Ret: fd}
}

func countersEv(at int64, tid, fd int32, rOps, rBytes, wOps, wBytes int64) flow.Event {
	return flow.Event{
		Kind: flow.KindCounters, Time: at, PID: pid, TID: tid, StartTime: start, FD: fd,
		ReadOps: rOps, ReadBytes: rBytes, WriteOps: wOps, WriteBytes: wBytes,
	}
}

func closeEv(at int64, tid, fd int32, rOps, rBytes, wOps, wBytes int64) flow.Event {
	ev := countersEv(at, tid, fd, rOps, rBytes, wOps, wBytes)
	ev.Kind = flow.KindClose
	return ev
}

// kinds names the record types of recs, in order.
func kinds(recs []*sysflowv1.Record) []string {
	var ks []string
	for _, r := range recs {
		ks = append(ks, kindOf(r))
	}
	return ks
}

func kindOf(r *sysflowv1.Record) string {
	switch x := r.GetRec().(type) {
	case *sysflowv1.Record_Process:
		return "process"
	case *sysflowv1.Record_File:
		return "file"
	case *sysflowv1.Record_FileFlow:
		return "file_flow"
	case *sysflowv1.Record_NetworkFlow:
		return "network_flow"
	case *sysflowv1.Record_ProcessEvent:
		return fmt.Sprintf("process_event:%d", x.ProcessEvent.GetOpFlags())
	case *sysflowv1.Record_ProcessFlow:
		return "process_flow"
	default:
		return fmt.Sprintf("%T", x)
	}
}

// fileFlows returns the FileFlows of recs.
func fileFlows(recs []*sysflowv1.Record) []*sysflowv1.FileFlow {
	var ffs []*sysflowv1.FileFlow
	for _, r := range recs {
		if ff := r.GetFileFlow(); ff != nil {
			ffs = append(ffs, ff)
		}
	}
	return ffs
}

// checkReferences fails t unless every record of recs that refers to a process or file comes
// after an entity with that id, and no entity is emitted twice unchanged.
func checkReferences(t *testing.T, recs []*sysflowv1.Record) {
	t.Helper()
	procs := map[string]*sysflowv1.Process{}
	files := map[string]bool{}
	pkey := func(o *sysflowv1.OID) string { return fmt.Sprintf("%d/%d", o.GetCreateTs(), o.GetHpid()) }
	needProc := func(i int, o *sysflowv1.OID) {
		if procs[pkey(o)] == nil {
			t.Errorf("record %d (%s) refers to process %s before its entity", i, kindOf(recs[i]), pkey(o))
		}
	}
	for i, r := range recs {
		switch {
		case r.GetProcess() != nil:
			p := r.GetProcess()
			if old := procs[pkey(p.GetOid())]; old != nil && equalButTs(old, p) {
				t.Errorf("record %d: process %s emitted again unchanged", i, pkey(p.GetOid()))
			}
			procs[pkey(p.GetOid())] = p
		case r.GetFile() != nil:
			k := hex.EncodeToString(r.GetFile().GetOid())
			if files[k] {
				t.Errorf("record %d: file %s emitted again", i, k)
			}
			files[k] = true
		case r.GetFileFlow() != nil:
			needProc(i, r.GetFileFlow().GetProcOid())
			if k := hex.EncodeToString(r.GetFileFlow().GetFileOid()); !files[k] {
				t.Errorf("record %d refers to file %s before its entity", i, k)
			}
		case r.GetNetworkFlow() != nil:
			needProc(i, r.GetNetworkFlow().GetProcOid())
		case r.GetProcessEvent() != nil:
			needProc(i, r.GetProcessEvent().GetProcOid())
		case r.GetProcessFlow() != nil:
			needProc(i, r.GetProcessFlow().GetProcOid())
		}
	}
}

func equalButTs(x, y *sysflowv1.Process) bool {
	x, y = proto.CloneOf(x), proto.CloneOf(y)
	x.Ts, y.Ts = 0, 0
	return proto.Equal(x, y)
}
