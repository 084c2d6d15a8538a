// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sysflux/sysflux/agent/flow"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

func TestProcessEvents(t *testing.T) {
	const child = pid + 50
	childStart := t0 + sec
	parentEntity := process(pid, start, "/")
	childEntity := process(child, childStart, "/")
	childEntity.Poid = oid(pid, start)
	execed := proto.CloneOf(parentEntity)
	execed.State, execed.Exe, execed.ExeArgs, execed.Ts = sysflowv1.ObjectState_OBJECT_STATE_MODIFIED, "/bin/ls", "-l /tmp", t0
	setuid := proto.CloneOf(execed)
	setuid.Uid, setuid.Ts = 1000, t0+2*sec

	procRec := func(p *sysflowv1.Process) *sysflowv1.Record {
		return &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: p}}
	}
	evRec := func(e *sysflowv1.ProcessEvent) *sysflowv1.Record {
		return &sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: e}}
	}
	tests := []struct {
		name   string
		before *sysflowv1.Process // the source's entity of pid before the event
		after  *sysflowv1.Process // and after it
		ev     flow.Event
		want   []*sysflowv1.Record // after the records of a first event that makes the process known
	}{
		{
			name: "exec", before: parentEntity, after: execed,
			ev: flow.Event{Kind: flow.KindExec, Time: t0, PID: pid, TID: pid, StartTime: start, Path: "/bin/ls",
				Args: []string{"-l", "/tmp"}},
			want: []*sysflowv1.Record{
				procRec(execed),
				evRec(&sysflowv1.ProcessEvent{ProcOid: oid(pid, start), Ts: t0, Tid: int64(pid), OpFlags: opExec,
					Args: []string{"-l", "/tmp"}}),
			},
		},
		{
			name: "clone", before: parentEntity, after: parentEntity,
			ev: flow.Event{Kind: flow.KindClone, Time: t0 + sec, PID: pid, TID: pid + 1, StartTime: childStart,
				ChildPID: child, ChildTID: child},
			want: []*sysflowv1.Record{
				procRec(childEntity),
				evRec(&sysflowv1.ProcessEvent{ProcOid: oid(pid, start), Ts: t0 + sec, Tid: int64(pid + 1), OpFlags: opClone,
					Ret: child}),
			},
		},
		{
			name: "setuid", before: execed, after: setuid,
			ev: flow.Event{Kind: flow.KindSetUID, Time: t0 + 2*sec, PID: pid, TID: pid, StartTime: start, UID: 1000,
				GID: -1, Args: []string{"1000"}},
			want: []*sysflowv1.Record{
				procRec(setuid),
				evRec(&sysflowv1.ProcessEvent{ProcOid: oid(pid, start), Ts: t0 + 2*sec, Tid: int64(pid), OpFlags: opSetUID,
					Args: []string{"1000"}}),
			},
		},
		{
			name: "ptrace", before: parentEntity, after: parentEntity,
			ev: flow.Event{Kind: flow.KindPtrace, Time: t0 + 2*sec, PID: pid, TID: pid, StartTime: start,
				Args: []string{"PTRACE_ATTACH", "4242"}, Ret: -1},
			want: []*sysflowv1.Record{
				evRec(&sysflowv1.ProcessEvent{ProcOid: oid(pid, start), Ts: t0 + 2*sec, Tid: int64(pid),
					OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_PTRACE), Args: []string{"PTRACE_ATTACH", "4242"}, Ret: -1}),
			},
		},
		{
			name: "init_module", before: parentEntity, after: parentEntity,
			ev: flow.Event{Kind: flow.KindModule, Time: t0 + 2*sec, PID: pid, TID: pid, StartTime: start,
				Args: []string{"init_module"}, FD: -1},
			want: []*sysflowv1.Record{
				evRec(&sysflowv1.ProcessEvent{ProcOid: oid(pid, start), Ts: t0 + 2*sec, Tid: int64(pid),
					OpFlags: opModule, Args: []string{"init_module"}}),
			},
		},
		{
			name: "exit", before: parentEntity, after: parentEntity,
			ev: flow.Event{Kind: flow.KindExit, Time: t0 + 3*sec, PID: pid, TID: pid, StartTime: start, Ret: 1},
			want: []*sysflowv1.Record{
				evRec(&sysflowv1.ProcessEvent{ProcOid: oid(pid, start), Ts: t0 + 3*sec, Tid: int64(pid), OpFlags: opExit,
					Ret: 1}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newSource(tt.before, childEntity)
			a, s := newAggregator(t, src, nil)
			// A thread exit makes the process known without other records.
			handle(t, a, flow.Event{Kind: flow.KindExit, Time: t0 - sec, PID: pid, TID: pid + 9, StartTime: start})
			if diff := cmp.Diff([]*sysflowv1.Record{procRec(tt.before)}, s.take(), protocmp.Transform()); diff != "" {
				t.Fatalf("records of the first event (-want +got):\n%s", diff)
			}
			src.set(tt.after)
			handle(t, a, tt.ev)
			got := s.take()
			var pfs []*sysflowv1.Record // the pending ProcessFlow of the thread exit, flushed by changes
			for len(got) > 0 && got[0].GetProcessFlow() != nil {
				pfs, got = append(pfs, got[0]), got[1:]
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if len(pfs) > 0 && tt.after == tt.before && tt.ev.Kind != flow.KindExit {
				t.Errorf("process flow emitted though the process did not change")
			}
		})
	}
}

