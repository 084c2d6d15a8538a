// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sysflux/sysflux/agent/flow"
	"github.com/sysflux/sysflux/agent/proctable"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

const (
	created  = sysflowv1.ObjectState_OBJECT_STATE_CREATED
	modified = sysflowv1.ObjectState_OBJECT_STATE_MODIFIED
	evTime   = int64(1_750_000_000_000_000_000)
)

// scanned returns a fixture table after its Scan, and the fixture tree's path.
func scanned(t *testing.T, cfg proctable.Config) (*proctable.Table, string) {
	t.Helper()
	tbl, root := newFixtureTable(t, cfg)
	if _, err := tbl.Scan(); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return tbl, root
}

// relink points /proc/<pid>/<name> of a fixture tree at target.
func relink(t *testing.T, root, pid, name, target string) {
	t.Helper()
	link := filepath.Join(root, pid, name)
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestExec(t *testing.T) {
	docker := strp("3f4e8a1c2b7d")
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		ev    flow.Event
		want  *sysflowv1.Process
	}{
		{
			// The event's path is what ran, made absolute against the working directory; /proc's
			// link (here another name for it) does not replace it.
			name:  "known process",
			setup: func(t *testing.T, root string) { relink(t, root, "200", "exe", "/usr/bin/vim.basic") },
			ev: flow.Event{
				Kind: flow.KindExec, Time: evTime, PID: 200, TID: 200, PPID: 100,
				StartTime: fixtureOID(200, 5000).CreateTs, UID: 1000, GID: 10,
				Path: "vim", Args: []string{"notes.txt", "-R"},
			},
			want: &sysflowv1.Process{
				State: modified, Oid: fixtureOID(200, 5000), Poid: fixtureOID(100, 300), Ts: evTime,
				Exe: "/home/alice/vim", ExeArgs: "notes.txt -R",
				Uid: 1000, UserName: "alice", Gid: 10, GroupName: "wheel", Tty: true,
				Cwd: "/home/alice", Env: []string{"USER=alice", "HOME=/home/alice", "SHELL=/bin/bash", "LANG=C"},
			},
		},
		{
			// Gone from /proc: the path is made absolute against the working directory
			// inherited from the parent, which also gives the environment.
			name: "unknown process gone from proc",
			ev: flow.Event{
				Kind: flow.KindExec, Time: evTime, PID: 999, TID: 999, PPID: 200,
				StartTime: fixtureOID(999, 9000).CreateTs, UID: 1001, GID: 1001,
				Path: "bin/tool", Args: []string{"-v"},
			},
			want: &sysflowv1.Process{
				State: created, Oid: fixtureOID(999, 9000), Poid: fixtureOID(200, 5000), Ts: evTime,
				Exe: "/home/alice/bin/tool", ExeArgs: "-v",
				Uid: 1001, UserName: "bob", Gid: 1001, GroupName: "bob", Tty: true,
				Cwd: "/home/alice", Env: []string{"USER=alice", "HOME=/home/alice", "SHELL=/bin/bash", "LANG=C"},
			},
		},
		{
			// Pid 301 was reused by a process the table missed: a new process, whose /proc
			// entry (the old process's) is not used.
			name: "reused pid",
			ev: flow.Event{
				Kind: flow.KindExec, Time: evTime, PID: 301, TID: 301, PPID: 300,
				StartTime: fixtureOID(301, 8000).CreateTs, UID: 0, GID: 0,
				Path: "/usr/bin/id",
			},
			want: &sysflowv1.Process{
				State: created, Oid: fixtureOID(301, 8000), Poid: fixtureOID(300, 6000), Ts: evTime,
				Exe: "/usr/bin/id", UserName: "root", GroupName: "root",
				ContainerId: docker, Cwd: "/srv", Env: []string{"PATH=/usr/bin", "PYTHONUNBUFFERED=1"},
			},
		},
		{
			name: "no start time",
			ev: flow.Event{
				Kind: flow.KindExec, Time: evTime, PID: 50, TID: 50, PPID: 301,
				UID: 4242, GID: 4242, Path: "/usr/bin/sleep", Args: []string{"5"},
			},
			want: &sysflowv1.Process{
				State: modified, Oid: fixtureOID(50, 7000), Poid: fixtureOID(301, 6100), Ts: evTime,
				Exe: "/usr/bin/sleep", ExeArgs: "5",
				Uid: 4242, UserName: "4242", Gid: 4242, GroupName: "4242",
				ContainerId: docker, Cwd: "/srv", Env: []string{"PATH=/usr/bin"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, root := scanned(t, proctable.Config{})
			if tt.setup != nil {
				tt.setup(t, root)
			}
			got := tbl.Exec(tt.ev)
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("Exec(%+v) mismatch (-want +got):\n%s", tt.ev, diff)
			}
			if l := tbl.Lookup(tt.ev.PID); l != got {
				t.Errorf("Lookup(%d) = %v, want the Exec record", tt.ev.PID, l)
			}
		})
	}
}

