// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow

import (
	"container/list"
	"crypto/sha1"
	"fmt"
	"log/slog"
	"sync"
	"time"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Defaults of Config.
const (
	DefaultFlowInterval = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultMaxFlows     = 100000
)

// Bounds of the entity caches.
const (
	maxFiles     = 1 << 16 // File entities remembered as emitted
	maxProcesses = 1 << 16 // processes remembered, not counting those with open flows
)

// einprogress is Linux's EINPROGRESS: a non-blocking connect that is under way.
const einprogress = 115

// ProcessSource gives the current Process entity of a process: the agent's process table.
//
// Process returns the entity of process pid (a host pid), or false when the source does not
// know it. The Aggregator never modifies a returned entity and keeps it: a source that changes a
// process must return a new message rather than change one it returned before.
type ProcessSource interface {
	Process(pid int32) (*sysflowv1.Process, bool)
}

// ProcessFunc adapts a function to a ProcessSource.
type ProcessFunc func(pid int32) (*sysflowv1.Process, bool)

// Process calls f(pid).
func (f ProcessFunc) Process(pid int32) (*sysflowv1.Process, bool) { return f(pid) }

// Config configures an Aggregator.
type Config struct {
	// Processes gives the entities of processes. Nil knows no process.
	Processes ProcessSource
	// Emit receives every record, in order, and owns it. It is called synchronously with the
	// Aggregator's lock held, so it must not call the Aggregator. Required.
	Emit func(*sysflowv1.Record) error
	// ContainerOf returns the id of the container process pid runs in, "" on the host; for
	// SysFlow-compatible file object ids, the id as Container.id has it (12 hexadecimal
	// characters). Nil takes the container id of the process's entity.
	ContainerOf func(pid int32) string
	// FlowInterval is how often an open flow is emitted while it has something to report;
	// DefaultFlowInterval when zero.
	FlowInterval time.Duration
	// IdleTimeout is how long a flow may see no activity before it is emitted and set aside;
	// DefaultIdleTimeout when zero.
	IdleTimeout time.Duration
	// MaxFlows bounds the number of open flows and, separately, of idle flows remembered;
	// DefaultMaxFlows when zero.
	MaxFlows int
	// Logger receives debug messages about odd events; nil discards them.
	Logger *slog.Logger
}

// Stats counts what an Aggregator did and what it holds.
type Stats struct {
	// Records is the number of records emitted, EmitErrors the number Emit refused.
	Records, EmitErrors int64
	// FailedOpens counts KindOpen events with an error return, which make no flow;
	// FailedConnects KindConnect and KindAccept events with an error return.
	FailedOpens, FailedConnects int64
	// UnknownFDs counts KindClose, KindCounters, KindRepeer and KindShutdown events, and
	// ftruncate calls, for a descriptor without a flow (opened before capture started, or
	// forgotten).
	UnknownFDs int64
	// UnknownProcesses counts processes the ProcessSource did not know, described by a minimal
	// entity made from the event.
	UnknownProcesses int64
	// UnknownKinds counts events of a kind the Aggregator does not handle, which it ignores.
	UnknownKinds int64
	// CounterResets counts counter totals that went backwards.
	CounterResets int64
	// Idle counts flows set aside after IdleTimeout without activity; Evicted flows set aside
	// early because MaxFlows flows were open; Resumed set-aside flows that saw activity again;
	// Forgotten set-aside flows dropped because MaxFlows of them were kept.
	Idle, Evicted, Resumed, Forgotten int64
	// OpenFlows, IdleFlows and Processes are the numbers of open flows, of idle flows
	// remembered, and of processes tracked, now.
	OpenFlows, IdleFlows, Processes int
}

// An Aggregator turns events into SysFlow records. It is safe for concurrent use; records are
// emitted in the order of the calls that produce them.
type Aggregator struct {
	mu          sync.Mutex
	src         ProcessSource
	emitFn      func(*sysflowv1.Record) error
	containerOf func(pid int32) string
	interval    int64 // ns
	idle        int64 // ns
	maxFlows    int
	log         *slog.Logger

	procs   map[int32]*procState
	procLRU *list.List // of *procState, least recently used first

	files   map[[sha1.Size]byte]*list.Element
	fileLRU *list.List // of [sha1.Size]byte, least recently used first

	byStart    *list.List // of open *flow, by the start of their current record
	byActivity *list.List // of open *flow, by their last activity
	parked     map[fdKey]*list.Element
	parkedLRU  *list.List // of idle *flow, least recently set aside first
	procFlows  *list.List // of *procState with a process flow, by the flow's start

	stats Stats
	err   error // the first Emit error of the current call
}

// New returns an Aggregator. It panics if cfg.Emit is nil.
func New(cfg Config) *Aggregator {
	if cfg.Emit == nil {
		panic("flow: Config.Emit is nil")
	}
	if cfg.FlowInterval <= 0 {
		cfg.FlowInterval = DefaultFlowInterval
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Aggregator{
		src:         cfg.Processes,
		emitFn:      cfg.Emit,
		containerOf: cfg.ContainerOf,
		interval:    int64(cfg.FlowInterval),
		idle:        int64(cfg.IdleTimeout),
		maxFlows:    cfg.MaxFlows,
		log:         log,
		procs:       make(map[int32]*procState),
		procLRU:     list.New(),
		files:       make(map[[sha1.Size]byte]*list.Element),
		fileLRU:     list.New(),
		byStart:     list.New(),
		byActivity:  list.New(),
		parked:      make(map[fdKey]*list.Element),
		parkedLRU:   list.New(),
		procFlows:   list.New(),
	}
}

// Handle consumes one event. The ProcessSource must have seen the event first. Handle returns
// the first error of Emit, if any; the event is fully accounted for even then, and the records
// Emit refused are lost.
//
// A TID of 0 is taken as the process's main thread (TID = PID).
func (a *Aggregator) Handle(ev Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ev.TID == 0 {
		ev.TID = ev.PID
	}
	switch ev.Kind {
	case KindOpen:
		a.open(&ev)
	case KindClose:
		a.data(&ev, endClose)
	case KindRepeer:
		a.data(&ev, endPeer)
	case KindCounters:
		a.data(&ev, endNone)
	case KindConnect, KindAccept, KindSocket, KindBind, KindListen:
		a.connect(&ev)
	case KindShutdown:
		if ev.Ret >= 0 {
			a.mark(&ev, opShutdown)
		}
	case KindSetNS:
		a.setNS(&ev)
	case KindPtrace:
		a.ptrace(&ev)
	case KindModule:
		a.module(&ev)
	case KindExec:
		a.exec(&ev)
	case KindClone:
		a.clone(&ev)
	case KindExit:
		a.exit(&ev)
	case KindSetUID:
		a.setUID(&ev)
	case KindDup:
		a.dup(&ev)
	case KindFileOp:
		a.fileOp(&ev)
	default:
		a.stats.UnknownKinds++
	}
	return a.takeErr()
}

// Tick emits what is due at time now (nanoseconds since the Unix epoch): flows idle for
// IdleTimeout are emitted if they have something to report and set aside, and open flows and
// process flows whose FlowInterval has elapsed are emitted if they have something to report and
// start a new interval. Call it about every second.
func (a *Aggregator) Tick(now int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for e := a.byActivity.Front(); e != nil; e = a.byActivity.Front() {
		f := e.Value.(*flow)
		if now-f.last < a.idle {
			break
		}
		a.stats.Idle++
		a.park(f)
	}
	for e := a.byStart.Front(); e != nil; e = a.byStart.Front() {
		f := e.Value.(*flow)
		if now-f.start < a.interval {
			break
		}
		a.emitFlow(f, f.last)
		a.restart(f, now)
	}
	for e := a.procFlows.Front(); e != nil; e = a.procFlows.Front() {
		ps := e.Value.(*procState)
		pf := ps.pf
		if now-pf.start < a.interval {
			break
		}
		a.emitProcFlow(ps, pf.last)
		if now-pf.last >= a.idle {
			a.dropProcFlow(ps)
			continue
		}
		pf.start = now
		a.procFlows.MoveToBack(e)
	}
	return a.takeErr()
}

// Flush emits every record pending, as at shutdown, and forgets all flows, open and idle, and
// all process flows. It keeps the processes and files whose entities it emitted.
func (a *Aggregator) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for e := a.byStart.Front(); e != nil; e = a.byStart.Front() {
		f := e.Value.(*flow)
		a.emitFlow(f, f.last)
		a.remove(f)
	}
	for e := a.procFlows.Front(); e != nil; e = a.procFlows.Front() {
		ps := e.Value.(*procState)
		a.emitProcFlow(ps, ps.pf.last)
		a.dropProcFlow(ps)
	}
	clear(a.parked)
	a.parkedLRU.Init()
	return a.takeErr()
}

// Stats returns the Aggregator's counters.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.OpenFlows, s.IdleFlows, s.Processes = a.byActivity.Len(), a.parkedLRU.Len(), len(a.procs)
	return s
}

// emit hands r to Emit and reports whether Emit took it. The first error of a call is kept for
// the call to return.
func (a *Aggregator) emit(r *sysflowv1.Record) bool {
	if err := a.emitFn(r); err != nil {
		a.stats.EmitErrors++
		if a.err == nil {
			a.err = fmt.Errorf("emit record: %w", err)
		}
		return false
	}
	a.stats.Records++
	return true
}

// takeErr returns and clears the first Emit error of the current call.
func (a *Aggregator) takeErr() error {
	err := a.err
	a.err = nil
	return err
}
