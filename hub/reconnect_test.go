// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package hub_test

import (
	"net"
	"testing"
	"time"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/spool"
	"github.com/sysflux/sysflux/clients/go/sysflux"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
)

// TestAgentBackAfterLongAbsence checks that the hub reads an agent that was away within its own
// backoff bound. grpc-go keeps a backoff of its own between connection attempts, growing by 1.6
// from 1 s to 2 minutes by default: a hub that had waited ten minutes for an agent took more than
// a minute to read it once it came. The hub now sets grpc-go's delays to its own; waiting for
// the default to grow past the bound here would take minutes, so this checks the short case.
func TestAgentBackAfterLongAbsence(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the backoff to grow")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	hubAddr, _ := hubtest.StartHub(t, hub.Config{Agents: []string{addr}, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	c, err := sysflux.Dial(t.Context(), hubAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	connected := func() bool {
		st, err := c.ListAgents(t.Context())
		return err == nil && len(st) == 1 && st[0].GetConnected()
	}

	time.Sleep(5 * time.Second)
	hubtest.StartAgentAt(t, addr, agent.Config{Window: spool.Config{AgentID: "late", NodeID: "n"}})
	back := time.Now()
	for {
		if connected() {
			break
		}
		if time.Since(back) > 4*time.Second {
			t.Fatal("the hub did not read the agent within 4s of its return")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("read the agent %v after its return", time.Since(back).Round(time.Millisecond))
}
