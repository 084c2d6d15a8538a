// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable_test

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sysflux/sysflux/agent/proctable"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

const reup = sysflowv1.ObjectState_OBJECT_STATE_REUP

// fixtureScan is what Scan returns for the fixtures with a 64-byte environment bound.
func fixtureScan() []*sysflowv1.Process {
	ts := fixedNow.UnixNano()
	docker := strp("3f4e8a1c2b7d")
	return []*sysflowv1.Process{
		{
			State: reup, Oid: fixtureOID(1, 1), Ts: ts,
			Exe: "/usr/lib/systemd/systemd", ExeArgs: "splash",
			UserName: "root", GroupName: "root", Entry: true,
			Cwd: "/", Env: []string{"HOME=/", "TERM=linux"},
		},
		{
			State: reup, Oid: fixtureOID(100, 300), Poid: fixtureOID(1, 1), Ts: ts,
			Exe:      "/usr/sbin/sshd", // argv[0] rewritten by setproctitle: no arguments
			UserName: "root", GroupName: "root",
			Cwd: "/", Env: []string{"LANG=C.UTF-8"},
		},
		{
			State: reup, Oid: fixtureOID(200, 5000), Poid: fixtureOID(100, 300), Ts: ts,
			Exe: "/usr/bin/bash", ExeArgs: "",
			Uid: 1000, UserName: "alice", Gid: 1000, GroupName: "alice", Tty: true,
			Cwd: "/home/alice",
			// LS_COLORS and PATH do not fit in the 64 bytes left; LANG still does.
			Env: []string{"USER=alice", "HOME=/home/alice", "SHELL=/bin/bash", "LANG=C"},
		},
		{
			State: reup, Oid: fixtureOID(300, 6000), Poid: fixtureOID(200, 5000), Ts: ts,
			Exe: "/usr/bin/python3.12", ExeArgs: "-m http.server 8000",
			Uid: 4242, UserName: "4242", Gid: 4242, GroupName: "4242",
			ContainerId: docker, Entry: true,
			Cwd: "/srv", Env: []string{"PATH=/usr/bin", "PYTHONUNBUFFERED=1"},
		},
		{
			State: reup, Oid: fixtureOID(301, 6100), Poid: fixtureOID(300, 6000), Ts: ts,
			Exe: "/bin/dash", ExeArgs: "-c sleep 1000",
			Uid: 4242, UserName: "4242", Gid: 4242, GroupName: "4242",
			ContainerId: docker,
			Cwd:         "/srv", Env: []string{"PATH=/usr/bin"},
		},
		{
			// pid 50 after pid 301: pids wrapped around.
			State: reup, Oid: fixtureOID(50, 7000), Poid: fixtureOID(301, 6100), Ts: ts,
			Exe: "/usr/bin/sleep", ExeArgs: "1000",
			Uid: 4242, UserName: "4242", Gid: 4242, GroupName: "4242",
			ContainerId: docker,
			Cwd:         "/srv", Env: []string{"PATH=/usr/bin"},
		},
	}
}

func TestScanFixtures(t *testing.T) {
	tests := []struct {
		name string
		self int
		want func() []*sysflowv1.Process
	}{
		{
			// Kernel threads 2 and 3 are left out, and so are 400 (gone after its stat was
			// read) and 500 (gone before).
			name: "all",
			want: fixtureScan,
		},
		{
			name: "agent left out",
			self: 100,
			want: func() []*sysflowv1.Process {
				recs := fixtureScan()
				recs = slices.Delete(recs, 1, 2)
				recs[1].Poid = nil // bash's parent is the agent, which is not recorded
				return recs
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, _ := newFixtureTable(t, proctable.Config{Self: tt.self})
			if got, want := tbl.BootTimeNS(), fixtureBoot; got != want {
				t.Errorf("BootTimeNS() = %d, want %d", got, want)
			}
			got, err := tbl.Scan()
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if diff := cmp.Diff(tt.want(), got, protocmp.Transform()); diff != "" {
				t.Errorf("Scan() mismatch (-want +got):\n%s", diff)
			}
			checkParentsFirst(t, got)
			for _, p := range got {
				if l := tbl.Lookup(int32(p.Oid.Hpid)); l != p {
					t.Errorf("Lookup(%d) = %v, want the scanned record", p.Oid.Hpid, l)
				}
			}
			for _, pid := range []int32{2, 3, 400, 500} {
				if p, ok := tbl.Get(pid); ok {
					t.Errorf("Get(%d) = %v, want none", pid, p)
				}
			}
		})
	}
}

