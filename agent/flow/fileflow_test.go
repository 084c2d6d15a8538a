// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow_test

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sysflux/sysflux/agent/flow"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

func TestFileFlowOnClose(t *testing.T) {
	const (
		oRdWr    = 02
		oCreat   = 0100
		oCloExec = 02000000
	)
	tests := []struct {
		name         string
		rOps, rBytes int64 // totals read at close
		wOps, wBytes int64 // totals written at close
		sample       bool  // whether a KindCounters sample comes before the close
		wantOps      int32
	}{
		{name: "read and write", rOps: 3, rBytes: 300, wOps: 2, wBytes: 4096, sample: true,
			wantOps: opOpen | opRead | opWrite | opClose},
		{name: "read and write, no sample", rOps: 3, rBytes: 300, wOps: 2, wBytes: 4096,
			wantOps: opOpen | opRead | opWrite | opClose},
		{name: "write only", wOps: 7, wBytes: 70, sample: true, wantOps: opOpen | opWrite | opClose},
		{name: "read to EOF only", rOps: 1, wantOps: opOpen | opRead | opClose},
		{name: "nothing", wantOps: opOpen | opClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := process(pid, start, "/srv")
			a, s := newAggregator(t, newSource(p), nil)
			handle(t, a, openEv(t0, pid+1, "/srv/data.db", oRdWr|oCreat|oCloExec, 5))
			if tt.sample {
				// Read and written by another thread than the opener: still the opener's flow.
				handle(t, a, countersEv(t0+sec, pid+2, 5, tt.rOps, tt.rBytes/2, tt.wOps, tt.wBytes))
			}
			handle(t, a, closeEv(t0+2*sec, pid+2, 5, tt.rOps, tt.rBytes, tt.wOps, tt.wBytes))

			foid := sha1.Sum([]byte("/srv/data.db"))
			want := []*sysflowv1.Record{
				{Rec: &sysflowv1.Record_Process{Process: p}},
				{Rec: &sysflowv1.Record_File{File: &sysflowv1.File{
					State: sysflowv1.ObjectState_OBJECT_STATE_CREATED, Oid: foid[:], Ts: t0,
					Restype: 'f', Path: "/srv/data.db",
				}}},
				{Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{
					ProcOid: oid(pid, start), Ts: t0, Tid: int64(pid + 1), OpFlags: tt.wantOps,
					OpenFlags: int32(sysflowv1.OpenFlag_OPEN_FLAG_RDWR | sysflowv1.OpenFlag_OPEN_FLAG_CREAT |
						sysflowv1.OpenFlag_OPEN_FLAG_CLOEXEC),
					EndTs: t0 + 2*sec, FileOid: foid[:], Fd: 5,
					NumRRecvOps: tt.rOps, NumRRecvBytes: tt.rBytes, NumWSendOps: tt.wOps, NumWSendBytes: tt.wBytes,
				}}},
			}
			if diff := cmp.Diff(want, s.take(), protocmp.Transform()); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if st := a.Stats(); st.OpenFlows != 0 || st.Records != 3 {
				t.Errorf("Stats() = %+v, want no open flow and 3 records", st)
			}
		})
	}
}

func TestFailedOpen(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a, openEv(t0, pid, "/nonexistent", 0, -2))
	if got := s.take(); len(got) != 0 {
		t.Errorf("records after a failed open = %v, want none", kinds(got))
	}
	if got := a.Stats().FailedOpens; got != 1 {
		t.Errorf("Stats().FailedOpens = %d, want 1", got)
	}
}

