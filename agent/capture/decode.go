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
	case bpf.KindClose:
		e, err := view[bpf.CloseEvent](b)
		if err != nil {
			return ev, err
		}
		ev.Kind = flow.KindClose
		ev.FD = e.Fd
		setCounts(&ev, e.Counts)
	case bpf.KindConnect, bpf.KindAccept, bpf.KindSocket:
		e, err := view[bpf.NetEvent](b)
		if err != nil {
			return ev, err
		}
		switch h.Kind {
		case bpf.KindConnect:
			ev.Kind = flow.KindConnect
		case bpf.KindAccept:
			ev.Kind = flow.KindAccept
		default:
			ev.Kind = flow.KindSocket
		}
		ev.FD, ev.Ret, ev.Proto = e.Fd, e.Ret, int32(e.Proto)
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
	default:
		return ev, fmt.Errorf("unknown record kind %d", h.Kind)
	}
	return ev, nil
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
