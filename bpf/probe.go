//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Errors Open reports for machines that cannot run the probe.
var (
	// ErrNotRoot means the process lacks the privileges to load eBPF programs.
	ErrNotRoot = errors.New("loading eBPF programs needs root (or CAP_BPF and CAP_PERFMON)")
	// ErrNoBTF means the kernel does not describe its types in BTF, which CO-RE needs.
	ErrNoBTF = errors.New("the kernel has no BTF (/sys/kernel/btf/vmlinux is missing)")
)

// Event kinds, as in the Kind field of EventHeader.
const (
	KindExec    = 1
	KindClone   = 2
	KindExit    = 3
	KindOpen    = 4
	KindClose   = 5
	KindConnect = 6
	KindAccept  = 7
	KindDup     = 8
	KindFileOp  = 9
	KindSetUID  = 10
	KindSocket  = 11
	// KindRepeer carries an unconnected socket's counts for its previous peer (a CloseEvent):
	// a send or receive named another peer, whose counts start again from zero.
	KindRepeer   = 12
	KindBind     = 13
	KindListen   = 14
	KindNS       = 15
	KindShutdown = 16
	KindPtrace   = 17
	KindModule   = 18
)

// Namespace operations, as in the Op field of NSEvent.
const (
	NSSetns   = 1
	NSUnshare = 2
)

// File operations, as in the Op field of FileOpEvent.
const (
	FileOpMkdir    = 1
	FileOpRmdir    = 2
	FileOpLink     = 3
	FileOpUnlink   = 4
	FileOpSymlink  = 5
	FileOpRename   = 6
	FileOpChmod    = 7
	FileOpChown    = 8
	FileOpTruncate = 9
)

// The kernel's event records, as laid out in the ring buffer.
type (
	// EventHeader starts every record.
	EventHeader = captureEventHeader
	// ExecEvent reports an exec.
	ExecEvent = captureExecEvent
	// CloneEvent reports a new process or thread.
	CloneEvent = captureCloneEvent
	// ExitEvent reports a thread's exit.
	ExitEvent = captureExitEvent
	// OpenEvent reports an open.
	OpenEvent = captureOpenEvent
	// CloseEvent reports a close of a file the probe saw opened, with its read/write counts.
	CloseEvent = captureCloseEvent
	// NetEvent reports a connect or an accept, with the socket's endpoints.
	NetEvent = captureNetEvent
	// DupEvent reports a descriptor duplicated from a counted one.
	DupEvent = captureDupEvent
	// FileOpEvent reports an operation on file names or attributes.
	FileOpEvent = captureFileopEvent
	// SetUIDEvent reports a change of user or group ids.
	SetUIDEvent = captureSetuidEvent
	// NSEvent reports a setns or an unshare.
	NSEvent = captureNsEvent
	// ShutdownEvent reports a shutdown of a counted socket.
	ShutdownEvent = captureShutdownEvent
	// PtraceEvent reports a ptrace request that attaches, injects or asks to be traced.
	PtraceEvent = capturePtraceEvent
	// ModuleEvent reports a kernel module load.
	ModuleEvent = captureModuleEvent
	// Creds are a task's capability sets and login uid.
	Creds = captureCreds
	// FDKey names an open file: a process and a descriptor.
	FDKey = captureFdKey
	// FDCounts are an open file's read and write counts.
	FDCounts = captureFdCounts
)

// Probe is the loaded, attached capture programs.
type Probe struct {
	objs   captureObjects
	links  []link.Link
	reader *ringbuf.Reader
	absent []string
}

// optionalTracepoints are the syscall tracepoints a kernel may lack: the module loading calls
// exist only in kernels built with module support, and without it nothing can load a module.
var optionalTracepoints = map[string]bool{"sys_exit_init_module": true, "sys_exit_finit_module": true}

// Absent returns the optional syscall tracepoints this kernel lacks, which the probe could not
// attach (see optionalTracepoints).
func (p *Probe) Absent() []string { return p.absent }

// Check reports whether this process can load the probe here (ErrNotRoot, ErrNoBTF), without
// loading it.
func Check() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return ErrNoBTF
	}
	return nil
}

