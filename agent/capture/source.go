//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/sysflux/sysflux/agent/flow"
	"github.com/sysflux/sysflux/agent/proctable"
	"github.com/sysflux/sysflux/bpf"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Config configures a Source.
type Config struct {
	// FlowInterval is how often an active flow is reported; zero means 30 seconds.
	FlowInterval time.Duration
	// IdleTimeout is how long a flow may stay idle before it is reported and forgotten; zero
	// means 60 seconds.
	IdleTimeout time.Duration
	// ProcRoot is where /proc is; empty means /proc.
	ProcRoot string
	// Logger receives the source's logs; nil discards them.
	Logger *slog.Logger
}

// Source records this node live: it loads the eBPF probe, keeps the process table, and turns
// kernel events into SysFlow records with the flow aggregator.
type Source struct {
	cfg          Config
	log          *slog.Logger
	ready        chan struct{} // closed once the probe is attached
	kernelDrops  atomic.Int64
	decodeErrors atomic.Int64
	observed     atomic.Int64
}

// New returns a live capture source; nothing is loaded until Run.
func New(cfg Config) *Source {
	if cfg.FlowInterval <= 0 {
		cfg.FlowInterval = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, log: log, ready: make(chan struct{})}
}

// Name names the source in logs.
func (s *Source) Name() string { return "capture" }

// Ready is closed once Run has attached the probe: from then on, what happens is recorded.
func (s *Source) Ready() <-chan struct{} { return s.ready }

// KernelDrops returns the records the kernel could not hand over since Run started.
func (s *Source) KernelDrops() int64 { return s.kernelDrops.Load() }

// DecodeErrors returns the kernel records that could not be decoded.
func (s *Source) DecodeErrors() int64 { return s.decodeErrors.Load() }

// ObservedSyscalls returns the system calls the probe accounted for in records, as last sampled.
func (s *Source) ObservedSyscalls() int64 { return s.observed.Load() }

// Check reports whether this machine can run the probe, without loading it.
func Check() error { return bpf.Check() }

// Run captures until ctx ends.
func (s *Source) Run(ctx context.Context, emit func(context.Context, *sysflowv1.Record) error) error {
	self := os.Getpid()
	probe, err := bpf.Open(uint32(self))
	if err != nil {
		return err
	}
	defer probe.Close()
	table, err := proctable.New(proctable.Config{ProcRoot: s.cfg.ProcRoot, Self: self, Logger: s.log})
	if err != nil {
		return fmt.Errorf("process table: %w", err)
	}
	procs, err := table.Scan()
	if err != nil {
		return fmt.Errorf("process table: %w", err)
	}
	s.log.Info("capture started", "processes", len(procs))
	if absent := probe.Absent(); len(absent) > 0 {
		s.log.Info("this kernel lacks some syscall tracepoints: what they trace cannot happen here", "tracepoints", absent)
	}
	close(s.ready)
	agg := flow.New(flow.Config{
		Processes: flow.ProcessFunc(func(pid int32) (*sysflowv1.Process, bool) {
			if p, ok := table.Get(pid); ok {
				return p, true
			}
			p, _ := table.Ensure(pid)
			return p, p != nil
		}),
		Emit:         func(r *sysflowv1.Record) error { return emit(ctx, r) },
		FlowInterval: s.cfg.FlowInterval,
		IdleTimeout:  s.cfg.IdleTimeout,
		Logger:       s.log,
	})
	clk := clock{bootTimeNS: table.BootTimeNS(), createTime: proctable.CreateTime}
	open := make(openFDs)

	// Counters are sampled often enough that an interval flush sees reads and writes of files
	// that stay open.
	sample := min(s.cfg.FlowInterval, s.cfg.IdleTimeout) / 3
	nextSample := time.Now().Add(sample)
	var rec ringbuf.Record
	for {
		if ctx.Err() != nil {
			return agg.Flush()
		}
		probe.SetDeadline(time.Now().Add(time.Second))
		err := probe.Read(&rec)
		switch {
		case err == nil:
			ev, err := clk.decode(rec.RawSample)
			if err != nil {
				s.decodeErrors.Add(1)
				s.log.Debug("undecodable kernel record", "err", err)
				break
			}
			if table.Ignored(ev.PID) {
				break
			}
			if err := s.handle(probe, table, agg, open, ev); err != nil {
				return err
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, ringbuf.ErrClosed):
			return agg.Flush()
		default:
			return fmt.Errorf("read kernel records: %w", err)
		}
		now := time.Now()
		if now.After(nextSample) {
			nextSample = now.Add(sample)
			if err := s.sampleCounters(probe, agg, clk, now); err != nil {
				return err
			}
			if n, err := probe.Drops(); err == nil && n > uint64(s.kernelDrops.Load()) {
				s.log.Warn("kernel dropped records: the ring buffer was full", "total", n)
				s.kernelDrops.Store(int64(n))
			}
			if n, err := probe.Observed(); err == nil {
				s.observed.Store(int64(n))
			}
			s.forgetDead(probe, open)
		}
		if err := agg.Tick(now.UnixNano()); err != nil {
			return err
		}
	}
}