func TestClone(t *testing.T) {
	tbl, _ := scanned(t, proctable.Config{})
	ev := flow.Event{
		Kind: flow.KindClone, Time: evTime, PID: 300, TID: 300, PPID: 200,
		ChildPID: 302, ChildTID: 302, StartTime: fixtureOID(302, 6500).CreateTs,
	}
	want := &sysflowv1.Process{
		State: created, Oid: fixtureOID(302, 6500), Poid: fixtureOID(300, 6000), Ts: evTime,
		Exe: "/usr/bin/python3.12", ExeArgs: "-m http.server 8000",
		Uid: 4242, UserName: "4242", Gid: 4242, GroupName: "4242",
		ContainerId: strp("3f4e8a1c2b7d"),
		Cwd:         "/srv", Env: []string{"PATH=/usr/bin", "PYTHONUNBUFFERED=1"},
	}
	got := tbl.Clone(ev)
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Clone(%+v) mismatch (-want +got):\n%s", ev, diff)
	}
	if p := tbl.Clone(ev); p != nil {
		t.Errorf("Clone of a known child = %v, want nil", p)
	}
	thread := flow.Event{Kind: flow.KindClone, Time: evTime, PID: 300, TID: 300, ChildPID: 300, ChildTID: 305}
	if p := tbl.Clone(thread); p != nil {
		t.Errorf("Clone(%+v) = %v, want nil for a thread", thread, p)
	}
	if _, ok := tbl.Get(305); ok {
		t.Error("a thread was added to the table")
	}

	// The child then executes: the same process, modified.
	exec := flow.Event{
		Kind: flow.KindExec, Time: evTime + 1, PID: 302, TID: 302, PPID: 300,
		StartTime: ev.StartTime, UID: 4242, GID: 4242, Path: "/bin/ls", Args: []string{"-l"},
	}
	p := tbl.Exec(exec)
	if p.State != modified || !proto.Equal(p.Oid, want.Oid) || p.Exe != "/bin/ls" || p.Cwd != "/srv" {
		t.Errorf("Exec(%+v) = %v, want /bin/ls modifying %v in /srv", exec, p, want.Oid)
	}
}

func TestCloneUnknownParent(t *testing.T) {
	// Without a scan the parent is unknown: the child, running its parent's image, is read
	// from /proc, and its poid from the parent's /proc entry.
	tbl, _ := newFixtureTable(t, proctable.Config{})
	ev := flow.Event{
		Kind: flow.KindClone, Time: evTime, PID: 300, TID: 300,
		ChildPID: 301, ChildTID: 301, StartTime: fixtureOID(301, 6100).CreateTs,
	}
	want := &sysflowv1.Process{
		State: created, Oid: fixtureOID(301, 6100), Poid: fixtureOID(300, 6000), Ts: evTime,
		Exe: "/bin/dash", ExeArgs: "-c sleep 1000",
		Uid: 4242, UserName: "4242", Gid: 4242, GroupName: "4242",
		ContainerId: strp("3f4e8a1c2b7d"),
		Cwd:         "/srv", Env: []string{"PATH=/usr/bin"},
	}
	got := tbl.Clone(ev)
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Clone(%+v) mismatch (-want +got):\n%s", ev, diff)
	}
}

