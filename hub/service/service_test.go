package service_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/hubtest"
)

const trace = "../../../shared/fixtures/sysflow/traces/sfprocessor_tcp.sf"

// startHub serves a hub reading one agent that replays trace, and returns the hub's and the
// agent's addresses and the trace's records.
func startHub(t *testing.T) (hubAddr, agentAddr string, want []*sysflowv1.Record) {
	t.Helper()
	want, err := sfavro.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	a := hubtest.StartAgent(t, agent.Config{Window: spool.Config{AgentID: "a1", NodeID: "n1"}},
		replay.File{Path: filepath.Clean(trace)})
	hubAddr, _ = hubtest.StartHub(t, hub.Config{Agents: []string{a.Addr}})
	return hubAddr, a.Addr, want
}

// connectStream calls Subscribe with the Connect protocol over plain HTTP/1.1 and returns the
// messages of the response stream, as the codec named by codec ("proto" or "json") sent them.
func connectStream(t *testing.T, url, codec string, req []byte, messages int) [][]byte {
	t.Helper()
	var body bytes.Buffer
	var prefix [5]byte
	binary.BigEndian.PutUint32(prefix[1:], uint32(len(req)))
	body.Write(prefix[:])
	body.Write(req)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &body)
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Type", "application/connect+"+codec)
	hreq.Header.Set("Connect-Protocol-Version", "1")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b)
	}
	if resp.ProtoMajor != 1 {
		t.Fatalf("POST %s: protocol %s, want HTTP/1.1", url, resp.Proto)
	}
	r := bufio.NewReader(resp.Body)
	var out [][]byte
	for len(out) < messages {
		if _, err := io.ReadFull(r, prefix[:]); err != nil {
			t.Fatalf("read envelope %d: %v", len(out), err)
		}
		msg := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
		if _, err := io.ReadFull(r, msg); err != nil {
			t.Fatalf("read message %d: %v", len(out), err)
		}
		if prefix[0]&2 != 0 { // end of stream
			t.Fatalf("stream ended early: %s", msg)
		}
		out = append(out, msg)
	}
	return out
}

func TestSubscribeOverConnect(t *testing.T) {
	hubAddr, _, want := startHub(t)
	url := "http://" + hubAddr + "/sysflux.hub.v1.HubService/Subscribe"
	for _, codec := range []string{"proto", "json"} {
		t.Run(codec, func(t *testing.T) {
			req := &hubv1.SubscribeRequest{FromOldest: true}
			var reqBytes []byte
			var err error
			if codec == "json" {
				reqBytes, err = protojson.Marshal(req)
			} else {
				reqBytes, err = proto.Marshal(req)
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []*sysflowv1.Record
			for len(got) < len(want) {
				// Batches hold many records: read one message at a time until all arrived.
				msgs := connectStream(t, url, codec, reqBytes, 1)
				var resp hubv1.SubscribeResponse
				if codec == "json" {
					err = protojson.Unmarshal(msgs[0], &resp)
				} else {
					err = proto.Unmarshal(msgs[0], &resp)
				}
				if err != nil {
					t.Fatalf("decode %s message: %v", codec, err)
				}
				got = resp.GetBatch().GetRecords()
				if len(got) < len(want) { // the hub may not have everything yet
					time.Sleep(50 * time.Millisecond)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			for i, r := range got {
				if r.GetAgentId() != "a1" || r.GetNodeId() != "n1" || r.GetSeq() != int64(i+1) {
					t.Fatalf("record %d: agent %q node %q seq %d; want a1 n1 %d", i, r.GetAgentId(), r.GetNodeId(), r.GetSeq(), i+1)
				}
				r.NodeId, r.AgentId, r.Epoch, r.Seq = "", "", 0, 0
				if !proto.Equal(r, want[i]) {
					t.Fatalf("record %d:\ngot  %v\nwant %v", i, r, want[i])
				}
			}
		})
	}
}

func TestSubscribeConnectErrors(t *testing.T) {
	hubAddr, _, _ := startHub(t)
	url := "http://" + hubAddr + "/sysflux.hub.v1.HubService/Subscribe"
	body := []byte(`{"recordTypes":["RECORD_TYPE_PROCESS"],"heartbeatInterval":"0.001s"}`)
	var framed bytes.Buffer
	var prefix [5]byte
	binary.BigEndian.PutUint32(prefix[1:], uint32(len(body)))
	framed.Write(prefix[:])
	framed.Write(body)
	req, _ := http.NewRequest(http.MethodPost, url, &framed)
	req.Header.Set("Content-Type", "application/connect+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// The error arrives as the end-of-stream message.
	if len(b) < 5 || b[0]&2 == 0 {
		t.Fatalf("want an end-of-stream message, got %q", b)
	}
	var end struct {
		Error struct {
			Code, Message string
		}
	}
	if err := json.Unmarshal(b[5:], &end); err != nil {
		t.Fatal(err)
	}
	if end.Error.Code != "invalid_argument" || !strings.Contains(end.Error.Message, "heartbeat_interval") {
		t.Errorf("error %+v, want invalid_argument naming heartbeat_interval", end.Error)
	}
}

// TestHealthAndReflection checks that grpcurl-style clients can list and check both servers.
func TestHealthAndReflection(t *testing.T) {
	hubAddr, agentAddr, _ := startHub(t)
	for _, tt := range []struct {
		name, addr, service string
	}{
		{"hub", hubAddr, "sysflux.hub.v1.HubService"},
		{"agent", agentAddr, "sysflux.agent.v1.AgentService"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := grpc.NewClient(tt.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: tt.service})
			if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health check of %s: %v, %v; want SERVING", tt.service, h.GetStatus(), err)
			}
			rs, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
				t.Fatal(err)
			}
			resp, err := rs.Recv()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range resp.GetListServicesResponse().GetService() {
				names = append(names, s.GetName())
			}
			if !strings.Contains(fmt.Sprint(names), tt.service) {
				t.Errorf("reflection lists %v, want it to include %s", names, tt.service)
			}
			if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: tt.service}}); err != nil {
				t.Fatal(err)
			}
			resp, err = rs.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
				t.Errorf("reflection has no file descriptor for %s: %v", tt.service, resp)
			}
		})
	}
}

