//go:build linux

package capture

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sysflux/sysflux/agent/flow"
	"github.com/sysflux/sysflux/bpf"
	"github.com/sysflux/sysflux/policy/field"
)

// clock turns the kernel's boot-time nanoseconds into wall-clock nanoseconds and start times
// into process OID create times.
type clock struct {
	bootTimeNS int64
	createTime func(bootTimeNS, startBoottimeNS int64) int64
}

func (c clock) wall(bootNS uint64) int64 { return c.bootTimeNS + int64(bootNS) }

func (c clock) start(startBoottime uint64) int64 {
	return c.createTime(c.bootTimeNS, int64(startBoottime))
}

// view reinterprets the front of a ring buffer record as a T. Records are 8-byte aligned and
// laid out as the C structs bpf2go mirrored, so no copy is needed.
func view[T any](b []byte) (*T, error) {
	var zero T
	if len(b) < int(unsafe.Sizeof(zero)) {
		return nil, fmt.Errorf("record of %d bytes is shorter than %T (%d bytes)", len(b), zero, unsafe.Sizeof(zero))
	}
	return (*T)(unsafe.Pointer(&b[0])), nil
}

// cString returns the NUL-terminated string at the start of b.
func cString(b []int8) string {
	s := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b))
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// decode turns one ring buffer record into an event.
func (c clock) decode(b []byte) (flow.Event, error) {
	h, err := view[bpf.EventHeader](b)
	if err != nil {
		return flow.Event{}, err
	}
	ev := flow.Event{
		Time:      c.wall(h.Ts),
		PID:       int32(h.Pid),
		TID:       int32(h.Tid),
		StartTime: c.start(h.StartBoottime),
	}
	switch h.Kind {
	case bpf.KindExec:
		e, err := view[bpf.ExecEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind = flow.KindExec
		ev.PPID, ev.UID, ev.GID = int32(e.Ppid), int32(e.Uid), int32(e.Gid)
		ev.Creds = creds(&e.Creds)
		ev.Path = cString(e.Filename[:])
		n := min(int(e.ArgsLen), len(e.Args))
		argv := strings.Split(strings.TrimRight(string(unsafe.Slice((*byte)(unsafe.Pointer(&e.Args[0])), n)), "\x00"), "\x00")
		if len(argv) > 1 {
			ev.Args = argv[1:] // without argv[0], as SysFlow's exeArgs
		}
	case bpf.KindClone:
		e, err := view[bpf.CloneEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind = flow.KindClone
		ev.ChildPID, ev.ChildTID, ev.PPID = int32(e.ChildPid), int32(e.ChildTid), int32(e.Ppid)
	case bpf.KindExit:
		e, err := view[bpf.ExitEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind = flow.KindExit
		ev.Ret = int64(e.ExitCode)
	case bpf.KindOpen:
		e, err := view[bpf.OpenEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind = flow.KindOpen
		ev.Ret, ev.Flags, ev.Path, ev.DirFD = e.Ret, e.Flags, cString(e.Path[:]), e.Dirfd
		ev.FD = int32(e.Ret)
	case bpf.KindClose, bpf.KindRepeer:
		e, err := view[bpf.CloseEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind = flow.KindClose
		if h.Kind == bpf.KindRepeer {
			ev.Kind = flow.KindRepeer
		}
		ev.FD = e.Fd
		setCounts(&ev, e.Counts)
	case bpf.KindConnect, bpf.KindAccept, bpf.KindSocket, bpf.KindBind, bpf.KindListen:
		e, err := view[bpf.NetEvent](b)
		if err != nil {
			return ev, err
		}
		switch h.Kind {
		case bpf.KindConnect:
			ev.Kind = flow.KindConnect
		case bpf.KindAccept:
			ev.Kind = flow.KindAccept
		case bpf.KindBind:
			ev.Kind = flow.KindBind
		case bpf.KindListen:
			ev.Kind = flow.KindListen
		default:
			ev.Kind = flow.KindSocket
		}
		ev.FD, ev.Ret, ev.Proto = e.Fd, e.Ret, int32(e.Proto)
		if ev.Proto == ipprotoMPTCP {
			ev.Proto = 6 // Multipath TCP is TCP on the wire, and falls back to it
		}
		ev.Local = netip.AddrPortFrom(addr(e.Family, e.Saddr), e.Sport)
		ev.Remote = netip.AddrPortFrom(addr(e.Family, e.Daddr), e.Dport)
	case bpf.KindDup:
		e, err := view[bpf.DupEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.FD, ev.OldFD = flow.KindDup, e.Fd, e.Oldfd
	case bpf.KindFileOp:
		e, err := view[bpf.FileOpEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Op, ev.Ret, ev.FD = flow.KindFileOp, flow.FileOp(e.Op), e.Ret, e.Fd
		ev.Path, ev.DirFD = cString(e.Path[:]), e.Dirfd
		ev.NewPath, ev.NewDirFD = cString(e.Newpath[:]), e.Newdirfd
	case bpf.KindSetUID:
		e, err := view[bpf.SetUIDEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Ret, ev.UID, ev.GID = flow.KindSetUID, e.Ret, e.Uid, e.Gid
		ev.Args = []string{strconv.Itoa(int(e.Uid)), strconv.Itoa(int(e.Gid))}
		ev.Creds = creds(&e.Creds)
	case bpf.KindNS:
		e, err := view[bpf.NSEvent](b)
		if err != nil {
			return ev, err
		}
		call := "setns"
		if e.Op == bpf.NSUnshare {
			call = "unshare"
		}
		ev.Kind, ev.Ret, ev.Args = flow.KindSetNS, e.Ret, []string{call, nsTypes(e.Flags)}
	case bpf.KindShutdown:
		e, err := view[bpf.ShutdownEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Ret, ev.FD = flow.KindShutdown, e.Ret, e.Fd
	case bpf.KindPtrace:
		e, err := view[bpf.PtraceEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Ret = flow.KindPtrace, e.Ret
		request, _ := field.PtraceRequestName(strconv.FormatInt(e.Request, 10))
		ev.Args = []string{request, strconv.Itoa(int(e.Target))}
	case bpf.KindModule:
		e, err := view[bpf.ModuleEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind, ev.Ret, ev.FD = flow.KindModule, e.Ret, e.Fd
		ev.Args = []string{"init_module"}
		if e.Op == 2 {
			ev.Args[0] = "finit_module"
		}
	default:
		return ev, fmt.Errorf("unknown record kind %d", h.Kind)
	}
	return ev, nil
}

// ipprotoMPTCP is the socket protocol of Multipath TCP sockets, which Go's listeners use where
// the kernel has it.
const ipprotoMPTCP = 262

// creds converts the kernel's credentials of a task.
func creds(c *bpf.Creds) *flow.Creds {
	return &flow.Creds{
		CapEffective:   c.CapEffective,
		CapPermitted:   c.CapPermitted,
		CapInheritable: c.CapInheritable,
		LoginUID:       int32(c.Loginuid),
	}
}

// Namespace types, as setns and unshare name them (CLONE_NEW* in <linux/sched.h>).
var nsFlags = []struct {
	bit  uint32
	name string
}{
	{0x00020000, "CLONE_NEWNS"}, {0x02000000, "CLONE_NEWCGROUP"}, {0x04000000, "CLONE_NEWUTS"},
	{0x08000000, "CLONE_NEWIPC"}, {0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"},
	{0x40000000, "CLONE_NEWNET"}, {0x00000080, "CLONE_NEWTIME"},
}

// nsTypes names the namespace types in flags, joined by "|"; other bits are kept in hex, and no
// bits (setns's "any type") give "0".
func nsTypes(flags uint32) string {
	var names []string
	for _, f := range nsFlags {
		if flags&f.bit != 0 {
			names = append(names, f.name)
			flags &^= f.bit
		}
	}
	if flags != 0 || len(names) == 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(flags), 16))
	}
	return strings.Join(names, "|")
}

func setCounts(ev *flow.Event, c bpf.FDCounts) {
	ev.ReadOps, ev.WriteOps = int64(c.ReadOps), int64(c.WriteOps)
	ev.ReadBytes, ev.WriteBytes = int64(c.ReadBytes), int64(c.WriteBytes)
}

func addr(family uint16, b [16]uint8) netip.Addr {
	if family == 2 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}