// finit_module names the module by a descriptor: the event names the file open on it.
func TestFinitModule(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a, openEv(t0, pid, "/lib/modules/x.ko", 0, 3))
	handle(t, a, flow.Event{Kind: flow.KindModule, Time: t0 + 1, PID: pid, TID: pid, StartTime: start,
		Args: []string{"finit_module"}, FD: 3, Ret: -8})
	handle(t, a, flow.Event{Kind: flow.KindModule, Time: t0 + 2, PID: pid, TID: pid, StartTime: start,
		Args: []string{"finit_module"}, FD: 9, Ret: -9})
	var got [][]string
	for _, r := range s.take() {
		if e := r.GetProcessEvent(); e != nil && e.GetOpFlags() == opModule {
			got = append(got, append(e.GetArgs(), fmt.Sprint(e.GetRet())))
		}
	}
	want := [][]string{{"finit_module", "/lib/modules/x.ko", "-8"}, {"finit_module", "", "-9"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MODULE_LOAD events (-want +got):\n%s", diff)
	}
}

func TestCloneOfUnknownChild(t *testing.T) {
	const child = pid + 1
	parent := process(pid, start, "/work")
	a, s := newAggregator(t, newSource(parent), nil)
	handle(t, a, flow.Event{Kind: flow.KindClone, Time: t0, PID: pid, TID: pid, StartTime: t0, ChildPID: child, ChildTID: child})
	recs := s.take()
	if diff := cmp.Diff([]string{"process", "process", "process_event:1"}, kinds(recs)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	// Made from the parent's entity.
	want := proto.CloneOf(parent)
	want.Oid, want.Poid, want.Ts = oid(child, t0), oid(pid, start), t0
	if diff := cmp.Diff(want, recs[1].GetProcess(), protocmp.Transform()); diff != "" {
		t.Errorf("child entity (-want +got):\n%s", diff)
	}
	if got := a.Stats().UnknownProcesses; got != 1 {
		t.Errorf("Stats().UnknownProcesses = %d, want 1", got)
	}
	checkReferences(t, recs)
}

func TestExitFlushes(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		openEv(t0, pid, "/a", 0, 3),
		openEv(t0, pid, "/b", 0, 4),
		countersEv(t0+sec, pid, 4, 0, 0, 1, 10),
		flow.Event{Kind: flow.KindClone, Time: t0 + 2*sec, PID: pid, TID: pid, ChildPID: pid, ChildTID: pid + 1},
		flow.Event{Kind: flow.KindExit, Time: t0 + 3*sec, PID: pid, TID: pid + 1, StartTime: start},
	)
	tick(t, a, t0+40*sec) // emits everything pending so far
	handle(t, a,
		countersEv(t0+41*sec, pid, 4, 0, 0, 2, 20),
		flow.Event{Kind: flow.KindExit, Time: t0 + 42*sec, PID: pid, TID: pid, StartTime: start},
	)
	recs := s.take()
	checkReferences(t, recs)
	want := []string{
		"process", "file", "file_flow", "file", "file_flow", "process_flow", // the tick
		"file_flow", "process_event:4", // the exit: fd 4's last write, then EXIT
	}
	if diff := cmp.Diff(want, kinds(recs)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	last := recs[6].GetFileFlow()
	if last.GetFd() != 4 || last.GetOpFlags() != opWrite || last.GetEndTs() != t0+42*sec || last.GetNumWSendBytes() != 10 {
		t.Errorf("file flow flushed by the exit = %v, want fd 4, WRITE_SEND without CLOSE, 10 bytes, ending at the exit", last)
	}
	if st := a.Stats(); st.OpenFlows != 0 || st.Processes != 0 {
		t.Errorf("Stats() = %+v, want no flow nor process left", st)
	}
}

func TestThreadCounting(t *testing.T) {
	cloneThread := func(at int64, tid int32) flow.Event {
		return flow.Event{Kind: flow.KindClone, Time: at, PID: pid, TID: pid, ChildPID: pid, ChildTID: tid}
	}
	exitThread := func(at int64, tid int32) flow.Event {
		return flow.Event{Kind: flow.KindExit, Time: at, PID: pid, TID: tid, StartTime: start}
	}
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		cloneThread(t0, pid+1), cloneThread(t0+sec, pid+2), cloneThread(t0+2*sec, pid+3),
		flow.Event{Kind: flow.KindClone, Time: t0 + 3*sec, PID: pid, TID: pid, Ret: -11}, // EAGAIN
		exitThread(t0+4*sec, pid+1),
	)
	tick(t, a, t0+29*sec) // not yet
	tick(t, a, t0+30*sec)
	handle(t, a, exitThread(t0+35*sec, pid+2), exitThread(t0+36*sec, pid))

	var got []*sysflowv1.ProcessFlow
	for _, r := range s.take() {
		if pf := r.GetProcessFlow(); pf != nil {
			got = append(got, pf)
		}
	}
	want := []*sysflowv1.ProcessFlow{
		{ProcOid: oid(pid, start), Ts: t0, EndTs: t0 + 4*sec, OpFlags: opClone | opExit,
			NumThreadsCloned: 3, NumThreadsExited: 1, NumCloneErrors: 1},
		{ProcOid: oid(pid, start), Ts: t0 + 30*sec, EndTs: t0 + 36*sec, OpFlags: opExit, NumThreadsExited: 1},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("process flows (-want +got):\n%s", diff)
	}
}