func TestIntervalSplitsCounts(t *testing.T) {
	type sample struct {
		at                     int64 // seconds after t0
		rOps, rB, wOps, wBytes int64 // totals
	}
	tests := []struct {
		name    string
		samples []sample
		ticks   []int64 // seconds after t0, one after each sample
		closeAt int64
		final   sample // totals at close
		wantTs  []int64
		wantOps []int32
	}{
		{
			name:    "three records",
			samples: []sample{{at: 10, rOps: 10, rB: 1000}, {at: 40, rOps: 25, rB: 2500, wOps: 1, wBytes: 1}},
			ticks:   []int64{30, 60},
			closeAt: 70, final: sample{rOps: 30, rB: 3000, wOps: 1, wBytes: 1},
			wantTs:  []int64{0, 30, 60},
			wantOps: []int32{opOpen | opRead, opRead | opWrite, opRead | opClose},
		},
		{
			name:    "quiet interval emits nothing",
			samples: []sample{{at: 10, wOps: 5, wBytes: 50}, {at: 45, wOps: 5, wBytes: 50}},
			ticks:   []int64{30, 60},
			closeAt: 62, final: sample{wOps: 9, wBytes: 90},
			wantTs:  []int64{0, 60},
			wantOps: []int32{opOpen | opWrite, opWrite | opClose},
		},
		{
			name:    "tick before the interval ends",
			samples: []sample{{at: 5, rOps: 1, rB: 1}},
			ticks:   []int64{29},
			closeAt: 31, final: sample{rOps: 2, rB: 2},
			wantTs:  []int64{0},
			wantOps: []int32{opOpen | opRead | opClose},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
			handle(t, a, openEv(t0, pid, "/var/log/app.log", 02, 3))
			for i, sm := range tt.samples {
				handle(t, a, countersEv(t0+sm.at*sec, pid, 3, sm.rOps, sm.rB, sm.wOps, sm.wBytes))
				tick(t, a, t0+tt.ticks[i]*sec)
			}
			f := tt.final
			handle(t, a, closeEv(t0+tt.closeAt*sec, pid, 3, f.rOps, f.rB, f.wOps, f.wBytes))

			ffs := fileFlows(s.take())
			var gotTs []int64
			var gotOps []int32
			var sum [4]int64
			for _, ff := range ffs {
				gotTs = append(gotTs, (ff.GetTs()-t0)/sec)
				gotOps = append(gotOps, ff.GetOpFlags())
				sum[0] += ff.GetNumRRecvOps()
				sum[1] += ff.GetNumRRecvBytes()
				sum[2] += ff.GetNumWSendOps()
				sum[3] += ff.GetNumWSendBytes()
				if ff.GetEndTs() < ff.GetTs() {
					t.Errorf("record ends (%d) before it starts (%d)", ff.GetEndTs(), ff.GetTs())
				}
			}
			if diff := cmp.Diff(tt.wantTs, gotTs); diff != "" {
				t.Errorf("record ts, seconds after open (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantOps, gotOps); diff != "" {
				t.Errorf("record op_flags (-want +got):\n%s", diff)
			}
			if want := [4]int64{f.rOps, f.rB, f.wOps, f.wBytes}; sum != want {
				t.Errorf("sum of records (rOps, rBytes, wOps, wBytes) = %v, want the totals %v", sum, want)
			}
		})
	}
}

func TestIdleFlush(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		openEv(t0, pid, "/tmp/x", 0, 3),
		countersEv(t0+5*sec, pid, 3, 1, 10, 0, 0),
	)
	tick(t, a, t0+20*sec)
	if got := s.take(); len(got) != 1 { // the process entity; the file's comes with the first flow record
		t.Fatalf("records before the interval = %v, want the process entity only", kinds(got))
	}
	tick(t, a, t0+65*sec) // 60 s after the last activity
	ffs := fileFlows(s.take())
	if len(ffs) != 1 {
		t.Fatalf("file flows after the idle timeout = %d, want 1", len(ffs))
	}
	if got, want := ffs[0].GetOpFlags(), opOpen|opRead; got != want {
		t.Errorf("idle record op_flags = %d, want %d (no CLOSE)", got, want)
	}
	if got, want := ffs[0].GetEndTs(), t0+5*sec; got != want {
		t.Errorf("idle record end_ts = %d, want the last activity %d", got, want)
	}
	if st := a.Stats(); st.OpenFlows != 0 || st.IdleFlows != 1 || st.Idle != 1 {
		t.Errorf("Stats() = %+v, want 0 open, 1 idle flow", st)
	}

	// Later activity continues the flow, without OPEN.
	handle(t, a, closeEv(t0+300*sec, pid, 3, 4, 40, 0, 0))
	ffs = fileFlows(s.take())
	if len(ffs) != 1 {
		t.Fatalf("file flows after a late close = %d, want 1", len(ffs))
	}
	ff := ffs[0]
	if ff.GetOpFlags() != opRead|opClose || ff.GetNumRRecvOps() != 3 || ff.GetNumRRecvBytes() != 30 ||
		ff.GetTs() != t0+300*sec || ff.GetTid() != int64(pid) {
		t.Errorf("late close record = %v, want READ_RECV|CLOSE with the 3 ops and 30 bytes since the idle record", ff)
	}
	if st := a.Stats(); st.IdleFlows != 0 || st.Resumed != 1 {
		t.Errorf("Stats() = %+v, want no idle flow left and 1 resumed", st)
	}
}

