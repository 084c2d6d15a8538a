//go:build linux

package capture_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/capture"
	"github.com/sysflux/sysflux/agent/flow"
	"github.com/sysflux/sysflux/agent/spool"
	"github.com/sysflux/sysflux/bpf/bpftest"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

func TestMain(m *testing.M) {
	bpftest.Main()
	os.Exit(m.Run())
}

// capturing runs a capture source until the returned stop is called, which returns what it
// recorded.
func capturing(t *testing.T) (stop func() []*sysflowv1.Record) {
	t.Helper()
	bpftest.Require(t)
	src := capture.New(capture.Config{})
	var (
		mu   sync.Mutex
		recs []*sysflowv1.Record
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(_ context.Context, r *sysflowv1.Record) error {
			mu.Lock()
			defer mu.Unlock()
			recs = append(recs, r)
			return nil
		})
	}()
	select {
	case <-src.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("capture: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("capture did not start within 30s")
	}
	var once sync.Once
	stop = func() []*sysflowv1.Record {
		once.Do(func() {
			time.Sleep(300 * time.Millisecond) // let the last kernel records arrive
			cancel()
			if err := <-done; err != nil {
				t.Errorf("capture: %v", err)
			}
		})
		mu.Lock()
		defer mu.Unlock()
		return recs
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestExec(t *testing.T) {
	stop := capturing(t)
	// A shell runs /bin/true, so that the child's parent is a process the capture records (the
	// test process itself is the agent here, which is never recorded).
	cmd := exec.Command("/bin/sh", "-c", `/bin/true alpha "beta gamma"; exit 0`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	shell := int64(cmd.Process.Pid)
	const trueExe = "/bin/true" // as executed, not as /proc resolves it
	var (
		sh, child *sysflowv1.Process
		shellOps  []*sysflowv1.ProcessEvent
		childOps  []int32
	)
	for _, r := range stop() {
		switch p := r.GetRec().(type) {
		case *sysflowv1.Record_Process:
			switch {
			case p.Process.GetOid().GetHpid() == shell:
				sh = p.Process
			case p.Process.GetExe() == trueExe && p.Process.GetPoid().GetHpid() == shell:
				child = p.Process
			}
		case *sysflowv1.Record_ProcessEvent:
			e := p.ProcessEvent
			switch {
			case e.GetProcOid().GetHpid() == shell:
				shellOps = append(shellOps, e)
			case child != nil && e.GetProcOid().GetHpid() == child.GetOid().GetHpid():
				childOps = append(childOps, e.GetOpFlags())
			}
		}
	}
	if sh == nil || child == nil {
		t.Fatalf("Process entities: shell %v, child %v; want both (the child's exe %s, parent %d)", sh, child, trueExe, shell)
	}
	if child.GetExeArgs() != "alpha beta gamma" || child.GetUid() != int32(os.Getuid()) || child.GetGid() != int32(os.Getgid()) {
		t.Errorf("child Process = %v; want exe_args %q, uid %d, gid %d", child, "alpha beta gamma", os.Getuid(), os.Getgid())
	}
	if !proto.Equal(child.GetPoid(), sh.GetOid()) {
		t.Errorf("child poid %v, want the shell's oid %v", child.GetPoid(), sh.GetOid())
	}
	// The test runs the shell with its own credentials, which /bin/true keeps.
	eff, prm, inh, loginuid := selfCreds(t)
	if child.CapEffective == nil || child.GetCapEffective() != eff || child.GetCapPermitted() != prm ||
		child.GetCapInheritable() != inh || child.Loginuid == nil || child.GetLoginuid() != loginuid {
		t.Errorf("child caps eff %#x prm %#x inh %#x loginuid %d; want %#x %#x %#x %d", child.GetCapEffective(),
			child.GetCapPermitted(), child.GetCapInheritable(), child.GetLoginuid(), eff, prm, inh, loginuid)
	}
	if child.GetOid().GetCreateTs() == 0 || child.GetOid().GetCreateTs() < sh.GetOid().GetCreateTs() {
		t.Errorf("child oid %v, shell oid %v: want the child created after the shell", child.GetOid(), sh.GetOid())
	}
	var clone *sysflowv1.ProcessEvent
	for _, e := range shellOps {
		if e.GetOpFlags() == int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLONE) && int64(e.GetRet()) == child.GetOid().GetHpid() {
			clone = e
		}
	}
	if clone == nil {
		t.Errorf("shell events %v: want a CLONE returning the child's pid %d", shellOps, child.GetOid().GetHpid())
	}
	exec, exit := int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC), int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXIT)
	if len(childOps) != 2 || childOps[0] != exec || childOps[1] != exit {
		t.Errorf("process events of the child: %v, want [EXEC EXIT] (%d %d)", childOps, exec, exit)
	}
}

