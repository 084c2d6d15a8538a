// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable

import (
	"container/list"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sysflux/sysflux/agent/flow"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Defaults of Config.
const (
	DefaultProcRoot     = "/proc"
	DefaultHostRoot     = "/"
	DefaultMaxProcesses = 65536
	DefaultMaxExited    = 4096
	DefaultExitGrace    = 30 * time.Second
	DefaultMaxEnvBytes  = 4096
)

// selfRecheck is how often at most the agent's threads are listed again.
const selfRecheck = time.Second

// Config configures a Table. The zero value of every field stands for its default.
type Config struct {
	// ProcRoot is where the proc file system is mounted; default /proc.
	ProcRoot string
	// HostRoot is the directory whose etc/passwd and etc/group name users and groups; default /.
	// An agent in a container sets it to where the host's root is mounted.
	HostRoot string
	// MaxProcesses bounds the number of processes in the table, running and exited; default
	// 65536. When it is reached, the oldest exited process is evicted first, else the least
	// recently used one.
	MaxProcesses int
	// MaxExited bounds the number of exited processes kept so that late events still resolve;
	// default 4096.
	MaxExited int
	// ExitGrace is how long an exited process is kept, measured in event time; default 30 s.
	ExitGrace time.Duration
	// MaxEnvBytes bounds the environment recorded per process, in bytes of NAME=value strings;
	// variables are kept or left out whole. Default 4096; negative records no environment.
	MaxEnvBytes int
	// Self is the agent's own process id: the table never records it, and Ignored reports it and
	// its threads. 0 ignores nothing.
	Self int
	// Logger receives messages about processes that could not be read (debug) and about a
	// scan that found more processes than the table holds (warning); default none.
	Logger *slog.Logger
	// Now returns the current time, for the ts of records not made from an event; default
	// time.Now.
	Now func() time.Time
}

// Table is the agent's process table. It is safe for concurrent use.
type Table struct {
	cfg    Config
	log    *slog.Logger
	proc   procReader
	self   int32
	users  *idNames
	groups *idNames

	mu       sync.Mutex
	procs    map[int32]*entry
	lru      list.List // of *entry, most recently used first
	exited   list.List // of *entry, oldest exit first
	lastExit int64     // latest exit time seen, ns since the Unix epoch

	selfMu   sync.Mutex
	selfTIDs map[int32]struct{}
	selfRead time.Time
}

// entry is one process of the table.
type entry struct {
	pid int32
	// proc is the process's latest record. Records are never modified once stored: a change
	// stores a new one.
	proc     *sysflowv1.Process
	lruElem  *list.Element
	exitElem *list.Element // nil while the process runs
	exitedAt int64
}

// New returns an empty table. It reads the boot time from ProcRoot/stat.
func New(cfg Config) (*Table, error) {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = DefaultProcRoot
	}
	if cfg.HostRoot == "" {
		cfg.HostRoot = DefaultHostRoot
	}
	if cfg.MaxProcesses <= 0 {
		cfg.MaxProcesses = DefaultMaxProcesses
	}
	if cfg.MaxExited <= 0 {
		cfg.MaxExited = DefaultMaxExited
	}
	if cfg.ExitGrace <= 0 {
		cfg.ExitGrace = DefaultExitGrace
	}
	if cfg.MaxEnvBytes == 0 {
		cfg.MaxEnvBytes = DefaultMaxEnvBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	boot, err := readBootTime(cfg.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("read boot time: %w", err)
	}
	return &Table{
		cfg:    cfg,
		log:    log,
		proc:   procReader{root: cfg.ProcRoot, bootTimeNS: boot, maxEnvBytes: cfg.MaxEnvBytes},
		self:   int32(cfg.Self),
		users:  newIDNames(filepath.Join(cfg.HostRoot, "etc", "passwd"), cfg.Now),
		groups: newIDNames(filepath.Join(cfg.HostRoot, "etc", "group"), cfg.Now),
		procs:  make(map[int32]*entry),
	}, nil
}

// BootTimeNS returns the boot time the table computes creation times with, in nanoseconds since
// the Unix epoch (btime of /proc/stat, whole seconds, read once by New). The kernel path passes
// it to CreateTime.
func (t *Table) BootTimeNS() int64 { return t.proc.bootTimeNS }

// Len returns the number of processes in the table, running and recently exited.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.procs)
}

