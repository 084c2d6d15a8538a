package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireNetAdmin skips t when this machine cannot make network namespaces and veth links (not
// root, no ip command, or the kernel refuses), or fails it when SYSFLUX_REQUIRE_BPF=1 says
// privileged tests must run (CI runs as root).
func requireNetAdmin(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("SYSFLUX_REQUIRE_BPF") == "1" {
		t.Fatalf("SYSFLUX_REQUIRE_BPF=1 but this test cannot run: %v", err)
	}
	t.Skipf("needs root and the ip command to make a network namespace and a veth link: %v", err)
}

// ipCmd runs ip with args.
func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// vethLink is a network namespace joined to this one by a veth pair on a private /30.
type vethLink struct {
	ns      string // the namespace's name
	hostDev string // the pair's end in this namespace
	nsDev   string // the pair's end in the namespace
	hostIP  string
	nsIP    string // the address of the end in the namespace
}

// nsPrefix starts the names of the namespaces these tests make; the test process's pid follows.
const nsPrefix = "sfx-fault-"

// removeStaleNamespaces removes the namespaces of test processes that ended without their
// cleanups (killed on a timeout); removing a namespace removes its veth pair.
func removeStaleNamespaces() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		var pid int
		if _, err := fmt.Sscanf(strings.TrimPrefix(name, nsPrefix), "%d-", &pid); err != nil || !strings.HasPrefix(name, nsPrefix) {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			exec.Command("ip", "netns", "del", name).Run()
		}
	}
}

// freeSubnet returns a /30 of 10.192.0.0/10 that no route or address of this host covers,
// but for a default route.
func freeSubnet() (string, error) {
	for range 20 {
		a, b := 192+rand.IntN(64), rand.IntN(256)
		c := 4 * rand.IntN(64)
		base := fmt.Sprintf("10.%d.%d.", a, b)
		routes, err := exec.Command("ip", "-4", "route", "show", "table", "all", "to", "match", fmt.Sprintf("%s%d/30", base, c)).Output()
		if err != nil {
			return "", fmt.Errorf("ip route: %w", err)
		}
		used := false
		for _, l := range strings.Split(strings.TrimSpace(string(routes)), "\n") {
			if l != "" && !strings.HasPrefix(l, "default") {
				used = true
			}
		}
		if !used {
			return fmt.Sprintf("%s%d", base, c), nil
		}
	}
	return "", fmt.Errorf("no free /30 found in 10.192.0.0/10")
}

// newVethLink makes a namespace and a veth pair between it and this namespace, both ends up,
// with names unique to this run; the test's cleanup removes them. It skips or fails t as
// requireNetAdmin says when that is not possible here.
func newVethLink(t *testing.T) *vethLink {
	t.Helper()
	if os.Geteuid() != 0 {
		requireNetAdmin(t, fmt.Errorf("not root (euid %d)", os.Geteuid()))
	}
	if _, err := exec.LookPath("ip"); err != nil {
		requireNetAdmin(t, err)
	}
	removeStaleNamespaces()
	net4, err := freeSubnet()
	if err != nil {
		requireNetAdmin(t, err)
	}
	var base string
	var last int
	fmt.Sscanf(net4[strings.LastIndex(net4, ".")+1:], "%d", &last)
	base = net4[:strings.LastIndex(net4, ".")+1]
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	l := &vethLink{
		ns:      fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), tag),
		hostDev: "sfx" + tag + "h",
		nsDev:   "sfx" + tag + "n",
		hostIP:  fmt.Sprintf("%s%d", base, last+1),
		nsIP:    fmt.Sprintf("%s%d", base, last+2),
	}
	t.Cleanup(func() {
		// Deleting one end deletes the pair, wherever the other end is.
		exec.Command("ip", "link", "del", l.hostDev).Run()
		if err := ipCmd("netns", "del", l.ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			t.Errorf("remove the test's namespace: %v", err)
		}
	})
	if err := ipCmd("netns", "add", l.ns); err != nil {
		requireNetAdmin(t, err)
	}
	for _, args := range [][]string{
		{"link", "add", l.hostDev, "type", "veth", "peer", "name", l.nsDev},
		{"link", "set", l.nsDev, "netns", l.ns},
		{"addr", "add", l.hostIP + "/30", "dev", l.hostDev},
		{"link", "set", l.hostDev, "up"},
		{"-n", l.ns, "addr", "add", l.nsIP + "/30", "dev", l.nsDev},
		{"-n", l.ns, "link", "set", l.nsDev, "up"},
		{"-n", l.ns, "link", "set", "lo", "up"},
	} {
		if err := ipCmd(args...); err != nil {
			requireNetAdmin(t, err)
		}
	}
	// ip netns exec needs a mount namespace of its own, which some containers refuse.
	if err := ipCmd("netns", "exec", l.ns, "true"); err != nil {
		requireNetAdmin(t, err)
	}
	t.Logf("namespace %s, link %s %s <-> %s", l.ns, l.hostDev, l.hostIP, l.nsIP)
	return l
}