func TestScanEnvironmentBound(t *testing.T) {
	tests := []struct {
		max  int
		want []string
	}{
		{max: -1, want: nil},
		{max: 5, want: nil},
		{max: 6, want: []string{"LANG=C"}}, // the first variables are too long, the last fits
		{max: 10, want: []string{"USER=alice"}},
		{max: 16, want: []string{"USER=alice", "LANG=C"}},
		{max: 26, want: []string{"USER=alice", "HOME=/home/alice"}},
		{max: 47, want: []string{"USER=alice", "HOME=/home/alice", "SHELL=/bin/bash", "LANG=C"}},
		{max: 4096, want: []string{
			"USER=alice", "LS_COLORS=" + strings.Repeat("rs=0:di=01;34:ln=01;36:", 4), "HOME=/home/alice",
			"SHELL=/bin/bash", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C",
		}},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.max), func(t *testing.T) {
			tbl, _ := newFixtureTable(t, proctable.Config{MaxEnvBytes: tt.max})
			if _, err := tbl.Scan(); err != nil {
				t.Fatalf("Scan: %v", err)
			}
			got := tbl.Lookup(200).GetEnv()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("env with MaxEnvBytes %d mismatch (-want +got):\n%s", tt.max, diff)
			}
		})
	}
}

func TestScanMissingProc(t *testing.T) {
	_, err := proctable.New(proctable.Config{ProcRoot: t.TempDir()})
	if err == nil {
		t.Fatal("New with a proc root without stat: no error")
	}
}

// procOID returns the object id of a live process as computed from /proc by hand.
func procOID(t *testing.T, pid int) *sysflowv1.OID {
	t.Helper()
	boot, err := strconv.ParseInt(btime(t), 10, 64)
	if err != nil {
		t.Fatalf("parse btime: %v", err)
	}
	ticks, err := strconv.ParseInt(statField(t, "/proc", pid, 22), 10, 64)
	if err != nil {
		t.Fatalf("parse starttime: %v", err)
	}
	return &sysflowv1.OID{CreateTs: boot*1e9 + ticks*1e7, Hpid: int64(pid)}
}

func find(recs []*sysflowv1.Process, pid int) *sysflowv1.Process {
	for _, p := range recs {
		if p.Oid.Hpid == int64(pid) {
			return p
		}
	}
	return nil
}

func userName(id int, lookup func(string) (string, error)) string {
	if name, err := lookup(strconv.Itoa(id)); err == nil {
		return name
	}
	return strconv.Itoa(id)
}