func TestFileFlows(t *testing.T) {
	stop := capturing(t)
	path := filepath.Join(t.TempDir(), "data")
	p, _ := bpftest.Run(t, "file", path)
	pid := int64(p)
	oid := flow.FileOID("", path)
	var (
		file  *sysflowv1.File
		flows []*sysflowv1.FileFlow
	)
	for _, r := range stop() {
		switch p := r.GetRec().(type) {
		case *sysflowv1.Record_File:
			if p.File.GetPath() == path {
				file = p.File
			}
		case *sysflowv1.Record_FileFlow:
			if p.FileFlow.GetProcOid().GetHpid() == pid && string(p.FileFlow.GetFileOid()) == string(oid[:]) {
				if file == nil {
					t.Errorf("file flow came before its File entity")
				}
				flows = append(flows, p.FileFlow)
			}
		}
	}
	if file == nil || string(file.GetOid()) != string(oid[:]) || file.GetRestype() != 'f' {
		t.Fatalf("File entity %v, want path %s, oid %x, restype f", file, path, oid)
	}
	if len(flows) != 2 {
		t.Fatalf("got %d file flows on %s, want 2: %v", len(flows), path, flows)
	}
	const (
		open  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN)
		read  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV)
		write = int32(sysflowv1.OperationFlag_OPERATION_FLAG_WRITE_SEND)
		close = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE)
	)
	w, r := flows[0], flows[1]
	wantOpen := int32(sysflowv1.OpenFlag_OPEN_FLAG_WRONLY | sysflowv1.OpenFlag_OPEN_FLAG_CREAT | sysflowv1.OpenFlag_OPEN_FLAG_TRUNC)
	if w.GetOpFlags() != open|write|close || w.GetNumWSendOps() != 3 || w.GetNumWSendBytes() != 3000 ||
		w.GetNumRRecvOps() != 0 || w.GetOpenFlags()&wantOpen != wantOpen {
		t.Errorf("writer flow %v: want OPEN|WRITE_SEND|CLOSE, 3 writes of 3000 bytes, open flags %d", w, wantOpen)
	}
	if r.GetOpFlags() != open|read|close || r.GetNumRRecvOps() != 6 || r.GetNumRRecvBytes() != 3000 || r.GetNumWSendOps() != 0 {
		t.Errorf("reader flow %v: want OPEN|READ_RECV|CLOSE, 6 reads of 3000 bytes", r)
	}
	if w.GetEndTs() < w.GetTs() || r.GetTs() < w.GetEndTs() {
		t.Errorf("flow times out of order: writer %d..%d, reader %d..%d", w.GetTs(), w.GetEndTs(), r.GetTs(), r.GetEndTs())
	}
}

func TestFileEvents(t *testing.T) {
	stop := capturing(t)
	dir := t.TempDir()
	p, _ := bpftest.Run(t, "fileops", dir)
	pid := int64(p)
	d := filepath.Join(dir, "d")
	paths := map[string]string{} // file oid -> path
	type event struct {
		op        sysflowv1.OperationFlag
		path, new string
		ret       int32
	}
	var got []event
	for _, r := range stop() {
		switch p := r.GetRec().(type) {
		case *sysflowv1.Record_File:
			paths[string(p.File.GetOid())] = p.File.GetPath()
		case *sysflowv1.Record_FileEvent:
			e := p.FileEvent
			if e.GetProcOid().GetHpid() != pid {
				continue
			}
			path, ok := paths[string(e.GetFileOid())]
			if !ok {
				t.Errorf("file event %v before its File entity", e)
			}
			ev := event{op: sysflowv1.OperationFlag(e.GetOpFlags()), path: path, ret: e.GetRet()}
			if len(e.GetNewFileOid()) > 0 {
				ev.new = paths[string(e.GetNewFileOid())]
			}
			got = append(got, ev)
		}
	}
	want := []event{
		{op: sysflowv1.OperationFlag_OPERATION_FLAG_MKDIR, path: d},
		{op: sysflowv1.OperationFlag_OPERATION_FLAG_RENAME, path: filepath.Join(d, "a"), new: filepath.Join(d, "b")},
		{op: sysflowv1.OperationFlag_OPERATION_FLAG_CHMOD, path: filepath.Join(d, "b")},
		{op: sysflowv1.OperationFlag_OPERATION_FLAG_UNLINK, path: filepath.Join(d, "b")},
		{op: sysflowv1.OperationFlag_OPERATION_FLAG_UNLINK, path: filepath.Join(d, "missing"), ret: -int32(syscall.ENOENT)},
		{op: sysflowv1.OperationFlag_OPERATION_FLAG_RMDIR, path: d},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file events:\ngot  %v\nwant %v", got, want)
	}
}