func TestRelativePaths(t *testing.T) {
	tests := []struct {
		cwd, path, want string
	}{
		{cwd: "/home/u", path: "notes.txt", want: "/home/u/notes.txt"},
		{cwd: "/home/u", path: "a/../b/./c.txt", want: "/home/u/b/c.txt"},
		{cwd: "/home/u", path: "../../../etc/passwd", want: "/etc/passwd"},
		{cwd: "/home/u/", path: ".", want: "/home/u"},
		{cwd: "/home/u", path: "/etc//ssh/../passwd", want: "/etc/passwd"},
		{cwd: "", path: "x/./y", want: "x/y"},
		{cwd: "", path: "/abs", want: "/abs"},
	}
	for _, tt := range tests {
		t.Run(tt.cwd+"+"+tt.path, func(t *testing.T) {
			a, s := newAggregator(t, newSource(process(pid, start, tt.cwd)), nil)
			handle(t, a, openEv(t0, pid, tt.path, 0, 3), closeEv(t0+1, pid, 3, 0, 0, 0, 0))
			var f *sysflowv1.File
			for _, r := range s.take() {
				if r.GetFile() != nil {
					f = r.GetFile()
				}
			}
			if f.GetPath() != tt.want {
				t.Errorf("path of %q in %q = %q, want %q", tt.path, tt.cwd, f.GetPath(), tt.want)
			}
			if want := sha1.Sum([]byte(tt.want)); string(f.GetOid()) != string(want[:]) {
				t.Errorf("oid of %q = %x, want SHA-1 of the resolved path %x", tt.want, f.GetOid(), want)
			}
		})
	}
}

func TestFileEntity(t *testing.T) {
	const container = "abc123def456"
	tests := []struct {
		name        string
		flags       int32
		wantRestype int32
	}{
		{name: "regular", flags: 0, wantRestype: 'f'},
		{name: "directory", flags: 0200000, wantRestype: 'd'},
		{name: "tmpfile", flags: 020200000 | 02, wantRestype: 'f'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s := newAggregator(t, newSource(process(pid, start, "/")), func(c *flow.Config) {
				c.ContainerOf = func(int32) string { return container }
			})
			handle(t, a, openEv(t0, pid, "/etc/passwd", tt.flags, 3), closeEv(t0+sec, pid, 3, 0, 0, 0, 0))
			recs := s.take()
			if len(recs) != 3 || recs[1].GetFile() == nil {
				t.Fatalf("records = %v, want process, file, file_flow", kinds(recs))
			}
			// SHA-1 of "abc123def456/etc/passwd", computed with sha1sum(1).
			const wantOID = "fb014e2a93909823464c4502cdb44e56e11cd2d9"
			want := &sysflowv1.File{
				State: sysflowv1.ObjectState_OBJECT_STATE_CREATED, Oid: mustHex(t, wantOID), Ts: t0,
				Restype: tt.wantRestype, Path: "/etc/passwd", ContainerId: ptr(container),
			}
			if diff := cmp.Diff(want, recs[1].GetFile(), protocmp.Transform()); diff != "" {
				t.Errorf("File entity (-want +got):\n%s", diff)
			}
			if got := recs[2].GetFileFlow().GetFileOid(); string(got) != string(want.Oid) {
				t.Errorf("FileFlow.file_oid = %x, want %s", got, wantOID)
			}
		})
	}
}