func TestExit(t *testing.T) {
	exit := func(pid int32, at int64) flow.Event {
		return flow.Event{Kind: flow.KindExit, Time: at, PID: pid, TID: pid}
	}
	t.Run("thread", func(t *testing.T) {
		tbl, _ := scanned(t, proctable.Config{MaxExited: 1})
		tbl.Exit(flow.Event{Kind: flow.KindExit, Time: evTime, PID: 300, TID: 303})
		tbl.Exit(exit(301, evTime))
		tbl.Exit(exit(50, evTime)) // evicts 301, not 300
		if tbl.Lookup(300) == nil {
			t.Error("a thread's exit removed its process")
		}
	})
	t.Run("kept while late events may come", func(t *testing.T) {
		tbl, _ := scanned(t, proctable.Config{MaxExited: 2, ExitGrace: time.Second})
		tbl.Exit(exit(50, evTime))
		if tbl.Lookup(50) == nil {
			t.Fatal("Lookup(50) = nil right after its exit, want its record")
		}
		tbl.Exit(exit(50, evTime+1)) // a second exit changes nothing
		tbl.Exit(exit(301, evTime+2))
		if tbl.Lookup(50) == nil || tbl.Lookup(301) == nil {
			t.Fatal("exited processes evicted before MaxExited was reached")
		}
		tbl.Exit(exit(300, evTime+3))
		if p := tbl.Lookup(50); p != nil {
			t.Errorf("Lookup(50) = %v after 3 exits with MaxExited 2, want nil", p)
		}
		tbl.Exit(exit(200, evTime+2+int64(time.Second)))
		if p := tbl.Lookup(301); p != nil {
			t.Errorf("Lookup(301) = %v after ExitGrace, want nil", p)
		}
		for _, pid := range []int32{300, 200, 100} {
			if tbl.Lookup(pid) == nil {
				t.Errorf("Lookup(%d) = nil, want its record", pid)
			}
		}
	})
	t.Run("other process with the pid", func(t *testing.T) {
		tbl, _ := scanned(t, proctable.Config{MaxExited: 1})
		ev := exit(50, evTime)
		ev.StartTime = fixtureOID(50, 1).CreateTs
		tbl.Exit(ev)
		tbl.Exit(exit(301, evTime))
		if tbl.Lookup(50) == nil {
			t.Error("the exit of another process with pid 50 removed it")
		}
	})
	t.Run("pid reused after exit", func(t *testing.T) {
		tbl, _ := scanned(t, proctable.Config{})
		tbl.Exit(exit(50, evTime))
		ev := flow.Event{
			Kind: flow.KindClone, Time: evTime + 1, PID: 301, TID: 301,
			ChildPID: 50, ChildTID: 50, StartTime: evTime + 1,
		}
		p := tbl.Clone(ev)
		if p == nil || p.Oid.CreateTs != evTime+1 {
			t.Fatalf("Clone(%+v) = %v, want a new process", ev, p)
		}
		if l := tbl.Lookup(50); l != p {
			t.Errorf("Lookup(50) = %v, want the new process", l)
		}
	})
}

func TestSetUID(t *testing.T) {
	tbl, _ := scanned(t, proctable.Config{})
	before := tbl.Lookup(200)
	ev := flow.Event{Kind: flow.KindSetUID, Time: evTime, PID: 200, TID: 200, UID: 0, GID: 10}
	got := tbl.SetUID(ev)
	want := proto.CloneOf(before)
	want.State, want.Ts = modified, evTime
	want.Uid, want.UserName, want.Gid, want.GroupName = 0, "root", 10, "wheel"
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("SetUID(%+v) mismatch (-want +got):\n%s", ev, diff)
	}
	if before.Uid != 1000 || before.State != reup {
		t.Errorf("SetUID modified the previous record: %v", before)
	}
	unchanged := flow.Event{Kind: flow.KindSetUID, Time: evTime, PID: 200, TID: 200, UID: -1, GID: 0}
	if p := tbl.SetUID(unchanged); p.Uid != 0 || p.Gid != 0 || p.GroupName != "root" {
		t.Errorf("SetUID(%+v) = %v, want uid 0 kept and gid 0", unchanged, p)
	}
	if p := tbl.SetUID(flow.Event{Kind: flow.KindSetUID, PID: 999, TID: 999}); p != nil {
		t.Errorf("SetUID of an unknown process = %v, want nil", p)
	}
}