func TestSetUID(t *testing.T) {
	stop := capturing(t)
	p, _ := bpftest.Run(t, "setuid", "")
	pid := int64(p)
	var setuid []*sysflowv1.ProcessEvent
	var users []int32
	var caps []uint64
	for _, r := range stop() {
		switch p := r.GetRec().(type) {
		case *sysflowv1.Record_Process:
			if p.Process.GetOid().GetHpid() == pid {
				users = append(users, p.Process.GetUid())
				caps = append(caps, p.Process.GetCapEffective())
			}
		case *sysflowv1.Record_ProcessEvent:
			if e := p.ProcessEvent; e.GetProcOid().GetHpid() == pid && e.GetOpFlags() == int32(sysflowv1.OperationFlag_OPERATION_FLAG_SETUID) {
				setuid = append(setuid, e)
			}
		}
	}
	if len(setuid) != 1 || setuid[0].GetRet() != 0 || len(setuid[0].GetArgs()) == 0 || setuid[0].GetArgs()[0] != "65534" {
		t.Fatalf("SETUID events %v, want one with uid 65534 and ret 0", setuid)
	}
	if len(users) < 2 || users[len(users)-1] != 65534 {
		t.Errorf("the child's Process entities have uids %v, want the last to be 65534", users)
	}
	// Leaving root clears the effective and permitted capabilities.
	if len(caps) < 2 || caps[0] == 0 || caps[len(caps)-1] != 0 {
		t.Errorf("the child's effective capabilities %#x, want root's first and none after setuid", caps)
	}
}

func TestPtrace(t *testing.T) {
	stop := capturing(t)
	p, out := bpftest.Run(t, "ptrace", "")
	target := strings.TrimSpace(out)
	var got []*sysflowv1.ProcessEvent
	for _, r := range stop() {
		if e := r.GetProcessEvent(); e != nil && e.GetProcOid().GetHpid() == int64(p) &&
			e.GetOpFlags() == int32(sysflowv1.OperationFlag_OPERATION_FLAG_PTRACE) {
			got = append(got, e)
		}
	}
	// The detach is not an attach, an injection or a request to be traced: not reported.
	if len(got) != 1 || !slices.Equal(got[0].GetArgs(), []string{"PTRACE_ATTACH", target}) || got[0].GetRet() != 0 {
		t.Fatalf("PTRACE events %v, want one PTRACE_ATTACH of %s returning 0", got, target)
	}
}

func TestModuleLoad(t *testing.T) {
	stop := capturing(t)
	notAModule := filepath.Join(t.TempDir(), "not-a-module.ko")
	if err := os.WriteFile(notAModule, []byte("not an ELF object"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, out := bpftest.Run(t, "module", notAModule)
	var fd, ret int32
	if _, err := fmt.Sscan(out, &fd, &ret); err != nil {
		t.Fatalf("workload output %q: %v", out, err)
	}
	if ret == -int32(syscall.ENOSYS) {
		// A kernel without module support has neither the call nor its tracepoints: no module
		// can be loaded, so there is nothing to record.
		if _, err := os.Stat("/sys/kernel/tracing/events/syscalls/sys_exit_finit_module"); err == nil {
			t.Fatal("finit_module is ENOSYS but its tracepoint exists")
		}
		stop()
		t.Log("this kernel has no module support (finit_module: ENOSYS); the probe leaves module loading out")
		return
	}
	var got []*sysflowv1.ProcessEvent
	for _, r := range stop() {
		if e := r.GetProcessEvent(); e != nil && e.GetProcOid().GetHpid() == int64(p) &&
			e.GetOpFlags() == int32(sysflowv1.OperationFlag_OPERATION_FLAG_MODULE_LOAD) {
			got = append(got, e)
		}
	}
	if len(got) != 1 || !slices.Equal(got[0].GetArgs(), []string{"finit_module", notAModule}) || got[0].GetRet() != ret || ret >= 0 {
		t.Fatalf("MODULE_LOAD events %v, want one finit_module of %s returning %d", got, notAModule, ret)
	}
}

// selfCreds returns the test process's capability sets and login uid, as /proc shows them.
func selfCreds(t *testing.T) (eff, prm, inh uint64, loginuid int32) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		fmt.Sscanf(line, "CapEff:\t%x", &eff)
		fmt.Sscanf(line, "CapPrm:\t%x", &prm)
		fmt.Sscanf(line, "CapInh:\t%x", &inh)
	}
	b, err = os.ReadFile("/proc/self/loginuid")
	if err != nil {
		t.Fatal(err)
	}
	var v uint32
	if _, err := fmt.Sscanf(string(b), "%d", &v); err != nil {
		t.Fatal(err)
	}
	return eff, prm, inh, int32(v)
}

