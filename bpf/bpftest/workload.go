package bpftest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel tests watch real processes doing known things. The test binary doubles as those
// processes: a TestMain calls Main first, which runs the workload named by SYSFLUX_WORKLOAD and
// exits, and a test starts one with Run.

// workloads are the known things, by name; each takes SYSFLUX_ARG.
var workloads = map[string]func(arg string) error{
	"file":    fileWorkload,
	"fileops": fileOpsWorkload,
	"net":     netWorkload,
	"setuid":  setuidWorkload,
	// Names and values below are the tests' contract: change them together.
	"truncate": truncateWorkload,
	"ns":       nsWorkload,
	"udppeers": udpPeersWorkload,
	"mmsg":     mmsgWorkload,
	"ptrace":   ptraceWorkload,
	"module":   moduleWorkload,
}

// Main runs the workload named by SYSFLUX_WORKLOAD, if any, and exits; otherwise it returns.
func Main() {
	name := os.Getenv("SYSFLUX_WORKLOAD")
	if name == "" {
		return
	}
	w, ok := workloads[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown workload %q\n", name)
		os.Exit(2)
	}
	if err := w(os.Getenv("SYSFLUX_ARG")); err != nil {
		fmt.Fprintf(os.Stderr, "workload %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Run runs the workload name with arg in a new process of the test binary and returns its pid
// and what it printed.
func Run(tb testing.TB, name, arg string) (pid uint32, stdout string) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SYSFLUX_WORKLOAD="+name, "SYSFLUX_ARG="+arg)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("workload %s(%s): %v", name, arg, err)
	}
	return uint32(cmd.Process.Pid), string(out)
}

// fileWorkload writes 3 × 1000 bytes to path, then reads it back in reads of 700 bytes: 5 with
// data and one at the end of the file.
func fileWorkload(path string) error {
	fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 1000)
	for range 3 {
		if _, err := syscall.Write(fd, buf); err != nil {
			return err
		}
	}
	syscall.Close(fd)
	if fd, err = syscall.Open(path, syscall.O_RDONLY, 0); err != nil {
		return err
	}
	for {
		n, err := syscall.Read(fd, buf[:700])
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	return syscall.Close(fd)
}

// fileOpsWorkload makes a directory d under dir, a file a in it, renames a to b, chmods and
// unlinks b, tries to unlink a file that is not there, and removes d.
func fileOpsWorkload(dir string) error {
	d := filepath.Join(dir, "d")
	if err := syscall.Mkdir(d, 0o755); err != nil {
		return err
	}
	fd, err := syscall.Open(filepath.Join(d, "a"), syscall.O_CREAT|syscall.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	syscall.Close(fd)
	if err := syscall.Rename(filepath.Join(d, "a"), filepath.Join(d, "b")); err != nil {
		return err
	}
	if err := syscall.Chmod(filepath.Join(d, "b"), 0o600); err != nil {
		return err
	}
	if err := syscall.Unlink(filepath.Join(d, "b")); err != nil {
		return err
	}
	if err := syscall.Unlink(filepath.Join(d, "missing")); err != syscall.ENOENT {
		return fmt.Errorf("unlink of a missing file: %v, want ENOENT", err)
	}
	return syscall.Rmdir(d)
}

// setuidWorkload sets this thread's user id to 65534. Go's syscall.Setuid would repeat the call
// on every thread of the process.
func setuidWorkload(string) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SETUID, 65534, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// ptraceWorkload attaches to a child of its own with PTRACE_ATTACH, detaches and prints the
// child's pid.
func ptraceWorkload(string) error {
	cmd := exec.Command("/bin/sleep", "30")
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	runtime.LockOSThread() // ptrace requests must come from the tracing thread
	defer runtime.UnlockOSThread()
	pid := cmd.Process.Pid
	if err := syscall.PtraceAttach(pid); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
		return err
	}
	if err := syscall.PtraceDetach(pid); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	fmt.Println(pid)
	return nil
}

// moduleWorkload asks the kernel to load arg as a kernel module with finit_module; arg is not
// one, so the call fails (ENOEXEC or the like), which is what the tests want: a load attempt,
// recorded with its result, that changes nothing.
func moduleWorkload(arg string) error {
	f, err := os.Open(arg)
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err == nil {
		return fmt.Errorf("finit_module of %s succeeded", arg)
	}
	fmt.Println(int(f.Fd()), -int(err.(syscall.Errno)))
	return nil
}

// netWorkload sends 1234 bytes from a client to a server of its own on loopback and 567 back,
// over network (tcp4, tcp6, udp4 or udp6), and prints the client's and the server's addresses.
func netWorkload(network string) error {
	host := "127.0.0.1:0"
	if network[3] == '6' {
		host = "[::1]:0"
	}
	up, down := make([]byte, 1234), make([]byte, 567)
	if network[:3] == "tcp" {
		ln, err := net.Listen(network, host)
		if err != nil {
			return err
		}
		defer ln.Close()
		served := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				served <- err
				return
			}
			defer c.Close()
			if _, err := io.ReadFull(c, make([]byte, len(up))); err != nil {
				served <- err
				return
			}
			_, err = c.Write(down)
			served <- err
		}()
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			return err
		}
		fmt.Println(c.LocalAddr(), ln.Addr())
		if _, err := c.Write(up); err != nil {
			return err
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil { // shutdown(SHUT_WR)
			return err
		}
		if _, err := io.ReadFull(c, make([]byte, len(down))); err != nil {
			return err
		}
		if err := <-served; err != nil {
			return err
		}
		return c.Close()
	}
	srv, err := net.ListenPacket(network, host)
	if err != nil {
		return err
	}
	defer srv.Close()
	c, err := net.Dial(network, srv.LocalAddr().String())
	if err != nil {
		return err
	}
	fmt.Println(c.LocalAddr(), srv.LocalAddr())
	if _, err := c.Write(up); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	n, from, err := srv.ReadFrom(buf)
	if err != nil || n != len(up) {
		return fmt.Errorf("server read %d bytes: %v", n, err)
	}
	if _, err := srv.WriteTo(down, from); err != nil {
		return err
	}
	if n, err := c.Read(buf); err != nil || n != len(down) {
		return fmt.Errorf("client read %d bytes: %v", n, err)
	}
	return c.Close()
}