// openFDs are the descriptors the kernel counts, per process, so that a process's last counts
// can be taken when it exits without closing them.
type openFDs map[int32]map[int32]bool

// handle updates the process table and feeds the aggregator with one event.
func (s *Source) handle(probe *bpf.Probe, table *proctable.Table, agg *flow.Aggregator, open openFDs, ev flow.Event) error {
	switch ev.Kind {
	case flow.KindExec:
		table.Exec(ev)
	case flow.KindClone:
		table.Clone(ev)
	case flow.KindSetUID:
		table.SetUID(ev)
	case flow.KindOpen, flow.KindConnect, flow.KindAccept, flow.KindSocket, flow.KindBind, flow.KindListen:
		if ev.Ret >= 0 || ev.Ret == -115 { // EINPROGRESS: a non-blocking connect under way
			if open[ev.PID] == nil {
				open[ev.PID] = make(map[int32]bool)
			}
			open[ev.PID][ev.FD] = true
		}
	case flow.KindDup:
		if open[ev.PID] != nil {
			open[ev.PID][ev.FD] = true
		}
	case flow.KindClose:
		delete(open[ev.PID], ev.FD)
	case flow.KindExit:
		if ev.TID == ev.PID {
			// The process's files close with it: hand over their last counts first.
			for fd := range open[ev.PID] {
				c, ok, err := probe.Take(bpf.FDKey{Pid: uint32(ev.PID), Fd: fd})
				if err != nil {
					return err
				}
				if ok {
					cev := flow.Event{Kind: flow.KindCounters, Time: ev.Time, PID: ev.PID, TID: ev.PID, FD: fd}
					setCounts(&cev, c)
					if err := agg.Handle(cev); err != nil {
						return err
					}
				}
			}
			delete(open, ev.PID)
		}
	}
	if err := agg.Handle(ev); err != nil {
		return err
	}
	if ev.Kind == flow.KindExit && ev.TID == ev.PID {
		table.Exit(ev)
	}
	return nil
}

// forgetDead drops the kernel's counters of processes that are gone although their exit was not
// seen (its record was lost), so that the kernel's table does not fill up with them.
func (s *Source) forgetDead(probe *bpf.Probe, open openFDs) {
	root := s.cfg.ProcRoot
	if root == "" {
		root = "/proc"
	}
	known := make(map[uint32]bool) // pid → gone, stat'ed once per sweep
	n, err := probe.Forget(func(pid uint32) bool {
		gone, ok := known[pid]
		if !ok {
			_, err := os.Stat(filepath.Join(root, strconv.FormatUint(uint64(pid), 10)))
			gone = errors.Is(err, fs.ErrNotExist)
			known[pid] = gone
			if gone {
				delete(open, int32(pid))
			}
		}
		return gone
	})
	if err != nil {
		s.log.Warn("sweep of dead processes' counters failed", "err", err)
	} else if n > 0 {
		s.log.Debug("forgot counters of processes whose exit was not seen", "descriptors", n)
	}
}

// sampleCounters hands the aggregator the kernel's current per-fd totals.
func (s *Source) sampleCounters(probe *bpf.Probe, agg *flow.Aggregator, clk clock, now time.Time) error {
	var evs []flow.Event
	err := probe.Counts(func(k bpf.FDKey, c bpf.FDCounts) {
		ev := flow.Event{Kind: flow.KindCounters, Time: now.UnixNano(), PID: int32(k.Pid), TID: int32(k.Pid), FD: k.Fd}
		setCounts(&ev, c)
		evs = append(evs, ev)
	})
	if err != nil {
		return fmt.Errorf("read fd counters: %w", err)
	}
	for _, ev := range evs {
		if err := agg.Handle(ev); err != nil {
			return err
		}
	}
	return nil
}