// Open loads the capture programs, ignoring the process selfPID (the agent), and attaches
// them. Call Close when done.
func Open(selfPID uint32) (*Probe, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if err := ensureTracefs(); err != nil {
		return nil, err
	}
	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("load capture spec: %w", err)
	}
	if err := spec.Variables["self_pid"].Set(selfPID); err != nil {
		return nil, fmt.Errorf("set self_pid: %w", err)
	}
	p := &Probe{}
	if err := spec.LoadAndAssign(&p.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load capture programs: %+v", ve)
		}
		return nil, fmt.Errorf("load capture programs: %w", err)
	}
	progs := &p.objs.capturePrograms
	for _, rt := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"sched_process_exec", progs.SchedProcessExec},
		{"sched_process_fork", progs.SchedProcessFork},
		{"sched_process_exit", progs.SchedProcessExit},
	} {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: rt.name, Program: rt.prog})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("attach raw tracepoint sched/%s: %w", rt.name, err)
		}
		p.links = append(p.links, l)
	}
	for _, tp := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"sys_enter_openat", progs.EnterOpenat}, {"sys_exit_openat", progs.ExitOpenat},
		{"sys_enter_open", progs.EnterOpen}, {"sys_exit_open", progs.ExitOpen},
		{"sys_enter_creat", progs.EnterCreat}, {"sys_exit_creat", progs.ExitCreat},
		{"sys_enter_openat2", progs.EnterOpenat2}, {"sys_exit_openat2", progs.ExitOpenat2},
		{"sys_exit_read", progs.ExitRead}, {"sys_exit_pread64", progs.ExitPread64}, {"sys_exit_readv", progs.ExitReadv},
		{"sys_exit_preadv", progs.ExitPreadv}, {"sys_exit_preadv2", progs.ExitPreadv2},
		{"sys_exit_write", progs.ExitWrite}, {"sys_exit_pwrite64", progs.ExitPwrite64}, {"sys_exit_writev", progs.ExitWritev},
		{"sys_exit_pwritev", progs.ExitPwritev}, {"sys_exit_pwritev2", progs.ExitPwritev2},
		{"sys_exit_sendto", progs.ExitSendto}, {"sys_exit_sendmsg", progs.ExitSendmsg}, {"sys_exit_sendmmsg", progs.ExitSendmmsg},
		{"sys_exit_recvfrom", progs.ExitRecvfrom}, {"sys_exit_recvmsg", progs.ExitRecvmsg}, {"sys_exit_recvmmsg", progs.ExitRecvmmsg},
		{"sys_enter_close", progs.EnterClose},
		{"sys_exit_connect", progs.ExitConnect}, {"sys_exit_accept", progs.ExitAccept}, {"sys_exit_accept4", progs.ExitAccept4},
		{"sys_exit_bind", progs.ExitBind}, {"sys_exit_listen", progs.ExitListen}, {"sys_exit_shutdown", progs.ExitShutdown},
		{"sys_exit_dup", progs.ExitDup}, {"sys_exit_dup2", progs.ExitDup2}, {"sys_exit_dup3", progs.ExitDup3},
		{"sys_exit_fcntl", progs.ExitFcntl},
		{"sys_enter_mkdir", progs.EnterMkdir}, {"sys_exit_mkdir", progs.ExitMkdir},
		{"sys_enter_mkdirat", progs.EnterMkdirat}, {"sys_exit_mkdirat", progs.ExitMkdirat},
		{"sys_enter_rmdir", progs.EnterRmdir}, {"sys_exit_rmdir", progs.ExitRmdir},
		{"sys_enter_unlink", progs.EnterUnlink}, {"sys_exit_unlink", progs.ExitUnlink},
		{"sys_enter_unlinkat", progs.EnterUnlinkat}, {"sys_exit_unlinkat", progs.ExitUnlinkat},
		{"sys_enter_link", progs.EnterLink}, {"sys_exit_link", progs.ExitLink},
		{"sys_enter_linkat", progs.EnterLinkat}, {"sys_exit_linkat", progs.ExitLinkat},
		{"sys_enter_symlink", progs.EnterSymlink}, {"sys_exit_symlink", progs.ExitSymlink},
		{"sys_enter_symlinkat", progs.EnterSymlinkat}, {"sys_exit_symlinkat", progs.ExitSymlinkat},
		{"sys_enter_rename", progs.EnterRename}, {"sys_exit_rename", progs.ExitRename},
		{"sys_enter_renameat", progs.EnterRenameat}, {"sys_exit_renameat", progs.ExitRenameat},
		{"sys_enter_renameat2", progs.EnterRenameat2}, {"sys_exit_renameat2", progs.ExitRenameat2},
		{"sys_enter_chmod", progs.EnterChmod}, {"sys_exit_chmod", progs.ExitChmod},
		{"sys_enter_fchmod", progs.EnterFchmod}, {"sys_exit_fchmod", progs.ExitFchmod},
		{"sys_enter_fchmodat", progs.EnterFchmodat}, {"sys_exit_fchmodat", progs.ExitFchmodat},
		{"sys_enter_chown", progs.EnterChown}, {"sys_exit_chown", progs.ExitChown},
		{"sys_enter_lchown", progs.EnterLchown}, {"sys_exit_lchown", progs.ExitLchown},
		{"sys_enter_fchown", progs.EnterFchown}, {"sys_exit_fchown", progs.ExitFchown},
		{"sys_enter_fchownat", progs.EnterFchownat}, {"sys_exit_fchownat", progs.ExitFchownat},
		{"sys_enter_truncate", progs.EnterTruncate}, {"sys_exit_truncate", progs.ExitTruncate},
		{"sys_enter_ftruncate", progs.EnterFtruncate}, {"sys_exit_ftruncate", progs.ExitFtruncate},
		{"sys_exit_setuid", progs.ExitSetuid}, {"sys_exit_setgid", progs.ExitSetgid},
		{"sys_exit_setreuid", progs.ExitSetreuid}, {"sys_exit_setregid", progs.ExitSetregid},
		{"sys_exit_setresuid", progs.ExitSetresuid}, {"sys_exit_setresgid", progs.ExitSetresgid},
		{"sys_exit_setns", progs.ExitSetns}, {"sys_exit_unshare", progs.ExitUnshare},
		{"sys_exit_ptrace", progs.ExitPtrace},
		{"sys_exit_init_module", progs.ExitInitModule}, {"sys_exit_finit_module", progs.ExitFinitModule},
	} {
		l, err := link.Tracepoint("syscalls", tp.name, tp.prog, nil)
		if err != nil && errors.Is(err, os.ErrNotExist) && optionalTracepoints[tp.name] {
			p.absent = append(p.absent, tp.name)
			continue
		}
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("attach tracepoint syscalls/%s: %w", tp.name, err)
		}
		p.links = append(p.links, l)
	}
	if p.reader, err = ringbuf.NewReader(p.objs.Events); err != nil {
		p.Close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return p, nil
}