func TestNetworkFlows(t *testing.T) {
	stop := capturing(t)
	type run struct {
		network        string
		pid            int64
		client, server netip.AddrPort
	}
	var runs []run
	for _, network := range []string{"tcp4", "tcp6", "udp4", "udp6"} {
		pid, out := bpftest.Run(t, "net", network)
		f := strings.Fields(out)
		runs = append(runs, run{network, int64(pid), netip.MustParseAddrPort(f[0]), netip.MustParseAddrPort(f[1])})
	}
	recs := stop()
	const (
		connect  = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT)
		accept   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT)
		read     = int32(sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV)
		write    = int32(sysflowv1.OperationFlag_OPERATION_FLAG_WRITE_SEND)
		close    = int32(sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE)
		bind     = int32(sysflowv1.OperationFlag_OPERATION_FLAG_BIND)
		listen   = int32(sysflowv1.OperationFlag_OPERATION_FLAG_LISTEN)
		shutdown = int32(sysflowv1.OperationFlag_OPERATION_FLAG_SHUTDOWN)
	)
	for _, r := range runs {
		t.Run(r.network, func(t *testing.T) {
			var flows []*sysflowv1.NetworkFlow
			for _, rec := range recs {
				if f := rec.GetNetworkFlow(); f != nil && f.GetProcOid().GetHpid() == r.pid {
					flows = append(flows, f)
				}
			}
			proto := int32(6)
			if r.network[:3] == "udp" {
				proto = 17
			}
			// Flows name the side that started the exchange as the source: the client.
			ends := func(f *sysflowv1.NetworkFlow) (netip.AddrPort, netip.AddrPort) {
				if len(f.GetSip6()) == 16 {
					return netip.AddrPortFrom(netip.AddrFrom16([16]byte(f.GetSip6())), uint16(f.GetSport())),
						netip.AddrPortFrom(netip.AddrFrom16([16]byte(f.GetDip6())), uint16(f.GetDport()))
				}
				return netip.AddrPortFrom(flow.IPv4(f.GetSip()), uint16(f.GetSport())),
					netip.AddrPortFrom(flow.IPv4(f.GetDip()), uint16(f.GetDport()))
			}
			var client, server, listener *sysflowv1.NetworkFlow
			for _, f := range flows {
				src, dst := ends(f)
				switch {
				case f.GetOpFlags()&listen != 0:
					listener = f
				case f.GetOpFlags()&connect != 0:
					client = f
					if src != r.client || dst != r.server {
						t.Errorf("client flow %v -> %v, want %v -> %v", src, dst, r.client, r.server)
					}
				case src == r.server || dst == r.server || src == r.client:
					server = f
				}
			}
			if client == nil || server == nil {
				t.Fatalf("flows of pid %d: %v; want a client and a server flow", r.pid, flows)
			}
			if client.GetProto() != proto || server.GetProto() != proto {
				t.Errorf("protocols %d and %d, want %d", client.GetProto(), server.GetProto(), proto)
			}
			wantClient := connect | read | write | close
			if proto == 6 {
				wantClient |= shutdown // the TCP client shuts its side down after sending
			}
			if client.GetOpFlags() != wantClient || client.GetNumWSendBytes() != 1234 || client.GetNumRRecvBytes() != 567 {
				t.Errorf("client flow %v: want ops %d, 1234 bytes sent, 567 received", client, wantClient)
			}
			// A TCP server's listening socket has a flow of its own, bound to the server's
			// address (Go listens with MPTCP where it can, which is TCP on the wire); a UDP
			// server's socket is bound, and its flow with the client keeps the bind.
			wantServer := read | write | close
			if proto == 6 {
				wantServer |= accept
				if listener == nil {
					t.Fatalf("no flow of the listening socket among %v", flows)
				}
				src, dst := ends(listener)
				if listener.GetOpFlags() != bind|listen|close || src != r.server || dst.Port() != 0 || listener.GetProto() != 6 {
					t.Errorf("listening flow %v -> %v %v: want BIND|LISTEN|CLOSE from %v, TCP", src, dst, listener, r.server)
				}
			} else {
				wantServer |= bind
			}
			if server.GetOpFlags() != wantServer || server.GetNumRRecvBytes() != 1234 || server.GetNumWSendBytes() != 567 {
				t.Errorf("server flow %v: want ops %d, 1234 bytes received, 567 sent", server, wantServer)
			}
			if src, dst := ends(server); !(src == r.client && dst == r.server) && !(src == r.server && dst == r.client) {
				t.Errorf("server flow %v -> %v, want between %v and %v", src, dst, r.client, r.server)
			}
		})
	}
}

