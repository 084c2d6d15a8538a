package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysflux/sysflux/bpf"
	"github.com/sysflux/sysflux/bpf/bpftest"
	"github.com/sysflux/sysflux/clients/go/sysflux"
)

// TestAlertsToSidekick runs a hub with the default rules and --sidekick-url pointing at a
// loopback server that checks each POST as Falcosidekick's input does (sidekick_test.go), with
// two agents: one replaying the shellshock fixture trace and, as root with BTF, one capturing
// this node live while the test runs `sh -c 'cat /etc/shadow'`. Every alert posted must pass
// the checks; among them must be, from the trace, "Run shell untrusted" (the CGI program that
// apache2 runs starts bash -c 'cat /etc/passwd'), and from the live node "Read sensitive file
// untrusted" for cat's read of /etc/shadow.
//
// Without root or BTF the live agent does not run and the "live" subtest skips, or fails when
// SYSFLUX_REQUIRE_BPF=1.
func TestAlertsToSidekick(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sk := startSidekick(t)
	// Node ids tell the agents' alerts apart (an alert's hostname is its record's node) and
	// from those of another run.
	replayNode := fmt.Sprintf("e2e-replay-%d", os.Getpid())
	liveNode := fmt.Sprintf("e2e-live-%d", os.Getpid())

	replay := start(t, "replay agent", "agent", "--listen", "127.0.0.1:0", "--node", replayNode,
		"--replay", filepath.Join(traces, "sfprocessor_shellshock.sf"))
	agents := []string{replay.WaitAddr(t)}
	liveErr := bpf.Check()
	var live *proc
	if liveErr == nil {
		// Flows are reported at close; the short intervals only bound how long an open one waits.
		live = start(t, "live agent", "agent", "--listen", "127.0.0.1:0", "--node", liveNode,
			"--flow-interval", "1s", "--flow-idle", "2s")
		agents = append(agents, live.WaitAddr(t))
		waitLog(t, live, "capture started", 30*time.Second)
	}

	hubAddr := freeAddr(t)
	args := []string{"hub", "--listen", hubAddr, "--sidekick-url", sk.url}
	for _, a := range agents {
		args = append(args, "--agent", a)
	}
	hub := start(t, "hub", args...)
	hub.WaitAddr(t)
	waitAgents(ctx, t, hubAddr, len(agents))

	var ran time.Time
	if live != nil {
		// cat opens /etc/shadow read-only: the live agent reports a FileFlow with the OPEN flag
		// (evt.type openat), read-only open flags (evt.is_open_read), a regular file and a
		// descriptor (fd.typechar f, fd.num >= 0), and a sequence number (evt.num != 0); cat is
		// none of the programs the rule trusts.
		ran = time.Now()
		if out, err := exec.CommandContext(ctx, "sh", "-c", "cat /etc/shadow").CombinedOutput(); err != nil {
			t.Fatalf("sh -c 'cat /etc/shadow': %v\n%s", err, out)
		}
	}

	t.Run("replay", func(t *testing.T) {
		a := sk.wait(ctx, t, "Run shell untrusted from the replayed trace", func(a sidekickAlert) bool {
			return a.Hostname == replayNode && a.Rule == "Run shell untrusted"
		})
		t.Logf("%s: %s", a.Time, a.Output)
		if got, want := a.OutputFields["proc.cmdline"], "bash -c cat /etc/passwd"; got != want {
			t.Errorf("alert's proc.cmdline = %v, want %q", got, want)
		}
		if got, want := a.OutputFields["proc.pname"], "vulnerable"; got != want {
			t.Errorf("alert's proc.pname = %v, want %q (the CGI program)", got, want)
		}
	})
	t.Run("live", func(t *testing.T) {
		bpftest.Require(t)
		if live == nil {
			t.Fatalf("no live agent: %v", liveErr)
		}
		a := sk.wait(ctx, t, "Read sensitive file untrusted from the live node", func(a sidekickAlert) bool {
			return a.Hostname == liveNode && a.Rule == "Read sensitive file untrusted" &&
				a.OutputFields["fd.name"] == "/etc/shadow" && a.OutputFields["proc.name"] == "cat"
		})
		t.Logf("%s: %s", a.Time, a.Output)
		// The record's time is when cat opened the file (to the clock's resolution).
		if at, _ := time.Parse(time.RFC3339, a.Time); at.Before(ran.Add(-time.Second)) {
			t.Errorf("alert time %s is before the workload ran (%s)", a.Time, ran.Format(time.RFC3339Nano))
		}
		if got, want := a.OutputFields["proc.cmdline"], "cat /etc/shadow"; got != want {
			t.Errorf("alert's proc.cmdline = %v, want %q", got, want)
		}
		if !strings.Contains(a.Output, "Sensitive file opened for reading by non-trusted program") || a.Priority != "Warning" {
			t.Errorf("alert: priority %q, output %q", a.Priority, a.Output)
		}
	})

	// Stop the hub before reading what the server rejected, so that nothing posts meanwhile.
	hub.Kill()
	accepted, rejected := sk.result()
	t.Logf("Falcosidekick accepted %d alerts, rejected %d", len(accepted), len(rejected))
	for _, r := range rejected {
		t.Errorf("Falcosidekick would reject a POST (400): %s", r)
	}
}

// waitLog waits for text to appear in p's log.
func waitLog(t *testing.T, p *proc, text string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Log(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log within %v:\n%s", text, timeout, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAgents waits for the hub on addr to be connected to n agents.
func waitAgents(ctx context.Context, t *testing.T, addr string, n int) {
	t.Helper()
	c, err := sysflux.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		st, err := c.ListAgents(ctx)
		up := 0
		for _, a := range st {
			if a.GetConnected() {
				up++
			}
		}
		if err == nil && up == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("hub connected to %d of %d agents: %v (last error %v)", up, n, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