func TestProcessFlowIdle(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a, flow.Event{Kind: flow.KindClone, Time: t0, PID: pid, TID: pid, ChildPID: pid, ChildTID: pid + 1})
	tick(t, a, t0+30*sec)
	tick(t, a, t0+60*sec)
	tick(t, a, t0+90*sec)
	if diff := cmp.Diff([]string{"process", "process_flow"}, kinds(s.take())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestEntitiesPrecedeAndAreNotResent(t *testing.T) {
	p := process(pid, start, "/srv")
	src := newSource(p)
	a, s := newAggregator(t, src, nil)
	handle(t, a,
		openEv(t0, pid, "/srv/a", 0, 3),
		openEv(t0, pid, "a", 0, 4), // the same file
		closeEv(t0+sec, pid, 3, 1, 1, 0, 0),
		closeEv(t0+sec, pid, 4, 1, 1, 0, 0),
	)
	// A new message, equal but for ts: not a change.
	same := proto.CloneOf(p)
	same.Ts = t0 + 5*sec
	src.set(same)
	handle(t, a, openEv(t0+5*sec, pid, "/srv/b", 0, 3))
	// A change (exec): the pending records go first, then the new entity.
	handle(t, a, countersEv(t0+6*sec, pid, 3, 0, 0, 1, 1))
	execed := proto.CloneOf(p)
	execed.Exe, execed.State = "/bin/sh", sysflowv1.ObjectState_OBJECT_STATE_MODIFIED
	src.set(execed)
	handle(t, a,
		flow.Event{Kind: flow.KindExec, Time: t0 + 7*sec, PID: pid, TID: pid, StartTime: start, Path: "/bin/sh"},
		closeEv(t0+8*sec, pid, 3, 0, 0, 2, 2),
	)
	recs := s.take()
	checkReferences(t, recs)
	want := []string{
		"process", "file", "file_flow", "file_flow", // the two flows of /srv/a
		"file", "file_flow", // /srv/b's pending write, before the change
		"process", "process_event:2", "file_flow", // the new entity, EXEC, /srv/b's close
	}
	if diff := cmp.Diff(want, kinds(recs)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if got := recs[8].GetFileFlow(); got.GetOpFlags() != opWrite|opClose || got.GetTs() != t0+7*sec {
		t.Errorf("record after the exec = %v, want WRITE_SEND|CLOSE from the exec on", got)
	}
}

func TestExecClosesCloexec(t *testing.T) {
	p := process(pid, start, "/")
	src := newSource(p)
	a, s := newAggregator(t, src, nil)
	handle(t, a,
		openEv(t0, pid, "/keep", 0, 3),
		openEv(t0, pid, "/cloexec", 02000000, 4),
	)
	execed := proto.CloneOf(p)
	execed.Exe = "/bin/true"
	src.set(execed)
	handle(t, a, flow.Event{Kind: flow.KindExec, Time: t0 + sec, PID: pid, TID: pid, StartTime: start})
	recs := s.take()
	checkReferences(t, recs)
	// fd 4 closed by the exec, before the new entity; fd 3's pending OPEN emitted before it too.
	want := []string{"process", "file", "file_flow", "file", "file_flow", "process", "process_event:2"}
	if diff := cmp.Diff(want, kinds(recs)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	if ff := recs[2].GetFileFlow(); ff.GetFd() != 4 || ff.GetOpFlags() != opOpen|opClose {
		t.Errorf("first file flow = %v, want fd 4 with OPEN|CLOSE", ff)
	}
	if ff := recs[4].GetFileFlow(); ff.GetFd() != 3 || ff.GetOpFlags() != opOpen {
		t.Errorf("second file flow = %v, want fd 3 with OPEN", ff)
	}
	if st := a.Stats(); st.OpenFlows != 1 {
		t.Errorf("Stats().OpenFlows = %d, want 1", st.OpenFlows)
	}
}

func TestUnknownProcess(t *testing.T) {
	a, s := newAggregator(t, nil, func(c *flow.Config) { c.ContainerOf = func(int32) string { return "ctr" } })
	handle(t, a,
		flow.Event{Kind: flow.KindExec, Time: t0, PID: pid, TID: pid, StartTime: start, Path: "/bin/cat",
			Args: []string{"x"}, UID: 7, GID: 8},
		openEv(t0+sec, pid, "x", 0, 3), // no cwd known: stays relative
		closeEv(t0+2*sec, pid, 3, 0, 0, 0, 0),
	)
	recs := s.take()
	checkReferences(t, recs)
	want := &sysflowv1.Process{
		State: sysflowv1.ObjectState_OBJECT_STATE_REUP, Oid: oid(pid, start), Ts: t0,
		Exe: "/bin/cat", ExeArgs: "x", Uid: 7, Gid: 8, ContainerId: ptr("ctr"),
	}
	if diff := cmp.Diff(want, recs[0].GetProcess(), protocmp.Transform()); diff != "" {
		t.Errorf("made entity (-want +got):\n%s", diff)
	}
	if got := a.Stats().UnknownProcesses; got != 1 {
		t.Errorf("Stats().UnknownProcesses = %d, want 1", got)
	}
}

func TestPidReused(t *testing.T) {
	src := newSource(process(pid, start, "/"))
	a, s := newAggregator(t, src, nil)
	handle(t, a, openEv(t0, pid, "/a", 0, 3))
	// The process exited unseen; another took its pid.
	src.set(process(pid, t0+sec, "/"))
	ev := openEv(t0+2*sec, pid, "/b", 0, 3)
	ev.StartTime = t0 + sec
	handle(t, a, ev)
	recs := s.take()
	checkReferences(t, recs)
	if diff := cmp.Diff([]string{"process", "file", "file_flow", "process"}, kinds(recs)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestConcurrentUse(t *testing.T) {
	a, _ := newAggregator(t, newSource(process(pid, start, "/")), nil)
	var wg sync.WaitGroup
	for g := range int32(4) {
		wg.Go(func() {
			for i := range int64(200) {
				fd := g*1000 + int32(i)
				_ = a.Handle(openEv(t0+i, pid, "/f", 0, int64(fd)))
				_ = a.Handle(closeEv(t0+i+1, pid, fd, 1, 1, 1, 1))
				_ = a.Tick(t0 + i*sec)
				_ = a.Stats()
			}
		})
	}
	wg.Wait()
	if st := a.Stats(); st.OpenFlows != 0 {
		t.Errorf("Stats().OpenFlows = %d, want 0", st.OpenFlows)
	}
}

func TestProcessesForgotten(t *testing.T) {
	const n = 1<<16 + 1
	procs := make([]*sysflowv1.Process, n+1)
	for p := int32(1); p <= n; p++ {
		procs[p] = process(p, start, "/")
	}
	src := flow.ProcessFunc(func(p int32) (*sysflowv1.Process, bool) { return procs[p], true })
	a, s := newAggregator(t, src, nil)
	setuid := func(p int32) flow.Event {
		return flow.Event{Kind: flow.KindSetUID, Time: t0, PID: p, TID: p, StartTime: start, Args: []string{"0"}}
	}
	handle(t, a, openEv(t0, pid, "/kept", 0, 3)) // pid has an open flow: never forgotten
	for p := int32(1); p <= n; p++ {
		handle(t, a, setuid(p))
	}
	if got := a.Stats().Processes; got != 1<<16 {
		t.Errorf("Stats().Processes = %d, want %d", got, 1<<16)
	}
	s.take()
	handle(t, a, setuid(1), setuid(pid))
	// Process 1 was forgotten, so its entity is sent again; pid was not.
	if diff := cmp.Diff([]string{"process", "process_event:8", "process_event:8"}, kinds(s.take())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// A process's ancestors are emitted before it, eldest first, each once, so that rules can read
// them (proc.aname[N]) though they never did anything the capture saw.
func TestAncestorsFirst(t *testing.T) {
	const parent, grand, sibling = pid - 1, pid - 2, pid + 1
	g := process(grand, start-2*sec, "/")
	p := process(parent, start-sec, "/")
	p.Poid = oid(grand, start-2*sec)
	c := process(pid, start, "/")
	c.Poid = oid(parent, start-sec)
	s2 := process(sibling, start, "/")
	s2.Poid = oid(parent, start-sec)
	a, s := newAggregator(t, newSource(g, p, c, s2), nil)
	handle(t, a, flow.Event{Kind: flow.KindExit, Time: t0, PID: pid, TID: pid + 9, StartTime: start})
	handle(t, a, flow.Event{Kind: flow.KindExit, Time: t0, PID: sibling, TID: sibling + 9, StartTime: start})
	var got []int64
	for _, r := range s.take() {
		if e := r.GetProcess(); e != nil {
			got = append(got, e.GetOid().GetHpid())
		}
	}
	if diff := cmp.Diff([]int64{int64(grand), int64(parent), int64(pid), int64(sibling)}, got); diff != "" {
		t.Errorf("process entities by pid (-want +got):\n%s", diff)
	}
}