// Scan reads every process in /proc into the table and returns their records, state REUP,
// parents before children. A process's poid is set only when its parent is among the records
// returned: processes whose parent is a kernel thread, the agent, or gone are returned without
// one. Kernel threads, the agent, and processes that disappear while they are read are left
// out. Scan fails only when the process directory cannot be listed.
func (t *Table) Scan() ([]*sysflowv1.Process, error) {
	des, err := os.ReadDir(t.cfg.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	infos := make(map[int32]*procInfo, len(des))
	pids := make([]int32, 0, len(des))
	for _, de := range des {
		n, err := strconv.ParseInt(de.Name(), 10, 32)
		if err != nil || n <= 0 || !de.IsDir() {
			continue
		}
		pid := int32(n)
		if t.self != 0 && pid == t.self {
			continue
		}
		info, err := t.proc.read(pid)
		if err != nil {
			if !isGone(err) && !errors.Is(err, errNotLeader) {
				t.log.Debug("skip process", "pid", pid, "err", err)
			}
			continue
		}
		if info.stat.kthread() {
			continue
		}
		infos[pid] = info
		pids = append(pids, pid)
	}
	slices.Sort(pids)

	// Order parents before children: walk up from every process to the first ancestor already
	// placed (or the root), then place that chain top down.
	placed := make(map[int32]bool, len(pids))
	order := make([]*procInfo, 0, len(pids))
	var chain []*procInfo
	for _, pid := range pids {
		chain = chain[:0]
		for p := pid; !placed[p]; {
			info := infos[p]
			if info == nil {
				break
			}
			placed[p] = true // also guards against a cycle of stale ppids
			chain = append(chain, info)
			p = info.stat.ppid
		}
		for i := len(chain) - 1; i >= 0; i-- {
			order = append(order, chain[i])
		}
	}

	ts := t.cfg.Now().UnixNano()
	recs := make([]*sysflowv1.Process, 0, len(order))
	oids := make(map[int32]*sysflowv1.OID, len(order))
	for _, info := range order {
		var poid *sysflowv1.OID
		if parent := oids[info.stat.ppid]; parent != nil && parent.CreateTs <= info.createTS {
			poid = parent
		}
		p := t.fromInfo(info, sysflowv1.ObjectState_OBJECT_STATE_REUP, ts, poid)
		oids[info.stat.pid] = p.Oid
		recs = append(recs, p)
	}
	if len(recs) > t.cfg.MaxProcesses {
		t.log.Warn("more processes than the table holds", "processes", len(recs), "max", t.cfg.MaxProcesses)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range recs {
		t.put(int32(p.Oid.Hpid), p)
	}
	return recs, nil
}

// Exec records that ev.PID executed ev.Path and returns its new record: MODIFIED when the
// table knew the process (same pid and creation time), else CREATED.
//
// The executable is the target of /proc/<pid>/exe while the process still runs it, else
// ev.Path, made absolute against the process's working directory. The arguments and ids come
// from the event; the working directory, environment, container, terminal and entry flag from
// /proc while the process is still there, else from its previous record, else from its parent's.
func (t *Table) Exec(ev flow.Event) *sysflowv1.Process {
	pid := ev.PID
	if pid <= 0 {
		return nil
	}
	info := t.readLive(pid, ev.StartTime)
	user, group := t.users.name(ev.UID), t.groups.name(ev.GID)

	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.procs[pid]
	createTS := ev.StartTime
	switch {
	case createTS != 0:
	case old != nil:
		createTS = old.proc.Oid.CreateTs
	case info != nil:
		createTS = info.createTS
	default:
		createTS = t.eventTime(ev)
	}
	p := &sysflowv1.Process{
		State:     sysflowv1.ObjectState_OBJECT_STATE_CREATED,
		Oid:       &sysflowv1.OID{CreateTs: createTS, Hpid: int64(pid)},
		Ts:        t.eventTime(ev),
		ExeArgs:   strings.Join(ev.Args, " "),
		Uid:       ev.UID,
		UserName:  user,
		Gid:       ev.GID,
		GroupName: group,
	}
	var base *sysflowv1.Process // where what the event and /proc do not say comes from
	if old != nil && old.proc.Oid.CreateTs == createTS {
		p.State = sysflowv1.ObjectState_OBJECT_STATE_MODIFIED
		p.Poid = old.proc.Poid
		base = old.proc
	}
	if parent := t.parentOf(ev.PPID, createTS); parent != nil {
		if p.Poid == nil {
			p.Poid = parent.proc.Oid
		}
		if base == nil {
			base = parent.proc
		}
	}
	if info != nil {
		// The exe is the path the kernel executed, as SysFlow records it; /proc's link (which
		// may resolve symbolic links, or be gone for a short-lived process) only fills a gap.
		p.Cwd, p.Env = info.cwd, info.env
		if ev.Path == "" {
			p.Exe = info.exe
		}
		p.Tty = info.stat.ttyNr != 0
		p.Entry = info.status.entry(pid)
		p.ContainerId = containerID(info.containerID)
		info.setCreds(p)
	} else if base != nil {
		p.Cwd, p.Env, p.Tty, p.ContainerId = base.Cwd, base.Env, base.Tty, base.ContainerId
		copyCreds(p, base)
	}
	setCreds(p, ev.Creds) // the kernel's, at the exec, over /proc's read after it
	if p.Cwd == "" && base != nil {
		p.Cwd = base.Cwd // /proc/<pid>/cwd was not readable
	}
	if p.Exe == "" {
		switch {
		case ev.Path == "" && base != nil:
			p.Exe = base.Exe
		case ev.Path != "" && !filepath.IsAbs(ev.Path) && p.Cwd != "":
			p.Exe = filepath.Join(p.Cwd, ev.Path)
		default:
			p.Exe = ev.Path
		}
	}
	t.put(pid, p)
	return p
}

// Clone records that ev.PID created the process ev.ChildPID and returns the child's record,
// CREATED, with the parent's executable, arguments, ids, working directory, environment,
// terminal and container. The child's creation time is ev.StartTime. Clone returns nil for a
// new thread (ev.ChildPID == ev.PID) and for a child the table already holds (by Ensure).
func (t *Table) Clone(ev flow.Event) *sysflowv1.Process {
	child := ev.ChildPID
	if child <= 0 || child == ev.PID {
		if t.self != 0 && ev.PID == t.self && ev.ChildTID > 0 {
			t.addSelfThread(ev.ChildTID)
		}
		return nil
	}
	createTS := ev.StartTime
	if createTS == 0 {
		createTS = t.eventTime(ev)
	}
	p := &sysflowv1.Process{
		State: sysflowv1.ObjectState_OBJECT_STATE_CREATED,
		Oid:   &sysflowv1.OID{CreateTs: createTS, Hpid: int64(child)},
		Ts:    t.eventTime(ev),
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.procs[child]; old != nil && old.proc.Oid.CreateTs == createTS {
		return nil
	}
	parent := t.parentOf(ev.PID, createTS)
	if parent == nil {
		// Not known: the child, which runs its parent's image until it executes another, is
		// read from /proc instead. The lock is released for the read.
		t.mu.Unlock()
		info := t.readLive(child, ev.StartTime)
		var poid *sysflowv1.OID
		if ev.PID > 0 {
			poid = t.oidFromProc(ev.PID, createTS)
		}
		var user, group string
		if info != nil {
			user, group = t.users.name(info.status.uid), t.groups.name(info.status.gid)
		}
		t.mu.Lock()
		if old := t.procs[child]; old != nil && old.proc.Oid.CreateTs == createTS {
			return nil
		}
		p.Poid = poid
		if info != nil {
			p.Exe, p.ExeArgs, p.Cwd, p.Env = info.exe, info.args, info.cwd, info.env
			p.Uid, p.UserName, p.Gid, p.GroupName = info.status.uid, user, info.status.gid, group
			p.Tty = info.stat.ttyNr != 0
			p.Entry = info.status.entry(child)
			p.ContainerId = containerID(info.containerID)
			info.setCreds(p)
		}
	} else {
		pp := parent.proc
		p.Poid = pp.Oid
		p.Exe, p.ExeArgs, p.Cwd, p.Env = pp.Exe, pp.ExeArgs, pp.Cwd, pp.Env
		p.Uid, p.UserName, p.Gid, p.GroupName = pp.Uid, pp.UserName, pp.Gid, pp.GroupName
		p.Tty, p.ContainerId = pp.Tty, pp.ContainerId
		copyCreds(p, pp)
	}
	t.put(child, p)
	return p
}

// Exit records that ev.PID exited, when ev.TID is its leader (or 0). The process stays in the
// table, so that late events still resolve, until ExitGrace has passed in event time or
// MaxExited processes have exited after it.
func (t *Table) Exit(ev flow.Event) {
	if ev.TID != 0 && ev.TID != ev.PID {
		if t.self != 0 && ev.PID == t.self {
			t.removeSelfThread(ev.TID)
		}
		return
	}
	at := t.eventTime(ev)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.procs[ev.PID]
	if e == nil || e.exitElem != nil || (ev.StartTime != 0 && e.proc.Oid.CreateTs != ev.StartTime) {
		return
	}
	e.exitedAt = at
	e.exitElem = t.exited.PushBack(e)
	t.lastExit = max(t.lastExit, at)
	for f := t.exited.Front(); f != nil; f = t.exited.Front() {
		old := f.Value.(*entry)
		if t.exited.Len() <= t.cfg.MaxExited && t.lastExit-old.exitedAt < int64(t.cfg.ExitGrace) {
			break
		}
		t.remove(old)
	}
}

// SetUID records that ev.PID changed its user or group ids to ev.UID and ev.GID and returns its
// new record, MODIFIED, or nil when the table does not know the process (see Ensure). A
// negative id leaves that id unchanged.
func (t *Table) SetUID(ev flow.Event) *sysflowv1.Process {
	user, group := t.users.name(ev.UID), t.groups.name(ev.GID)
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.procs[ev.PID]
	if e == nil || (ev.StartTime != 0 && e.proc.Oid.CreateTs != ev.StartTime) {
		return nil
	}
	p := copyProcess(e.proc)
	p.State = sysflowv1.ObjectState_OBJECT_STATE_MODIFIED
	p.Ts = t.eventTime(ev)
	if ev.UID >= 0 {
		p.Uid, p.UserName = ev.UID, user
	}
	if ev.GID >= 0 {
		p.Gid, p.GroupName = ev.GID, group
	}
	setCreds(p, ev.Creds)
	e.proc = p
	t.lru.MoveToFront(e.lruElem)
	return p
}

// Lookup returns the latest record of process pid, running or recently exited, or nil.
func (t *Table) Lookup(pid int32) *sysflowv1.Process {
	p, _ := t.Get(pid)
	return p
}

// Get returns the latest record of process pid, running or recently exited, and whether the
// table knows it.
func (t *Table) Get(pid int32) (*sysflowv1.Process, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.procs[pid]
	if e == nil {
		return nil, false
	}
	t.lru.MoveToFront(e.lruElem)
	return e.proc, true
}

// Ensure returns the record of process pid, reading it from /proc and adding it to the table
// (state REUP, isNew true) when the table does not know it yet. It returns nil for a process
// that is gone, a kernel thread, a thread that is not its process's leader, and the agent. The
// new record's poid is its parent's object id, whether the table knows the parent or not; see
// EnsureLineage.
func (t *Table) Ensure(pid int32) (proc *sysflowv1.Process, isNew bool) {
	if pid <= 0 || (t.self != 0 && pid == t.self) {
		return nil, false
	}
	if p, ok := t.Get(pid); ok {
		return p, false
	}
	info, err := t.proc.read(pid)
	if err != nil || info.stat.kthread() {
		return nil, false
	}
	var poid *sysflowv1.OID
	if ppid := info.stat.ppid; ppid > 0 && (t.self == 0 || ppid != t.self) {
		t.mu.Lock()
		if parent := t.parentOf(ppid, info.createTS); parent != nil {
			poid = parent.proc.Oid
		}
		t.mu.Unlock()
		if poid == nil {
			poid = t.oidFromProc(ppid, info.createTS)
		}
	}
	p := t.fromInfo(info, sysflowv1.ObjectState_OBJECT_STATE_REUP, t.cfg.Now().UnixNano(), poid)

	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.procs[pid]; e != nil && e.proc.Oid.CreateTs == p.Oid.CreateTs {
		t.lru.MoveToFront(e.lruElem)
		return e.proc, false
	}
	t.put(pid, p)
	return p, true
}

// EnsureLineage is Ensure for pid and, when pid is new to the table, for its ancestors that are
// new too. It returns the records it added, ancestors first, so that every poid among them
// refers to a record that comes before it or that the table already held.
func (t *Table) EnsureLineage(pid int32) []*sysflowv1.Process {
	p, isNew := t.Ensure(pid)
	if !isNew {
		return nil
	}
	added := []*sysflowv1.Process{p}
	for p.Poid != nil && len(added) < 1024 {
		parent, isNew := t.Ensure(int32(p.Poid.Hpid))
		if !isNew || parent.Oid.CreateTs != p.Poid.CreateTs {
			break
		}
		added = append(added, parent)
		p = parent
	}
	slices.Reverse(added)
	return added
}

// Ignored reports whether pid is the agent (Config.Self) or one of its threads, whose events the
// caller drops. The agent's threads are listed from /proc at most once a second and followed
// through Clone and Exit events of the agent.
func (t *Table) Ignored(pid int32) bool {
	if t.self == 0 {
		return false
	}
	if pid == t.self {
		return true
	}
	t.selfMu.Lock()
	defer t.selfMu.Unlock()
	if _, ok := t.selfTIDs[pid]; ok {
		return true
	}
	now := t.cfg.Now()
	if !t.selfRead.IsZero() && now.Sub(t.selfRead) < selfRecheck {
		return false
	}
	t.selfRead = now
	des, err := os.ReadDir(filepath.Join(t.proc.dir(t.self), "task"))
	if err != nil {
		return false
	}
	tids := make(map[int32]struct{}, len(des))
	for _, de := range des {
		if n, err := strconv.ParseInt(de.Name(), 10, 32); err == nil {
			tids[int32(n)] = struct{}{}
		}
	}
	t.selfTIDs = tids
	_, ok := tids[pid]
	return ok
}

func (t *Table) addSelfThread(tid int32) {
	t.selfMu.Lock()
	defer t.selfMu.Unlock()
	if t.selfTIDs == nil {
		t.selfTIDs = make(map[int32]struct{})
	}
	t.selfTIDs[tid] = struct{}{}
}

func (t *Table) removeSelfThread(tid int32) {
	t.selfMu.Lock()
	defer t.selfMu.Unlock()
	delete(t.selfTIDs, tid)
}

// readLive reads process pid from /proc for an event about it, or returns nil when it cannot be
// read or its pid now names another process than the one created at createTS (when not 0).
func (t *Table) readLive(pid int32, createTS int64) *procInfo {
	info, err := t.proc.read(pid)
	if err != nil || info.stat.kthread() || (createTS != 0 && info.createTS != createTS) {
		return nil
	}
	return info
}

// oidFromProc returns the object id of process pid as /proc shows it, or nil when it cannot be
// read, is a kernel thread, or was created after childTS (so cannot be the parent of a process
// created then).
func (t *Table) oidFromProc(pid int32, childTS int64) *sysflowv1.OID {
	st, err := t.proc.readStat(pid)
	if err != nil || st.kthread() {
		return nil
	}
	ts := createTimeFromTicks(t.proc.bootTimeNS, st.startTicks)
	if ts > childTS {
		return nil
	}
	return &sysflowv1.OID{CreateTs: ts, Hpid: int64(pid)}
}

// parentOf returns the entry of ppid if it can be the parent of a process created at childTS.
// t.mu must be held.
func (t *Table) parentOf(ppid int32, childTS int64) *entry {
	if ppid <= 0 {
		return nil
	}
	e := t.procs[ppid]
	if e == nil || e.proc.Oid.CreateTs > childTS {
		return nil
	}
	return e
}

// put stores p as the latest record of pid. A record with the same object id as the stored one
// replaces it in place; another one replaces the process (its pid was reused). t.mu must be held.
func (t *Table) put(pid int32, p *sysflowv1.Process) {
	if e := t.procs[pid]; e != nil {
		if e.proc.Oid.CreateTs == p.Oid.CreateTs {
			e.proc = p
			t.lru.MoveToFront(e.lruElem)
			return
		}
		t.remove(e)
	}
	for len(t.procs) >= t.cfg.MaxProcesses {
		victim := t.exited.Front()
		if victim == nil {
			victim = t.lru.Back()
		}
		t.remove(victim.Value.(*entry))
	}
	e := &entry{pid: pid, proc: p}
	e.lruElem = t.lru.PushFront(e)
	t.procs[pid] = e
}

// remove drops e from the table. t.mu must be held.
func (t *Table) remove(e *entry) {
	if t.procs[e.pid] == e {
		delete(t.procs, e.pid)
	}
	t.lru.Remove(e.lruElem)
	if e.exitElem != nil {
		t.exited.Remove(e.exitElem)
		e.exitElem = nil
	}
}

// fromInfo makes a record of a process read from /proc.
func (t *Table) fromInfo(info *procInfo, state sysflowv1.ObjectState, ts int64, poid *sysflowv1.OID) *sysflowv1.Process {
	pid := info.stat.pid
	p := &sysflowv1.Process{
		State:       state,
		Oid:         &sysflowv1.OID{CreateTs: info.createTS, Hpid: int64(pid)},
		Poid:        poid,
		Ts:          ts,
		Exe:         info.exe,
		ExeArgs:     info.args,
		Uid:         info.status.uid,
		UserName:    t.users.name(info.status.uid),
		Gid:         info.status.gid,
		GroupName:   t.groups.name(info.status.gid),
		Tty:         info.stat.ttyNr != 0,
		ContainerId: containerID(info.containerID),
		Entry:       info.status.entry(pid),
		Cwd:         info.cwd,
		Env:         info.env,
	}
	info.setCreds(p)
	return p
}

// eventTime returns the time of ev, or now when the event has none.
func (t *Table) eventTime(ev flow.Event) int64 {
	if ev.Time != 0 {
		return ev.Time
	}
	return t.cfg.Now().UnixNano()
}

// containerID returns the container_id field for a short id, nil on the host.
func containerID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// copyProcess returns a shallow copy of p: the OIDs, the container id and the environment are
// shared, as records are never modified once stored.
func copyProcess(p *sysflowv1.Process) *sysflowv1.Process {
	return &sysflowv1.Process{
		State:       p.State,
		Oid:         p.Oid,
		Poid:        p.Poid,
		Ts:          p.Ts,
		Exe:         p.Exe,
		ExeArgs:     p.ExeArgs,
		Uid:         p.Uid,
		UserName:    p.UserName,
		Gid:         p.Gid,
		GroupName:   p.GroupName,
		Tty:         p.Tty,
		ContainerId: p.ContainerId,
		Entry:       p.Entry,
		Cwd:         p.Cwd,
		Env:         p.Env,

		CapEffective:   p.CapEffective,
		CapPermitted:   p.CapPermitted,
		CapInheritable: p.CapInheritable,
		Loginuid:       p.Loginuid,
	}
}

// setCreds sets p's capabilities and login uid; nil leaves them.
func setCreds(p *sysflowv1.Process, c *flow.Creds) {
	if c == nil {
		return
	}
	p.CapEffective, p.CapPermitted, p.CapInheritable = &c.CapEffective, &c.CapPermitted, &c.CapInheritable
	p.Loginuid = &c.LoginUID
}

// setCreds sets p's capabilities and login uid to what /proc showed.
func (info *procInfo) setCreds(p *sysflowv1.Process) {
	p.CapEffective, p.CapPermitted, p.CapInheritable = info.status.capEff, info.status.capPrm, info.status.capInh
	p.Loginuid = info.loginUID
}

// copyCreds copies from's capabilities and login uid to p.
func copyCreds(p, from *sysflowv1.Process) {
	p.CapEffective, p.CapPermitted, p.CapInheritable = from.CapEffective, from.CapPermitted, from.CapInheritable
	p.Loginuid = from.Loginuid
}