func TestEnsure(t *testing.T) {
	tbl, _ := newFixtureTable(t, proctable.Config{})
	want := fixtureScan()[4] // pid 301
	got, isNew := tbl.Ensure(301)
	if !isNew {
		t.Error("Ensure(301) on an empty table: isNew = false")
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Ensure(301) mismatch (-want +got):\n%s", diff)
	}
	if again, isNew := tbl.Ensure(301); again != got || isNew {
		t.Errorf("Ensure(301) again = %v, %t, want the same record, false", again, isNew)
	}
	for _, pid := range []int32{0, 2, 3, 400, 500, 999} {
		if p, isNew := tbl.Ensure(pid); p != nil || isNew {
			t.Errorf("Ensure(%d) = %v, %t, want nil, false", pid, p, isNew)
		}
	}
}

func TestEnsureLineage(t *testing.T) {
	tbl, _ := newFixtureTable(t, proctable.Config{})
	got := tbl.EnsureLineage(50)
	if diff := cmp.Diff(fixtureScan(), got, protocmp.Transform()); diff != "" {
		t.Errorf("EnsureLineage(50) mismatch (-want +got):\n%s", diff)
	}
	checkParentsFirst(t, got)
	if again := tbl.EnsureLineage(50); again != nil {
		t.Errorf("EnsureLineage(50) again = %v, want nil", again)
	}
}

func TestEviction(t *testing.T) {
	tbl, _ := newFixtureTable(t, proctable.Config{MaxProcesses: 3})
	for _, pid := range []int32{1, 100, 200} {
		tbl.Ensure(pid)
	}
	tbl.Lookup(1) // 100 is now the least recently used
	tbl.Ensure(300)
	if _, ok := tbl.Get(100); ok {
		t.Error("least recently used process 100 not evicted")
	}
	tbl.Exit(flow.Event{Kind: flow.KindExit, Time: evTime, PID: 300, TID: 300})
	tbl.Ensure(301) // evicts exited 300 before the least recently used 200
	if _, ok := tbl.Get(300); ok {
		t.Error("exited process 300 not evicted first")
	}
	for _, pid := range []int32{1, 200, 301} {
		if _, ok := tbl.Get(pid); !ok {
			t.Errorf("Get(%d): evicted, want kept", pid)
		}
	}
	if got := tbl.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
}

func TestConcurrent(t *testing.T) {
	tbl, _ := scanned(t, proctable.Config{MaxProcesses: 64, MaxExited: 8})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				child := int32(1000 + g*1000 + i)
				start := evTime + int64(i)
				tbl.Clone(flow.Event{Kind: flow.KindClone, Time: start, PID: 300, TID: 300, ChildPID: child, ChildTID: child, StartTime: start})
				tbl.Exec(flow.Event{Kind: flow.KindExec, Time: start, PID: child, TID: child, PPID: 300, StartTime: start, Path: "/bin/true"})
				tbl.SetUID(flow.Event{Kind: flow.KindSetUID, Time: start, PID: child, TID: child, UID: 1000, GID: 1000})
				if p := tbl.Lookup(child); p != nil && p.Oid.Hpid != int64(child) {
					t.Errorf("Lookup(%d) = %v", child, p)
				}
				tbl.Ensure(301)
				tbl.Exit(flow.Event{Kind: flow.KindExit, Time: start, PID: child, TID: child})
			}
		})
	}
	wg.Wait()
	if n := tbl.Len(); n > 64 {
		t.Errorf("Len() = %d, want at most MaxProcesses 64", n)
	}
}