// netEnds returns a network flow's source and destination.
func netEnds(f *sysflowv1.NetworkFlow) (netip.AddrPort, netip.AddrPort) {
	if len(f.GetSip6()) == 16 {
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(f.GetSip6())), uint16(f.GetSport())),
			netip.AddrPortFrom(netip.AddrFrom16([16]byte(f.GetDip6())), uint16(f.GetDport()))
	}
	return netip.AddrPortFrom(flow.IPv4(f.GetSip()), uint16(f.GetSport())),
		netip.AddrPortFrom(flow.IPv4(f.GetDip()), uint16(f.GetDport()))
}

// networkFlows returns the network flows of process pid among recs.
func networkFlows(recs []*sysflowv1.Record, pid uint32) []*sysflowv1.NetworkFlow {
	var flows []*sysflowv1.NetworkFlow
	for _, r := range recs {
		if f := r.GetNetworkFlow(); f != nil && f.GetProcOid().GetHpid() == int64(pid) {
			flows = append(flows, f)
		}
	}
	return flows
}

func TestTruncate(t *testing.T) {
	stop := capturing(t)
	path := filepath.Join(t.TempDir(), "f")
	p, _ := bpftest.Run(t, "truncate", path)
	const (
		open     = sysflowv1.OperationFlag_OPERATION_FLAG_OPEN
		write    = sysflowv1.OperationFlag_OPERATION_FLAG_WRITE_SEND
		truncate = sysflowv1.OperationFlag_OPERATION_FLAG_TRUNCATE
		close    = sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE
	)
	paths := map[string]string{}
	var flows []*sysflowv1.FileFlow
	var events []*sysflowv1.FileEvent
	for _, r := range stop() {
		switch x := r.GetRec().(type) {
		case *sysflowv1.Record_File:
			paths[string(x.File.GetOid())] = x.File.GetPath()
		case *sysflowv1.Record_FileFlow:
			if x.FileFlow.GetProcOid().GetHpid() == int64(p) && paths[string(x.FileFlow.GetFileOid())] == path {
				flows = append(flows, x.FileFlow)
			}
		case *sysflowv1.Record_FileEvent:
			if x.FileEvent.GetProcOid().GetHpid() == int64(p) {
				events = append(events, x.FileEvent)
			}
		}
	}
	if len(flows) != 1 || flows[0].GetOpFlags() != int32(open|write|truncate|close) || flows[0].GetNumWSendBytes() != 10 {
		t.Errorf("flows of %s: %v; want one OPEN|WRITE_SEND|TRUNCATE|CLOSE with 10 bytes written (ftruncate)", path, flows)
	}
	if len(events) != 1 || events[0].GetOpFlags() != int32(truncate) || paths[string(events[0].GetFileOid())] != path || events[0].GetRet() != 0 {
		t.Errorf("file events %v; want one TRUNCATE of %s (truncate)", events, path)
	}
}