func TestFileOID(t *testing.T) {
	tests := []struct {
		container, path string
	}{
		{container: "", path: "/etc/passwd"},
		{container: "abc123def456", path: "/etc/passwd"},
		{container: "c", path: ""},
	}
	for _, tt := range tests {
		got := flow.FileOID(tt.container, tt.path)
		h := sha1.New()
		h.Write([]byte(tt.container + tt.path))
		if want := h.Sum(nil); string(got[:]) != string(want) {
			t.Errorf("FileOID(%q, %q) = %x, want %x", tt.container, tt.path, got, want)
		}
	}
	if got, want := flow.FileOID("", "/etc/passwd"), mustHex(t, "b5cc3f676d00dd320d85ef41a5209fa0a99891ea"); string(got[:]) != string(want) {
		t.Errorf(`FileOID("", "/etc/passwd") = %x, want %x`, got, want)
	}
}

func TestOpenFlags(t *testing.T) {
	const (
		rdonly    = int32(sysflowv1.OpenFlag_OPEN_FLAG_RDONLY)
		wronly    = int32(sysflowv1.OpenFlag_OPEN_FLAG_WRONLY)
		rdwr      = int32(sysflowv1.OpenFlag_OPEN_FLAG_RDWR)
		creat     = int32(sysflowv1.OpenFlag_OPEN_FLAG_CREAT)
		appnd     = int32(sysflowv1.OpenFlag_OPEN_FLAG_APPEND)
		dsync     = int32(sysflowv1.OpenFlag_OPEN_FLAG_DSYNC)
		excl      = int32(sysflowv1.OpenFlag_OPEN_FLAG_EXCL)
		nonblock  = int32(sysflowv1.OpenFlag_OPEN_FLAG_NONBLOCK)
		sync      = int32(sysflowv1.OpenFlag_OPEN_FLAG_SYNC)
		trunc     = int32(sysflowv1.OpenFlag_OPEN_FLAG_TRUNC)
		direct    = int32(sysflowv1.OpenFlag_OPEN_FLAG_DIRECT)
		directory = int32(sysflowv1.OpenFlag_OPEN_FLAG_DIRECTORY)
		largefile = int32(sysflowv1.OpenFlag_OPEN_FLAG_LARGEFILE)
		cloexec   = int32(sysflowv1.OpenFlag_OPEN_FLAG_CLOEXEC)
	)
	tests := []struct {
		name  string
		linux int32
		want  int32
	}{
		{"O_RDONLY", 0, rdonly},
		{"O_WRONLY", 01, wronly},
		{"O_RDWR", 02, rdwr},
		{"O_ACCMODE", 03, rdonly},
		{"O_CREAT", 0100, rdonly | creat},
		{"O_EXCL", 0200, rdonly | excl},
		{"O_NOCTTY", 0400, rdonly},
		{"O_TRUNC", 01000, rdonly | trunc},
		{"O_APPEND", 02000, rdonly | appnd},
		{"O_NONBLOCK", 04000, rdonly | nonblock},
		{"O_DSYNC", 010000, rdonly | dsync},
		{"O_DIRECT", 040000, rdonly | direct},
		{"O_LARGEFILE", 0100000, rdonly | largefile},
		{"O_DIRECTORY", 0200000, rdonly | directory},
		{"O_NOFOLLOW", 0400000, rdonly},
		{"O_CLOEXEC", 02000000, rdonly | cloexec},
		{"O_SYNC", 04010000, rdonly | sync | dsync},
		{"__O_SYNC alone", 04000000, rdonly},
		{"O_PATH", 010000000, rdonly},
		{"creat for write", 01 | 0100 | 01000, wronly | creat | trunc},
		{"append log", 01 | 0100 | 02000 | 02000000, wronly | creat | appnd | cloexec},
		{"exclusive lock file", 02 | 0100 | 0200 | 02000000, rdwr | creat | excl | cloexec},
		{"opendir", 04000 | 0200000 | 02000000, rdonly | nonblock | directory | cloexec},
	}
	for _, tt := range tests {
		if got := flow.OpenFlags(tt.linux); got != tt.want {
			t.Errorf("OpenFlags(%s = %#o) = %#b, want %#b", tt.name, tt.linux, got, tt.want)
		}
	}
}