// truncateWorkload writes 10 bytes to path, cuts it to 4 with ftruncate and closes it, then
// cuts it to 0 with truncate.
func truncateWorkload(path string) error {
	fd, err := syscall.Open(path, syscall.O_CREAT|syscall.O_RDWR|syscall.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := syscall.Write(fd, make([]byte, 10)); err != nil {
		return err
	}
	if err := syscall.Ftruncate(fd, 4); err != nil {
		return err
	}
	if err := syscall.Close(fd); err != nil {
		return err
	}
	return syscall.Truncate(path, 0)
}

// nsWorkload moves one thread into a new UTS namespace with unshare, then back into its first with
// setns.
func nsWorkload(string) error {
	runtime.LockOSThread() // the namespace is the thread's; it dies with the thread
	ns, err := syscall.Open("/proc/thread-self/ns/uts", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(ns)
	if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if err := unix.Setns(ns, unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	return nil
}

// udpPeersWorkload runs a UDP server on 127.0.0.1 and three clients, which send it 100, 200 and
// 300 bytes in turn; the server answers each with 10, 20 and 30 bytes. It prints the server's
// address and then each client's.
func udpPeersWorkload(string) error {
	srv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Print(srv.LocalAddr())
	buf := make([]byte, 512)
	for i := 1; i <= 3; i++ {
		c, err := net.Dial("udp4", srv.LocalAddr().String())
		if err != nil {
			return err
		}
		fmt.Print(" ", c.LocalAddr())
		if _, err := c.Write(make([]byte, 100*i)); err != nil {
			return err
		}
		n, from, err := srv.ReadFrom(buf)
		if err != nil || n != 100*i {
			return fmt.Errorf("server read %d bytes: %v", n, err)
		}
		if _, err := srv.WriteTo(make([]byte, 10*i), from); err != nil {
			return err
		}
		if n, err := c.Read(buf); err != nil || n != 10*i {
			return fmt.Errorf("client read %d bytes: %v", n, err)
		}
		c.Close()
	}
	fmt.Println()
	return nil
}

// mmsghdr is struct mmsghdr of <sys/socket.h>.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// mmsgWorkload sends two datagrams of 50 and 70 bytes with one sendmmsg from a connected UDP
// socket and receives both with one recvmmsg on the server's, on 127.0.0.1. It prints the
// client's address and the server's.
func mmsgWorkload(string) error {
	srv, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(srv)
	if err := unix.Bind(srv, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return err
	}
	sa, err := unix.Getsockname(srv)
	if err != nil {
		return err
	}
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(c)
	if err := unix.Connect(c, sa); err != nil {
		return err
	}
	ca, err := unix.Getsockname(c)
	if err != nil {
		return err
	}
	fmt.Printf("127.0.0.1:%d 127.0.0.1:%d\n", ca.(*unix.SockaddrInet4).Port, sa.(*unix.SockaddrInet4).Port)
	mmsg := func(named bool, sizes ...int) []mmsghdr {
		msgs := make([]mmsghdr, len(sizes))
		for i, n := range sizes {
			b := make([]byte, n)
			iov := &unix.Iovec{Base: &b[0]}
			iov.SetLen(n)
			msgs[i].hdr.Iov = iov
			msgs[i].hdr.SetIovlen(1)
			if !named {
				continue
			}
			name := new(unix.RawSockaddrInet4) // where recvmmsg says who sent
			msgs[i].hdr.Name = (*byte)(unsafe.Pointer(name))
			msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(*name))
		}
		return msgs
	}
	out := mmsg(false, 50, 70)
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(c), uintptr(unsafe.Pointer(&out[0])), 2, 0, 0, 0)
	if errno != 0 || n != 2 {
		return fmt.Errorf("sendmmsg sent %d: %v", n, errno)
	}
	in := mmsg(true, 512, 512)
	n, _, errno = unix.Syscall6(unix.SYS_RECVMMSG, uintptr(srv), uintptr(unsafe.Pointer(&in[0])), 2, 0, 0, 0)
	if errno != 0 || n != 2 || in[0].len != 50 || in[1].len != 70 {
		return fmt.Errorf("recvmmsg received %d (%d and %d bytes): %v", n, in[0].len, in[1].len, errno)
	}
	return nil
}
