//go:build linux

package bpf_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/sysflux/sysflux/bpf"
	"github.com/sysflux/sysflux/bpf/bpftest"
)

func TestMain(m *testing.M) {
	bpftest.Main()
	os.Exit(m.Run())
}

// collect reads the probe's records in the background until stop is closed.
func collect(t *testing.T, p *bpf.Probe) (records func() [][]byte, stop func()) {
	t.Helper()
	var (
		out  [][]byte
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		var rec ringbuf.Record
		for {
			if err := p.Read(&rec); err != nil {
				if !errors.Is(err, ringbuf.ErrClosed) {
					t.Errorf("read ring buffer: %v", err)
				}
				return
			}
			out = append(out, bytes.Clone(rec.RawSample))
		}
	}()
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			time.Sleep(100 * time.Millisecond) // let the last records land
			p.Close()
			<-done
		}
	}
	return func() [][]byte { stop(); return out }, stop
}

func as[T any](b []byte) *T {
	var zero T
	if len(b) < int(unsafe.Sizeof(zero)) {
		return nil
	}
	v := new(T)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(zero)), b)
	return v
}

func cString(b []int8) string {
	s := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b))
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

func open(t *testing.T) *bpf.Probe {
	t.Helper()
	bpftest.Require(t)
	p, err := bpf.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestExecCloneExit(t *testing.T) {
	p := open(t)
	records, _ := collect(t, p)
	cmd := exec.Command("/bin/true", "alpha", "beta gamma")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := uint32(cmd.Process.Pid)
	var sawClone, sawExec, sawExit bool
	for _, r := range records() {
		h := as[bpf.EventHeader](r)
		if h == nil || h.Pid != child && !(h.Kind == bpf.KindClone && as[bpf.CloneEvent](r).ChildPid == child) {
			continue
		}
		switch h.Kind {
		case bpf.KindClone:
			e := as[bpf.CloneEvent](r)
			sawClone = true
			if e.H.Pid != uint32(os.Getpid()) || e.ChildTid != child || e.H.StartBoottime == 0 {
				t.Errorf("clone: parent %d child %d/%d start %d; want parent %d, child %d/%d", e.H.Pid, e.ChildPid, e.ChildTid, e.H.StartBoottime, os.Getpid(), child, child)
			}
		case bpf.KindExec:
			e := as[bpf.ExecEvent](r)
			sawExec = true
			args := unsafe.Slice((*byte)(unsafe.Pointer(&e.Args[0])), e.ArgsLen)
			if got := cString(e.Filename[:]); got != "/bin/true" {
				t.Errorf("exec filename %q, want /bin/true", got)
			}
			if want := "/bin/true\x00alpha\x00beta gamma\x00"; string(args) != want {
				t.Errorf("exec args %q, want %q", args, want)
			}
			if e.Ppid != uint32(os.Getpid()) || e.Uid != uint32(os.Getuid()) || e.Gid != uint32(os.Getgid()) {
				t.Errorf("exec ppid %d uid %d gid %d, want %d %d %d", e.Ppid, e.Uid, e.Gid, os.Getpid(), os.Getuid(), os.Getgid())
			}
		case bpf.KindExit:
			e := as[bpf.ExitEvent](r)
			sawExit = true
			if e.ExitCode != 0 {
				t.Errorf("exit code %d, want 0", e.ExitCode)
			}
		}
	}
	if !sawClone || !sawExec || !sawExit {
		t.Errorf("saw clone %v, exec %v, exit %v; want all", sawClone, sawExec, sawExit)
	}
}

func TestFileCounts(t *testing.T) {
	p := open(t)
	records, _ := collect(t, p)
	path := filepath.Join(t.TempDir(), "data")
	child, _ := bpftest.Run(t, "file", path)
	type fdLife struct {
		flags int32
		close *bpf.CloseEvent
	}
	var opens []*fdLife
	byFD := map[int32]*fdLife{}
	for _, r := range records() {
		h := as[bpf.EventHeader](r)
		if h == nil || h.Pid != child {
			continue
		}
		switch h.Kind {
		case bpf.KindOpen:
			e := as[bpf.OpenEvent](r)
			if cString(e.Path[:]) != path {
				continue
			}
			if e.Ret < 0 {
				t.Fatalf("open of %s failed: %d", path, e.Ret)
			}
			l := &fdLife{flags: e.Flags}
			opens = append(opens, l)
			byFD[int32(e.Ret)] = l
		case bpf.KindClose:
			e := as[bpf.CloseEvent](r)
			if l := byFD[e.Fd]; l != nil && l.close == nil {
				l.close = e
			}
		}
	}
	if len(opens) != 2 || opens[0].close == nil || opens[1].close == nil {
		t.Fatalf("got %d opens of %s with closes %v; want 2 opened and closed", len(opens), path, opens)
	}
	if f := opens[0].flags; f&syscall.O_WRONLY == 0 || f&syscall.O_CREAT == 0 {
		t.Errorf("first open flags %#o, want O_WRONLY|O_CREAT", f)
	}
	w, r := opens[0].close.Counts, opens[1].close.Counts
	// 3000 bytes written in 3 writes; read back in 700-byte reads: 5 reads with data, 1 at EOF.
	if w.WriteOps != 3 || w.WriteBytes != 3000 || w.ReadOps != 0 {
		t.Errorf("writer counts %+v, want 3 writes of 3000 bytes", w)
	}
	if r.ReadOps != 6 || r.ReadBytes != 3000 || r.WriteOps != 0 {
		t.Errorf("reader counts %+v, want 6 reads of 3000 bytes", r)
	}
}

func TestIgnoresSelf(t *testing.T) {
	bpftest.Require(t)
	p, err := bpf.Open(uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	records, _ := collect(t, p)
	f, err := os.CreateTemp(t.TempDir(), "self")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello")
	f.Close()
	for _, r := range records() {
		if h := as[bpf.EventHeader](r); h != nil && h.Pid == uint32(os.Getpid()) && h.Kind != bpf.KindClone {
			t.Fatalf("the probe recorded the process it was told to ignore: %+v", h)
		}
	}
}

func TestTCP(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			p := open(t)
			records, _ := collect(t, p)
			child, _ := bpftest.Run(t, "net", network)
			loopback := netip.MustParseAddr("127.0.0.1")
			family := uint16(2)
			if network == "tcp6" {
				loopback, family = netip.IPv6Loopback(), 10
			}
			addr := func(b [16]uint8) netip.Addr {
				if family == 2 {
					return netip.AddrFrom4([4]byte(b[:4]))
				}
				return netip.AddrFrom16(b)
			}
			var connect, accept *bpf.NetEvent
			closes := map[int32]*bpf.CloseEvent{}
			for _, r := range records() {
				h := as[bpf.EventHeader](r)
				if h == nil || h.Pid != child {
					continue
				}
				switch h.Kind {
				case bpf.KindConnect:
					connect = as[bpf.NetEvent](r)
				case bpf.KindAccept:
					accept = as[bpf.NetEvent](r)
				case bpf.KindClose:
					e := as[bpf.CloseEvent](r)
					closes[e.Fd] = e
				}
			}
			if connect == nil || accept == nil {
				t.Fatalf("connect %v, accept %v: want both", connect, accept)
			}
			for _, e := range []*bpf.NetEvent{connect, accept} {
				if e.Family != family || e.Proto != 6 || addr(e.Saddr) != loopback || addr(e.Daddr) != loopback {
					t.Errorf("event %+v: want family %d, TCP, %v on both ends", e, family, loopback)
				}
			}
			if connect.Sport != accept.Dport || connect.Dport != accept.Sport {
				t.Errorf("client %d->%d and server %d<-%d ports do not pair up", connect.Sport, connect.Dport, accept.Sport, accept.Dport)
			}
			if connect.Ret != 0 && connect.Ret != -115 {
				t.Errorf("connect returned %d", connect.Ret)
			}
			cl, sv := closes[connect.Fd], closes[accept.Fd]
			if cl == nil || sv == nil {
				t.Fatalf("closes of client fd %d: %v, server fd %d: %v", connect.Fd, cl, accept.Fd, sv)
			}
			if cl.Counts.WriteBytes != 1234 || cl.Counts.ReadBytes != 567 || sv.Counts.ReadBytes != 1234 || sv.Counts.WriteBytes != 567 {
				t.Errorf("client counts %+v, server counts %+v; want 1234 bytes up and 567 down", cl.Counts, sv.Counts)
			}
			if cl.Counts.WriteOps != 1 || sv.Counts.WriteOps != 1 || cl.Counts.ReadOps == 0 || sv.Counts.ReadOps == 0 {
				t.Errorf("client counts %+v, server counts %+v; want one write each and some reads", cl.Counts, sv.Counts)
			}
		})
	}
}