// TestConnectGoClients subscribes with connect-go's generated client in each protocol the hub
// serves on its one port.
func TestConnectGoClients(t *testing.T) {
	hubAddr, _, want := startHub(t)
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	httpClient := &http.Client{Transport: &http.Transport{Protocols: h2c}}
	for _, tt := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect", nil},
		{"connect json", []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := hubv1connect.NewHubServiceClient(httpClient, "http://"+hubAddr, tt.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stream, err := c.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{FromOldest: true}))
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			n := 0
			for n < len(want) && stream.Receive() {
				for _, r := range stream.Msg().GetBatch().GetRecords() {
					n++
					if r.GetSeq() != int64(n) {
						t.Fatalf("record %d has seq %d", n, r.GetSeq())
					}
				}
			}
			if n != len(want) {
				t.Fatalf("got %d records, want %d: %v", n, len(want), stream.Err())
			}
			resp, err := c.ListAgents(ctx, connect.NewRequest(&hubv1.ListAgentsRequest{}))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Msg.GetAgents(); len(got) != 1 || got[0].GetAgentId() != "a1" {
				t.Errorf("ListAgents: %v, want agent a1", got)
			}
		})
	}
}

// TestSubscribeHeartbeat checks that an idle subscription gets heartbeats.
func TestSubscribeHeartbeat(t *testing.T) {
	hubAddr, _, _ := startHub(t)
	url := "http://" + hubAddr + "/sysflux.hub.v1.HubService/Subscribe"
	// The trace has no Kubernetes events: nothing matches, so only heartbeats come.
	req := []byte(`{"recordTypes":["RECORD_TYPE_K8S_EVENT"],"fromOldest":true,"heartbeatInterval":"0.1s"}`)
	start := time.Now()
	msgs := connectStream(t, url, "json", req, 2)
	for i, m := range msgs {
		var resp hubv1.SubscribeResponse
		if err := protojson.Unmarshal(m, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.GetHeartbeat().GetSendTime() == nil {
			t.Errorf("message %d = %v, want a heartbeat", i, &resp)
		}
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("two heartbeats 100ms apart arrived after %v", d)
	}
}