func TestNamespaces(t *testing.T) {
	stop := capturing(t)
	p, _ := bpftest.Run(t, "ns", "")
	var got [][]string
	for _, r := range stop() {
		if e := r.GetProcessEvent(); e != nil && e.GetProcOid().GetHpid() == int64(p) &&
			e.GetOpFlags() == int32(sysflowv1.OperationFlag_OPERATION_FLAG_SETNS) {
			got = append(got, append(e.GetArgs(), fmt.Sprint(e.GetRet())))
		}
	}
	want := [][]string{{"unshare", "CLONE_NEWUTS", "0"}, {"setns", "CLONE_NEWUTS", "0"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SETNS events (args, ret) %v, want %v", got, want)
	}
}

// An unconnected UDP socket gets one flow per peer, each with that peer's exact counts.
func TestUDPPeers(t *testing.T) {
	stop := capturing(t)
	p, out := bpftest.Run(t, "udppeers", "")
	f := strings.Fields(out)
	server := netip.MustParseAddrPort(f[0])
	type counts struct {
		peer               netip.AddrPort
		recvOps, recvBytes int64
		sendOps, sendBytes int64
	}
	var got []counts
	for _, fl := range networkFlows(stop(), p) {
		src, dst := netEnds(fl)
		if src != server {
			continue // a client's
		}
		got = append(got, counts{dst, fl.GetNumRRecvOps(), fl.GetNumRRecvBytes(), fl.GetNumWSendOps(), fl.GetNumWSendBytes()})
	}
	var want []counts
	for i, c := range f[1:] {
		n := int64(i + 1)
		want = append(want, counts{netip.MustParseAddrPort(c), 1, 100 * n, 1, 10 * n})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server flows (peer, recv ops, bytes, send ops, bytes):\ngot  %v\nwant %v", got, want)
	}
}

func TestMmsg(t *testing.T) {
	stop := capturing(t)
	p, out := bpftest.Run(t, "mmsg", "")
	f := strings.Fields(out)
	client, server := netip.MustParseAddrPort(f[0]), netip.MustParseAddrPort(f[1])
	var sent, received bool
	for _, fl := range networkFlows(stop(), p) {
		src, dst := netEnds(fl)
		switch {
		case src == client && dst == server:
			sent = fl.GetNumWSendOps() == 2 && fl.GetNumWSendBytes() == 120
			if !sent {
				t.Errorf("client flow %v: want 2 sends, 120 bytes (one sendmmsg)", fl)
			}
		case src == server && dst == client:
			received = fl.GetNumRRecvOps() == 2 && fl.GetNumRRecvBytes() == 120
			if !received {
				t.Errorf("server flow %v: want 2 receives, 120 bytes (one recvmmsg)", fl)
			}
		}
	}
	if !sent || !received {
		t.Errorf("flows of pid %d: want the client's sendmmsg and the server's recvmmsg", p)
	}
}

// Linux names may be any bytes. A process whose file name and arguments are not UTF-8 is
// recorded through the agent's window like any other, with those bytes escaped (\xNN), and the
// capture goes on: before, such a name stopped the agent.
func TestNamesNotUTF8(t *testing.T) {
	bpftest.Require(t)
	a := agent.New(agent.Config{Window: spool.Config{NodeID: "n", AgentID: "a", MaxRecords: 1 << 16, MaxBytes: 64 << 20, Overflow: spool.DropOldest}})
	src := capture.New(capture.Config{FlowInterval: time.Second, IdleTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, src) }()
	select {
	case <-src.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("capture: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("capture did not start within 30s")
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "ev\xffil")
	if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/cat", name)
	cmd.Args = []string{"c\xfeat", name}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cat: %v: %s", err, out)
	}
	time.Sleep(2500 * time.Millisecond) // past the idle timeout, so the flows are reported
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("agent: %v", err)
	}
	recs, _, _ := a.Window().Read(0, 1<<16, nil)
	wantPath := filepath.Join(dir, `ev\xffil`)
	var file, proc bool
	for _, raw := range recs {
		var r sysflowv1.Record
		if err := proto.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if r.GetFile().GetPath() == wantPath {
			file = true
		}
		if p := r.GetProcess(); p.GetOid().GetHpid() == int64(cmd.Process.Pid) && strings.Contains(p.GetExeArgs(), wantPath) {
			proc = true
		}
	}
	if !file || !proc {
		t.Errorf("File entity with path %q: %v; Process of pid %d with it in its arguments: %v", wantPath, file, cmd.Process.Pid, proc)
	}
}