// ensureTracefs mounts tracefs where cilium/ebpf looks for tracepoints, if nothing is there.
func ensureTracefs() error {
	for _, dir := range []string{"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"} {
		if _, err := os.Stat(dir); err == nil {
			return nil
		}
	}
	if err := unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tracefs is not mounted and mounting it on /sys/kernel/tracing failed: %w", err)
	}
	return nil
}

// Read waits for the next record of the ring buffer and reads it into rec. It returns an error
// wrapping ringbuf.ErrClosed once Close was called.
func (p *Probe) Read(rec *ringbuf.Record) error {
	return p.reader.ReadInto(rec)
}

// SetDeadline makes Read give up with os.ErrDeadlineExceeded at t; the zero time waits forever.
func (p *Probe) SetDeadline(t time.Time) {
	p.reader.SetDeadline(t)
}

// Drops returns the number of records the kernel could not put in the ring buffer, summed over
// CPUs.
func (p *Probe) Drops() (uint64, error) {
	n, err := sumPerCPU(p.objs.Drops)
	if err != nil {
		return 0, fmt.Errorf("read drop counters: %w", err)
	}
	return n, nil
}

// Observed returns the number of system calls the probe accounted for in records, each read or
// write folded into a descriptor's counters included, summed over CPUs.
func (p *Probe) Observed() (uint64, error) {
	n, err := sumPerCPU(p.objs.Observed)
	if err != nil {
		return 0, fmt.Errorf("read observed counters: %w", err)
	}
	return n, nil
}

// sumPerCPU sums the per-CPU values of the first entry of a per-CPU array.
func sumPerCPU(m *ebpf.Map) (uint64, error) {
	var perCPU []uint64
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return 0, err
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n, nil
}

// Forget drops the counts of open files the probe still tracks for processes that gone reports
// gone (processes whose exit the agent did not see), and returns how many it dropped.
func (p *Probe) Forget(gone func(pid uint32) bool) (int, error) {
	var (
		k    FDKey
		v    FDCounts
		dead []FDKey
	)
	it := p.objs.Fds.Iterate()
	for it.Next(&k, &v) {
		if gone(k.Pid) {
			dead = append(dead, k)
		}
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("read fd counters: %w", err)
	}
	n := 0
	for _, k := range dead {
		if err := p.objs.Fds.Delete(&k); err == nil {
			n++
		}
	}
	return n, nil
}

// Counts calls fn with the read and write counts of every open file the probe tracks.
func (p *Probe) Counts(fn func(FDKey, FDCounts)) error {
	var (
		k FDKey
		v FDCounts
	)
	it := p.objs.Fds.Iterate()
	for it.Next(&k, &v) {
		fn(k, v)
	}
	return it.Err()
}

// Take returns and forgets the read and write counts of one open file, for a process that
// exited without closing it. ok is false when the probe does not track that file.
func (p *Probe) Take(k FDKey) (c FDCounts, ok bool, err error) {
	if err := p.objs.Fds.LookupAndDelete(&k, &c); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return c, false, nil
		}
		// Hash maps gained lookup-and-delete in Linux 5.14; fall back for older kernels.
		if err := p.objs.Fds.Lookup(&k, &c); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				return c, false, nil
			}
			return c, false, fmt.Errorf("read fd counters: %w", err)
		}
		p.objs.Fds.Delete(&k)
	}
	return c, true, nil
}

// Close detaches and unloads the programs and unblocks Read.
func (p *Probe) Close() error {
	var errs []error
	if p.reader != nil {
		errs = append(errs, p.reader.Close())
	}
	// The kernel waits for an RCU grace period as it detaches each tracepoint program; closing
	// the links together lets those waits overlap (one at a time took 3-6 s).
	linkErrs := make([]error, len(p.links))
	var wg sync.WaitGroup
	for i, l := range p.links {
		wg.Go(func() { linkErrs[i] = l.Close() })
	}
	wg.Wait()
	errs = append(errs, linkErrs...)
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}