func TestScanLive(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	marker := "PROCTABLE_MARKER=" + strconv.Itoa(os.Getpid())
	child := startHelper(t, dir, []string{"marker-arg", "two words"}, marker)

	tbl, err := proctable.New(proctable.Config{MaxEnvBytes: 4096})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	recs, err := tbl.Scan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	checkParentsFirst(t, recs)
	for _, p := range recs {
		if p.State != reup {
			t.Errorf("process %d: state %v, want REUP", p.Oid.Hpid, p.State)
		}
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if wd, err = filepath.EvalSymlinks(wd); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	uname := userName(uid, func(s string) (string, error) {
		u, err := user.LookupId(s)
		if err != nil {
			return "", err
		}
		return u.Username, nil
	})
	gname := userName(gid, func(s string) (string, error) {
		g, err := user.LookupGroupId(s)
		if err != nil {
			return "", err
		}
		return g.Name, nil
	})

	self := find(recs, os.Getpid())
	if self == nil {
		t.Fatalf("Scan did not find the test process %d", os.Getpid())
	}
	if got, want := self.Oid, procOID(t, os.Getpid()); !proto.Equal(got, want) {
		t.Errorf("test process oid = %v, want %v", got, want)
	}
	if got, want := self.Exe, exe; got != want {
		t.Errorf("test process exe = %q, want %q", got, want)
	}
	if got, want := self.ExeArgs, strings.Join(os.Args[1:], " "); got != want {
		t.Errorf("test process exe_args = %q, want %q", got, want)
	}
	if got, want := self.Cwd, wd; got != want {
		t.Errorf("test process cwd = %q, want %q", got, want)
	}
	for _, v := range self.Env {
		if !slices.Contains(os.Environ(), v) {
			t.Errorf("test process env has %q, not in os.Environ()", v)
		}
	}

	p := find(recs, child.Process.Pid)
	if p == nil {
		t.Fatalf("Scan did not find the child %d", child.Process.Pid)
	}
	want := &sysflowv1.Process{
		State:     reup,
		Oid:       procOID(t, child.Process.Pid),
		Poid:      self.Oid,
		Ts:        p.Ts,
		Exe:       exe,
		ExeArgs:   "marker-arg two words",
		Uid:       int32(uid),
		UserName:  uname,
		Gid:       int32(gid),
		GroupName: gname,
		Tty:       self.Tty,
		// The child is in the test's container, if any.
		ContainerId: self.ContainerId,
		Cwd:         dir,
	}
	want.CapInheritable, want.CapPermitted, want.CapEffective, want.Loginuid = procCreds(t, child.Process.Pid)
	got := proto.CloneOf(p)
	got.Env = nil
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("child record mismatch (-want +got):\n%s", diff)
	}
	if len(p.Env) == 0 || p.Env[0] != marker {
		t.Errorf("child env = %q, want %q first", p.Env, marker)
	}
	if len(strings.Join(p.Env, "")) > 4096 {
		t.Errorf("child env has %d bytes, want at most 4096", len(strings.Join(p.Env, "")))
	}
}