func TestMaxFlowsEvicts(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), func(c *flow.Config) { c.MaxFlows = 2 })
	handle(t, a,
		openEv(t0, pid, "/a", 0, 3),
		openEv(t0+1*sec, pid, "/b", 0, 4),
		countersEv(t0+2*sec, pid, 3, 1, 1, 0, 0), // /a is now more recently active than /b
	)
	s.take()
	handle(t, a, openEv(t0+3*sec, pid, "/c", 0, 5))
	ffs := fileFlows(s.take())
	if len(ffs) != 1 || ffs[0].GetFd() != 4 || ffs[0].GetOpFlags() != opOpen {
		t.Fatalf("file flows flushed by the third open = %v, want fd 4 (idle longest) with OPEN only", ffs)
	}
	if st := a.Stats(); st.Evicted != 1 || st.OpenFlows != 2 || st.IdleFlows != 1 {
		t.Errorf("Stats() = %+v, want 1 evicted, 2 open, 1 idle", st)
	}
	// The evicted flow still gets its close.
	handle(t, a, closeEv(t0+4*sec, pid, 4, 0, 0, 0, 0))
	ffs = fileFlows(s.take())
	if len(ffs) != 1 || ffs[0].GetFd() != 4 || ffs[0].GetOpFlags() != opClose {
		t.Fatalf("file flows on closing the evicted descriptor = %v, want fd 4 with CLOSE", ffs)
	}
	if st := a.Stats(); st.Evicted != 1 || st.OpenFlows != 2 || st.IdleFlows != 0 {
		t.Errorf("Stats() = %+v, want 1 evicted, 2 open, none idle", st)
	}
}

func TestDescriptorReusedUnseen(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		openEv(t0, pid, "/a", 0, 3),
		openEv(t0+sec, pid, "/b", 0, 3), // /a's close was not seen (dup2 over it)
		closeEv(t0+2*sec, pid, 3, 0, 0, 0, 0),
	)
	var paths []string
	for _, r := range s.take() {
		if f := r.GetFile(); f != nil {
			paths = append(paths, f.GetPath())
		}
	}
	if diff := cmp.Diff([]string{"/a", "/b"}, paths); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestUnknownDescriptor(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a, countersEv(t0, pid, 9, 1, 1, 0, 0), closeEv(t0, pid, 9, 1, 1, 0, 0))
	if got := s.take(); len(got) != 0 {
		t.Errorf("records = %v, want none", kinds(got))
	}
	if got := a.Stats().UnknownFDs; got != 2 {
		t.Errorf("Stats().UnknownFDs = %d, want 2", got)
	}
}

func TestCounterReset(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		openEv(t0, pid, "/a", 0, 3),
		countersEv(t0+sec, pid, 3, 10, 100, 0, 0),
		closeEv(t0+2*sec, pid, 3, 2, 20, 0, 0), // counting started again
	)
	ffs := fileFlows(s.take())
	if len(ffs) != 1 || ffs[0].GetNumRRecvOps() != 12 || ffs[0].GetNumRRecvBytes() != 120 {
		t.Errorf("file flows = %v, want one with 12 reads of 120 bytes", ffs)
	}
	if got := a.Stats().CounterResets; got != 1 {
		t.Errorf("Stats().CounterResets = %d, want 1", got)
	}
}

func TestFlush(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a,
		openEv(t0, pid, "/a", 0, 3),
		countersEv(t0+sec, pid, 3, 1, 1, 0, 0),
		flow.Event{Kind: flow.KindClone, Time: t0 + 2*sec, PID: pid, TID: pid, ChildPID: pid, ChildTID: pid + 1},
	)
	if err := a.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if diff := cmp.Diff([]string{"process", "file", "file_flow", "process_flow"}, kinds(s.take())); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if st := a.Stats(); st.OpenFlows != 0 || st.IdleFlows != 0 {
		t.Errorf("Stats() after Flush = %+v, want no flow", st)
	}
}