// set brings the namespace's end of the link down or up. Down is a pulled cable: this end
// stays up without carrier and keeps its route, so what is sent to the namespace is lost
// rather than refused or routed elsewhere, and nothing comes back.
func (l *vethLink) set(t *testing.T, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if err := ipCmd("-n", l.ns, "link", "set", l.nsDev, state); err != nil {
		t.Fatal(err)
	}
}

// dial returns a DialContext that opens its connections from inside the namespace, whatever
// state the link is in: it moves a locked OS thread into the namespace for the socket's
// creation and moves it back.
func (l *vethLink) dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			// The thread goes back to the pool only if it is back in this namespace; otherwise
			// it ends with this goroutine.
			self, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: err}
				return
			}
			defer self.Close()
			target, err := os.Open(filepath.Join("/run/netns", l.ns))
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: err}
				return
			}
			defer target.Close()
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				ch <- result{err: fmt.Errorf("setns: %w", err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// TestFaultNetworkCut runs an agent in a network namespace, replaying k8s_small over about
// twenty seconds, and a hub outside that dials it over a veth link, and cuts the link (the
// agent's end down: packets are lost, nothing is refused) mid-replay until the hub declares
// the agent gone. While the link
// is cut, the hub's sysflux_hub_agent_connected goes to 0 (ListAgents agrees) and the agent's
// sysflux_agent_unacked_records grows; once the link is back the hub reconnects and its store
// holds every record of the trace once, each as the trace has it.
//
// It needs root for the namespace; without, it skips, or fails when SYSFLUX_REQUIRE_BPF=1.
func TestFaultNetworkCut(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test with processes")
	}
	requireMetricsFlag(t)
	l := newVethLink(t)
	const trace, id = "sfprocessor_k8s_small.sf", "netns-agent"
	want := readTraces(t, trace)

	// Non-loopback addresses may need TLS or an explicit opt-out.
	agentArgs := []string{"ip", "netns", "exec", l.ns, binary, "agent", "--listen", l.nsIP + ":0",
		"--agent-id", id, "--node", "netns-node", "--replay", filepath.Join(traces, trace),
		"--replay-rate", fmt.Sprint(len(want) / 20), "--metrics-listen", "127.0.0.1:0"}
	if hasFlag(t, "agent", "--insecure") {
		agentArgs = append(agentArgs, "--insecure")
	}
	ag := startArgv(t, "agent", agentArgs...)
	agentAddr := ag.WaitAddr(t)
	am := newScraper(metricsAddr(t, ag), l.dial()) // the agent's loopback, inside its namespace
	epoch := agentEpoch(t, ag)

	hubAddr := freeAddr(t)
	hubArgs := []string{"hub", "--listen", hubAddr, "--agent", agentAddr, "--data", t.TempDir(),
		"--no-default-rules", "--metrics-listen", "127.0.0.1:0"}
	if hasFlag(t, "hub", "--insecure") {
		hubArgs = append(hubArgs, "--insecure")
	}
	hub := start(t, "hub", hubArgs...)
	hub.WaitAddr(t)
	hm := newScraper(metricsAddr(t, hub), nil)
	c := hubClient(hubAddr)
	connected := func(m scraped) (float64, bool) {
		return m.get("sysflux_hub_agent_connected", "address", agentAddr, "agent", id)
	}

	// Cut once the hub has acknowledged some records.
	am.waitMetrics(t, "records acknowledged over the link", 30*time.Second, func(m scraped) bool {
		v, _ := m.get("sysflux_agent_acked_seq")
		return v >= 300
	})
	if v, _ := connected(hm.mustScrape(t)); v != 1 {
		t.Fatalf("the hub says its agent is %s while it acknowledges records", upDown(v))
	}
	l.set(t, false)
	cut := time.Now()
	before := am.mustScrape(t)
	unackedAtCut, ackedAtCut := before.value(t, "sysflux_agent_unacked_records"), before.value(t, "sysflux_agent_acked_seq")
	t.Logf("link cut with seq %v acknowledged, %v records not", ackedAtCut, unackedAtCut)

	// A cut link sends no reset: the hub learns of it when what it sends goes unacknowledged
	// for its keepalive timeout, or from its keepalive ping (after 10s without news, given up
	// 5s later).
	hm.waitMetrics(t, "the hub shows the agent disconnected during the cut", 30*time.Second, func(m scraped) bool {
		v, ok := connected(m)
		return ok && v == 0
	})
	t.Logf("the hub's agent_connected went to 0 %v after the cut", time.Since(cut).Round(100*time.Millisecond))
	if conn, _, _, ok := agentPosition(c, agentAddr); !ok || conn {
		t.Errorf("ListAgents says connected=%v (answered %v) while the link is cut", conn, ok)
	}
	during := am.mustScrape(t)
	unacked, acked := during.value(t, "sysflux_agent_unacked_records"), during.value(t, "sysflux_agent_acked_seq")
	t.Logf("during the cut: agent acked seq %v, %v records not acknowledged, its hub stream %s",
		acked, unacked, upDown(during.value(t, "sysflux_agent_hub_connected")))
	if acked != ackedAtCut || unacked <= unackedAtCut {
		t.Errorf("during the cut the agent's acked seq went %v -> %v and unacked records %v -> %v, want it unchanged and growing",
			ackedAtCut, acked, unackedAtCut, unacked)
	}
	if produced := during.sum("sysflux_agent_records_produced_total"); produced >= float64(len(want)) {
		t.Logf("the replay ended during the cut (%v records produced)", produced)
	}
	l.set(t, true)
	restored := time.Now()

	hm.waitMetrics(t, "the hub reconnects after the link is back", 20*time.Second, func(m scraped) bool {
		v, _ := connected(m)
		return v == 1
	})
	t.Logf("reconnected %v after the link came back", time.Since(restored).Round(100*time.Millisecond))
	waitStored(t, c, agentAddr, epoch, int64(len(want)), 40*time.Second)
	am.waitMetrics(t, "every record acknowledged", 10*time.Second, func(m scraped) bool {
		u, _ := m.get("sysflux_agent_unacked_records")
		return u == 0
	})
	checkStored(t, queryAll(t, c), epochRun{agentID: id, epoch: epoch, trace: want, minSeq: int64(len(want))})
	m := hm.mustScrape(t)
	t.Logf("hub: %v duplicates dropped, %v records received", m.value(t, "sysflux_hub_agent_duplicate_records_total", "address", agentAddr),
		m.value(t, "sysflux_hub_agent_received_records_total", "address", agentAddr))
}