func TestScanLiveIgnoresSelf(t *testing.T) {
	child := startHelper(t, "", nil)
	tbl, err := proctable.New(proctable.Config{Self: os.Getpid()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	recs, err := tbl.Scan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if p := find(recs, os.Getpid()); p != nil {
		t.Errorf("Scan recorded the agent itself: %v", p)
	}
	p := find(recs, child.Process.Pid)
	if p == nil {
		t.Fatalf("Scan did not find the child %d", child.Process.Pid)
	}
	if p.Poid != nil {
		t.Errorf("child of the agent: poid = %v, want none (the agent is not recorded)", p.Poid)
	}
	checkParentsFirst(t, recs)
}

// bootNow returns CLOCK_BOOTTIME in nanoseconds, the clock of task->start_boottime.
func bootNow(t *testing.T) int64 {
	t.Helper()
	const clockBoottime = 7
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockBoottime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		t.Fatalf("clock_gettime(CLOCK_BOOTTIME): %v", errno)
	}
	return ts.Nano()
}

// TestCreateTimeLive checks that CreateTime, given a start_boottime, agrees with the oid that
// Scan computes from /proc for the same process. The child's start_boottime is taken between
// two readings of CLOCK_BOOTTIME around its fork.
func TestCreateTimeLive(t *testing.T) {
	before := bootNow(t)
	child := startHelper(t, "", nil)
	after := bootNow(t)
	pid := child.Process.Pid

	tbl, err := proctable.New(proctable.Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := strconv.FormatInt(tbl.BootTimeNS()/1e9, 10), btime(t); got != want || tbl.BootTimeNS()%1e9 != 0 {
		t.Errorf("BootTimeNS() = %d, want btime %s s", tbl.BootTimeNS(), want)
	}
	recs, err := tbl.Scan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	p := find(recs, pid)
	if p == nil {
		t.Fatalf("Scan did not find the child %d", pid)
	}
	ticks, err := strconv.ParseInt(statField(t, "/proc", pid, 22), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel rounds start_boottime down to ticks: the ticks in /proc lie between the
	// rounded-down readings taken before and after the fork.
	if ticks < before/1e7 || ticks > after/1e7 {
		t.Errorf("starttime %d ticks not within [%d, %d]", ticks, before/1e7, after/1e7)
	}
	for _, start := range []int64{ticks * 1e7, ticks*1e7 + 1, ticks*1e7 + 9_999_999} {
		if got, want := proctable.CreateTime(tbl.BootTimeNS(), start), p.Oid.CreateTs; got != want {
			t.Errorf("CreateTime(%d, %d) = %d, want %d as from /proc", tbl.BootTimeNS(), start, got, want)
		}
	}
	if lo, hi := proctable.CreateTime(tbl.BootTimeNS(), before), proctable.CreateTime(tbl.BootTimeNS(), after); p.Oid.CreateTs < lo || p.Oid.CreateTs > hi {
		t.Errorf("create time %d not within [%d, %d]", p.Oid.CreateTs, lo, hi)
	}
}

func TestCreateTime(t *testing.T) {
	const boot = int64(1_700_000_000_000_000_000)
	tests := []struct {
		start, want int64
	}{
		{start: 0, want: boot},
		{start: 9_999_999, want: boot},
		{start: 10_000_000, want: boot + 10_000_000},
		{start: 123_456_789_012, want: boot + 123_450_000_000},
		{start: -1, want: boot - 10_000_000},
	}
	for _, tt := range tests {
		if got := proctable.CreateTime(boot, tt.start); got != tt.want {
			t.Errorf("CreateTime(%d, %d) = %d, want %d", boot, tt.start, got, tt.want)
		}
	}
}

func TestIgnored(t *testing.T) {
	self := os.Getpid()
	tbl, err := proctable.New(proctable.Config{Self: self})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !tbl.Ignored(int32(self)) {
		t.Errorf("Ignored(%d) = false for the agent itself", self)
	}
	des, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		tid, _ := strconv.Atoi(de.Name())
		if !tbl.Ignored(int32(tid)) {
			t.Errorf("Ignored(%d) = false for a thread of the agent", tid)
		}
	}
	child := startHelper(t, "", nil)
	if tbl.Ignored(int32(child.Process.Pid)) {
		t.Errorf("Ignored(%d) = true for a child of the agent", child.Process.Pid)
	}
	if p, _ := tbl.Ensure(int32(self)); p != nil {
		t.Errorf("Ensure(self) = %v, want nil", p)
	}

	none, err := proctable.New(proctable.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if none.Ignored(int32(self)) {
		t.Errorf("Ignored(%d) = true without Config.Self", self)
	}
}

// procCreds reads a process's capability sets and login uid as the kernel shows them.
func procCreds(t *testing.T, pid int) (inh, prm, eff *uint64, loginuid *int32) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var v uint64
		for _, c := range []struct {
			key string
			to  **uint64
		}{{"CapInh:", &inh}, {"CapPrm:", &prm}, {"CapEff:", &eff}} {
			if _, err := fmt.Sscanf(line, c.key+"\t%x", &v); err == nil {
				x := v
				*c.to = &x
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/loginuid", pid)); err == nil {
		var v uint32
		if _, err := fmt.Sscanf(string(b), "%d", &v); err != nil {
			t.Fatal(err)
		}
		id := int32(v)
		loginuid = &id
	}
	if inh == nil || prm == nil || eff == nil {
		t.Fatalf("/proc/%d/status has no capability sets", pid)
	}
	return inh, prm, eff, loginuid
}