func TestEmitError(t *testing.T) {
	boom := errors.New("boom")
	a := flow.New(flow.Config{
		Processes: newSource(process(pid, start, "/")),
		Emit:      func(*sysflowv1.Record) error { return boom },
	})
	err := a.Handle(openEv(t0, pid, "/a", 0, 3))
	if !errors.Is(err, boom) {
		t.Errorf("Handle with a failing Emit = %v, want %v", err, boom)
	}
	if got := a.Stats(); got.EmitErrors != 1 || got.OpenFlows != 1 {
		t.Errorf("Stats() = %+v, want 1 emit error and the flow open", got)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func TestIdleResumeOnCounters(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a, openEv(t0, pid, "/a", 0, 3))
	tick(t, a, t0+60*sec)                                   // idle: OPEN emitted, set aside
	handle(t, a, countersEv(t0+61*sec, pid, 3, 0, 0, 0, 0)) // no activity: stays aside
	if st := a.Stats(); st.OpenFlows != 0 || st.IdleFlows != 1 {
		t.Fatalf("Stats() after a quiet sample = %+v, want the flow idle", st)
	}
	handle(t, a, countersEv(t0+62*sec, pid, 3, 0, 0, 1, 9))
	if st := a.Stats(); st.OpenFlows != 1 || st.IdleFlows != 0 || st.Resumed != 1 {
		t.Fatalf("Stats() after activity = %+v, want the flow open again", st)
	}
	tick(t, a, t0+92*sec)
	ffs := fileFlows(s.take())
	want := []int32{opOpen, opWrite}
	var got []int32
	for _, ff := range ffs {
		got = append(got, ff.GetOpFlags())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("op_flags of the records (-want +got):\n%s", diff)
	}
	if len(ffs) == 2 && (ffs[1].GetTs() != t0+62*sec || ffs[1].GetNumWSendBytes() != 9) {
		t.Errorf("resumed record = %v, want ts at the resuming sample and 9 bytes", ffs[1])
	}
}

func TestIdleFlowsForgotten(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), func(c *flow.Config) { c.MaxFlows = 1 })
	handle(t, a,
		openEv(t0, pid, "/a", 0, 3),
		openEv(t0+sec, pid, "/b", 0, 4),   // sets /a aside
		openEv(t0+2*sec, pid, "/c", 0, 5), // sets /b aside, forgets /a
		closeEv(t0+3*sec, pid, 3, 0, 0, 0, 0),
	)
	if got := len(fileFlows(s.take())); got != 2 {
		t.Errorf("file flows = %d, want 2 (the OPEN records of /a and /b)", got)
	}
	if st := a.Stats(); st.Evicted != 2 || st.Forgotten != 1 || st.UnknownFDs != 1 || st.IdleFlows != 1 {
		t.Errorf("Stats() = %+v, want 2 evicted, 1 forgotten, 1 unknown descriptor, 1 idle", st)
	}
}

func TestIdleFlowOfExitedProcess(t *testing.T) {
	src := newSource(process(pid, start, "/"))
	a, s := newAggregator(t, src, nil)
	handle(t, a, openEv(t0, pid, "/a", 0, 3))
	tick(t, a, t0+60*sec)
	s.take()
	src.set(process(pid, t0+100*sec, "/")) // another process now has the pid
	handle(t, a, closeEv(t0+120*sec, pid, 3, 0, 0, 0, 0))
	for _, r := range s.take() {
		if r.GetFileFlow() != nil {
			t.Errorf("file flow %v for a descriptor of a process that is gone", r.GetFileFlow())
		}
	}
	if st := a.Stats(); st.UnknownFDs != 1 || st.IdleFlows != 0 {
		t.Errorf("Stats() = %+v, want 1 unknown descriptor, no idle flow", st)
	}
}

func TestFileEntitySentAgain(t *testing.T) {
	a, s := newAggregator(t, newSource(process(pid, start, "/")), nil)
	handle(t, a, openEv(t0, pid, "/long", 0, 3))
	tick(t, a, t0+30*sec) // emits /long's entity and OPEN record
	// Enough other files to push /long out of the files remembered.
	for i := range int64(1 << 16) {
		handle(t, a,
			openEv(t0+31*sec, pid, "/tmp/f"+strconv.FormatInt(i, 10), 0, 4),
			closeEv(t0+31*sec, pid, 4, 0, 0, 0, 0))
	}
	s.take()
	handle(t, a, closeEv(t0+40*sec, pid, 3, 0, 0, 0, 0))
	recs := s.take()
	if diff := cmp.Diff([]string{"file", "file_flow"}, kinds(recs)); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	if f := recs[0].GetFile(); f.GetPath() != "/long" || f.GetState() != sysflowv1.ObjectState_OBJECT_STATE_REUP {
		t.Errorf("file entity = %v, want /long again, REUP", f)
	}
}

