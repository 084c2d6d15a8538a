package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
)

// allTraces are the fixture traces, replayed in this order.
var allTraces = []string{
	"sfcollector_client-server_tcp-client-server.sf", "sfcollector_files_files.sf",
	"sfcollector_rename_rename.sf", "sfcollector_setuid_setuid.sf",
	"sfprocessor_k8s_small.sf", "sfprocessor_shellshock.sf", "sfprocessor_tcp.sf",
}

// A hub SIGKILLed at random moments while an agent replays every fixture trace, and started again
// on the same store each time, ends up storing every record of the traces exactly once: what it
// acknowledged survived each kill, and what the agent sent again after it was not stored twice.
func TestStoreSurvivesHubKills(t *testing.T) {
	want := readTraces(t, allTraces...)
	args := []string{"agent", "--listen", "127.0.0.1:0", "--agent-id", "crash-agent", "--node", "crash-node",
		"--replay-rate", fmt.Sprint(len(want) / 3)} // about three seconds
	for _, n := range allTraces {
		args = append(args, "--replay", filepath.Join(traces, n))
	}
	ag := start(t, "agent", args...)
	agentAddr := ag.WaitAddr(t)

	data := t.TempDir()
	hubAddr := freeAddr(t)
	startHub := func() *proc {
		h := start(t, "hub", "hub", "--listen", hubAddr, "--agent", agentAddr, "--data", data)
		h.WaitAddr(t)
		return h
	}
	seed := time.Now().UnixNano()
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill moments seeded with %d", seed)
	c := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+hubAddr)
	hub := startHub()
	for i := range 6 {
		wait := time.Duration(50+rnd.IntN(550)) * time.Millisecond
		time.Sleep(wait)
		stored := storedSeq(c)
		hub.Kill()
		t.Logf("kill %d: SIGKILL after %v, with records up to seq %d acknowledged", i+1, wait, stored)
		hub = startHub()
		// What was acknowledged before the kill is still there.
		if got := storedSeq(c); got < stored {
			t.Fatalf("after kill %d the hub holds up to seq %d, had acknowledged %d", i+1, got, stored)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for storedSeq(c) < int64(len(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("the hub stored up to seq %d of %d\n%s", storedSeq(c), len(want), hub.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every record once, as the traces have it.
	got := make([]*sysflowv1.Record, len(want))
	n := 0
	req := &hubv1.QueryRequest{PageSize: 2000}
	for {
		resp, err := c.Query(context.Background(), connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Msg.GetRecords() {
			n++
			i := r.GetSeq() - 1
			if r.GetAgentId() != "crash-agent" || i < 0 || i >= int64(len(want)) {
				t.Fatalf("stored record %s/%d/%d is none of the traces'", r.GetAgentId(), r.GetEpoch(), r.GetSeq())
			}
			if got[i] != nil {
				t.Fatalf("record %d stored twice", r.GetSeq())
			}
			got[i] = r
		}
		if req.PageToken = resp.Msg.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if n != len(want) {
		t.Fatalf("Query returned %d records, want the traces' %d", n, len(want))
	}
	for i, w := range want {
		if !proto.Equal(payload(got[i]), w) {
			t.Fatalf("record %d: stored %v, want %v", i+1, payload(got[i]), w)
		}
	}
}

// storedSeq returns the last sequence number the hub holds of its one agent, 0 if none or if
// the hub does not answer.
func storedSeq(c hubv1connect.HubServiceClient) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.ListAgents(ctx, connect.NewRequest(&hubv1.ListAgentsRequest{}))
	if err != nil || len(resp.Msg.GetAgents()) != 1 {
		return 0
	}
	return resp.Msg.GetAgents()[0].GetLastPosition().GetSeq()
}
