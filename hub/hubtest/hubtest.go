// Package hubtest runs real agents and a real hub in the test's process, on loopback, for
// tests and benchmarks of anything that talks to them.
package hubtest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/spool"
	"github.com/sysflux/sysflux/hub"
)

// Agent is an agent served on loopback.
type Agent struct {
	// Addr is where the agent serves hubs.
	Addr string
	// Agent is the running agent.
	Agent *agent.Agent
	// Done is closed when the agent's sources are exhausted.
	Done <-chan struct{}
}

// StartAgent serves an agent with the given id and node on a loopback port and runs srcs
// into it. Everything stops when the test ends.
func StartAgent(tb testing.TB, cfg agent.Config, srcs ...agent.Source) *Agent {
	tb.Helper()
	return StartAgentAt(tb, "127.0.0.1:0", cfg, srcs...)
}

// StartAgentAt is StartAgent on the address addr.
func StartAgentAt(tb testing.TB, addr string, cfg agent.Config, srcs ...agent.Source) *Agent {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.Window.Epoch == 0 {
		cfg.Window.Epoch = time.Now().UnixNano()
	}
	if cfg.Window.Overflow != spool.DropOldest {
		cfg.Window.Overflow = spool.Block
	}
	a := agent.New(cfg)
	srv := agent.NewGRPCServer(a, nil)
	go srv.Serve(ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx, srcs...); err != nil {
			tb.Errorf("agent %s: %v", cfg.Window.AgentID, err)
		}
	}()
	tb.Cleanup(func() {
		cancel()
		srv.Stop()
		<-done
	})
	return &Agent{Addr: ln.Addr().String(), Agent: a, Done: done}
}

// StartHub serves a hub reading from the given agents on a loopback port and returns its
// address. The hub stops when the test ends.
func StartHub(tb testing.TB, cfg hub.Config) (string, *hub.Hub) {
	tb.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 20 * time.Millisecond
	}
	h, err := hub.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("hub: %v", err)
		}
	})
	return ln.Addr().String(), h
}