func TestOpenAtDirFD(t *testing.T) {
	const oDirectory = 0200000
	tests := []struct {
		name  string
		dirFD int32
		path  string
		want  string
	}{
		{name: "relative to an open directory", dirFD: 3, path: "sub/../x.conf", want: "/etc/app/x.conf"},
		{name: "absolute ignores the directory", dirFD: 3, path: "/tmp/y", want: "/tmp/y"},
		{name: "AT_FDCWD", dirFD: -100, path: "z", want: "/home/u/z"},
		{name: "unset", dirFD: 0, path: "z", want: "/home/u/z"},
		{name: "unknown directory stays relative", dirFD: 9, path: "./w", want: "w"},
		{name: "descriptor not a file", dirFD: 5, path: "w", want: "w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, s := newAggregator(t, newSource(process(pid, start, "/home/u")), nil)
			handle(t, a,
				openEv(t0, pid, "/etc/app", oDirectory, 3),
				flow.Event{Kind: flow.KindConnect, Time: t0, PID: pid, TID: pid, FD: 5, Proto: 6,
					Local: netip.MustParseAddrPort("10.0.0.1:6000"), Remote: netip.MustParseAddrPort("10.0.0.2:80")},
			)
			ev := openEv(t0+sec, pid, tt.path, 0, 4)
			ev.DirFD = tt.dirFD
			handle(t, a, ev, closeEv(t0+2*sec, pid, 4, 0, 0, 0, 0))
			var got string
			for _, r := range s.take() {
				if f := r.GetFile(); f != nil {
					got = f.GetPath()
				}
			}
			if got != tt.want {
				t.Errorf("path of %q at descriptor %d = %q, want %q", tt.path, tt.dirFD, got, tt.want)
			}
		})
	}
}

// TestDupRedirection follows a shell redirection: open, dup2 onto 1, close the original, write
// to 1, exit. The file gets two flows: an OPEN|CLOSE on the original descriptor and the writes
// on descriptor 1, flushed by the exit.
func TestDupRedirection(t *testing.T) {
	const oWrOnly, oCreat, oTrunc = 01, 0100, 01000
	p := process(pid, start, "/srv")
	a, s := newAggregator(t, newSource(p), nil)
	handle(t, a,
		openEv(t0, pid, "out.txt", oWrOnly|oCreat|oTrunc, 3),
		flow.Event{Kind: flow.KindDup, Time: t0 + 1, PID: pid, TID: pid, StartTime: start, FD: 1, OldFD: 3},
		closeEv(t0+2, pid, 3, 0, 0, 0, 0),
		countersEv(t0+3, pid, 1, 0, 0, 2, 1500),
		flow.Event{Kind: flow.KindExit, Time: t0 + 4, PID: pid, TID: pid, StartTime: start},
	)
	flows := fileFlows(s.take())
	if len(flows) != 2 {
		t.Fatalf("got %d file flows, want 2: %v", len(flows), flows)
	}
	orig, dup := flows[0], flows[1]
	if orig.GetFd() != 3 || orig.GetOpFlags() != opOpen|opClose {
		t.Errorf("original descriptor's flow %v, want fd 3 with OPEN|CLOSE", orig)
	}
	if dup.GetFd() != 1 || dup.GetOpFlags() != opWrite || dup.GetNumWSendOps() != 2 || dup.GetNumWSendBytes() != 1500 ||
		string(dup.GetFileOid()) != string(orig.GetFileOid()) || dup.GetOpenFlags() != orig.GetOpenFlags() {
		t.Errorf("duplicate's flow %v, want fd 1, WRITE_SEND, 2 writes of 1500 bytes on the same file", dup)
	}
}
