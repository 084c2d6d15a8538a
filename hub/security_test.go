package hub_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/sfavro"
	"github.com/sysflux/sysflux/agent/spool"
	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/auth"
	"github.com/sysflux/sysflux/hub/hubtest"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/internal/mtls"
	"github.com/sysflux/sysflux/internal/mtls/mtlstest"
	"github.com/sysflux/sysflux/policy/engine"
)

// securityTrace is the trace the agents of these tests replay.
const securityTrace = "sfprocessor_shellshock.sf"

// readTrace returns the records of a fixture trace.
func readTrace(t *testing.T, name string) []*sysflowv1.Record {
	t.Helper()
	recs, err := sfavro.ReadFile(filepath.Join(traceDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// startTLSAgent serves an agent replaying the trace on 127.0.0.1 over TLS with the given server
// certificate, requiring client certificates of the PKI's CA, and serving only allowed hubs
// when given.
func startTLSAgent(t *testing.T, p *mtlstest.PKI, cert mtlstest.Pair, allowed ...string) string {
	t.Helper()
	cfg, err := mtls.ServerConfig(mtls.ServerFiles{Cert: cert.Cert, Key: cert.Key, ClientCA: p.CA})
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(agent.Config{Window: spool.Config{AgentID: "agent-tls", NodeID: "node-tls", Epoch: time.Now().UnixNano(), Overflow: spool.Block}})
	srv, err := agent.NewServer(a, agent.ServerConfig{TLS: cfg, AllowedHubs: allowed})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx, replay.Records{Label: "trace", Records: readTrace(t, securityTrace)})
	}()
	t.Cleanup(func() {
		cancel()
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// linkStatus waits until the hub's only agent is connected with want records, or has failed,
// and returns its status.
func linkStatus(t *testing.T, c *sysflux.Client, want int64) *hubv1.AgentStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		agents, err := c.ListAgents(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(agents) != 1 {
			t.Fatalf("ListAgents: %d agents, want 1", len(agents))
		}
		st := agents[0]
		if st.GetReceivedRecords() >= want || st.GetLastError() != "" || time.Now().After(deadline) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentLinkMTLS runs a real agent server over mutual TLS and a real hub that dials it, and
// checks that the hub reads the agent only when both sides present what the other trusts: the
// agent refuses hubs without a certificate of its CA, with an expired one, or (with allowed
// hubs) with one for another name; the hub refuses agents whose certificate is not of its CA
// or is not for the address it dialled.
func TestAgentLinkMTLS(t *testing.T) {
	p := mtlstest.New(t)
	want := int64(len(readTrace(t, securityTrace)))
	tests := []struct {
		name       string
		agentCert  mtlstest.Pair
		allowed    []string
		hubCA      string
		hubCert    *mtlstest.Pair
		ok         bool
		wantErrors []string // in the hub's last error for the agent, any of them
		// (a refused client certificate shows, by timing, as a TLS alert or a broken pipe)
	}{
		{name: "both certificates of the CA", agentCert: p.Server, hubCA: p.CA, hubCert: &p.Client, ok: true},
		{name: "hub allowed by name", agentCert: p.Server, allowed: []string{"other-hub", strings.ToUpper(mtlstest.ClientName)}, hubCA: p.CA, hubCert: &p.Client, ok: true},
		{name: "hub without a certificate", agentCert: p.Server, hubCA: p.CA, wantErrors: []string{"code = Unavailable"}},
		{name: "hub certificate of another CA", agentCert: p.Server, hubCA: p.CA, hubCert: &p.OtherClient, wantErrors: []string{"code = Unavailable"}},
		{name: "hub certificate expired", agentCert: p.Server, hubCA: p.CA, hubCert: &p.Expired, wantErrors: []string{"code = Unavailable"}},
		{name: "hub not allowed", agentCert: p.Server, allowed: []string{"hub-b.sysflux.test"}, hubCA: p.CA, hubCert: &p.Client, wantErrors: []string{"PermissionDenied"}},
		{name: "agent certificate for another name", agentCert: p.WrongName, hubCA: p.CA, hubCert: &p.Client, wantErrors: []string{"cannot validate certificate for 127.0.0.1"}},
		{name: "agent certificate of another CA", agentCert: p.OtherServer, hubCA: p.CA, hubCert: &p.Client, wantErrors: []string{"certificate signed by unknown authority"}},
		{name: "hub trusts another CA", agentCert: p.Server, hubCA: p.OtherCA, hubCert: &p.Client, wantErrors: []string{"certificate signed by unknown authority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startTLSAgent(t, p, tt.agentCert, tt.allowed...)
			agentTLS, err := mtls.ClientConfig(mtls.ClientFiles{CA: tt.hubCA})
			if err != nil {
				t.Fatal(err)
			}
			if tt.hubCert != nil { // mtls refuses to load an expired certificate: load it here
				agentTLS.Certificates = []tls.Certificate{tt.hubCert.TLS(t)}
			}
			hubAddr, h := hubtest.StartHub(t, hub.Config{Agents: []string{addr}, AgentTLS: agentTLS})
			c, err := sysflux.Dial(context.Background(), hubAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			st := linkStatus(t, c, want)
			if tt.ok {
				if st.GetReceivedRecords() != want || st.GetAgentId() != "agent-tls" {
					t.Fatalf("hub read %d records of agent %q, want %d of agent-tls (last error %q)", st.GetReceivedRecords(), st.GetAgentId(), want, st.GetLastError())
				}
				return
			}
			if st.GetLastError() == "" {
				t.Fatalf("the hub did not fail to read the agent: %v", st)
			}
			if n, _ := h.Ring().Stats(); st.GetConnected() || st.GetReceivedRecords() != 0 || n != 0 {
				t.Errorf("refused agent link: connected %v, %d records received, %d in the ring; want none", st.GetConnected(), st.GetReceivedRecords(), n)
			}
			found := false
			for _, w := range tt.wantErrors {
				found = found || strings.Contains(st.GetLastError(), w)
			}
			if !found {
				t.Errorf("the hub's error for the agent is %q, want one of %q", st.GetLastError(), tt.wantErrors)
			}
		})
	}
}

// TestAgentRefusesClients calls a real agent server that requires client certificates with
// grpc-go clients: without a certificate of its CA, or with an expired one, the handshake
// fails and calls end with Unavailable; with allowed hubs, a certificate of the CA for another
// name may check the agent's health but not read its records.
func TestAgentRefusesClients(t *testing.T) {
	p := mtlstest.New(t)
	addr := startTLSAgent(t, p, p.Server, "hub-b.sysflux.test")
	dial := func(cfg *tls.Config) *grpc.ClientConn {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	health := func(cc *grpc.ClientConn) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	for _, tt := range []struct {
		name string
		cert *mtlstest.Pair
	}{
		{"no certificate", nil},
		{"certificate of another CA", &p.OtherClient},
		{"expired certificate", &p.Expired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := health(dial(p.ClientTLS(t, tt.cert)))
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("health check: %v, want Unavailable (handshake refused)", err)
			}
		})
	}
	t.Run("certificate of the CA for a hub not allowed", func(t *testing.T) {
		cc := dial(p.ClientTLS(t, &p.Client))
		if err := health(cc); err != nil {
			t.Fatalf("health check: %v, want it served", err)
		}
		s, err := agentv1.NewAgentServiceClient(cc).StreamRecords(context.Background())
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("StreamRecords: %v, want PermissionDenied", err)
		}
		if strings.Contains(err.Error(), "node-tls") {
			t.Errorf("the refusal %q shows the agent's data", err)
		}
	})
}

// TestAgentServerConfig checks that allowed hubs without client certificates are refused.
func TestAgentServerConfig(t *testing.T) {
	p := mtlstest.New(t)
	noClientCA, err := mtls.ServerConfig(mtls.ServerFiles{Cert: p.Server.Cert, Key: p.Server.Key})
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(agent.Config{})
	for _, cfg := range []agent.ServerConfig{{AllowedHubs: []string{"hub"}}, {AllowedHubs: []string{"hub"}, TLS: noClientCA}} {
		if _, err := agent.NewServer(a, cfg); err == nil {
			t.Errorf("NewServer with allowed hubs and TLS %v: no error", cfg.TLS != nil)
		}
	}
}

// The tokens of TestHubAPI.
const (
	apiReadToken  = "api-read-token-0123456789"
	apiAdminToken = "api-admin-token-0123456789"
)

// TestHubAPI serves a real hub's API over TLS that requires client certificates and bearer
// tokens, reading a plaintext agent on loopback, and checks who gets what: clients without a
// certificate of the CA fail the handshake; a client with one needs a token; a read token can
// Subscribe, Query and list rules but not change them.
func TestHubAPI(t *testing.T) {
	p := mtlstest.New(t)
	recs := readTrace(t, securityTrace)
	ag := hubtest.StartAgent(t, agent.Config{Window: spool.Config{AgentID: "agent-a", NodeID: "node-a"}},
		replay.Records{Label: "trace", Records: readTrace(t, securityTrace)})
	serverTLS, err := mtls.ServerConfig(mtls.ServerFiles{Cert: p.Server.Cert, Key: p.Server.Key, ClientCA: p.CA})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(apiReadToken))
	tokensPath := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(tokensPath, []byte(`tokens:
  - name: dashboards
    sha256: `+hex.EncodeToString(sum[:])+`
    scopes: [read]
  - name: operator
    token: `+apiAdminToken+`
    scopes: [admin]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.LoadFile(tokensPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rules, err := engine.NewActive(engine.File{Name: "shell.yaml", Data: []byte(shellRule)})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := hubtest.StartHub(t, hub.Config{Agents: []string{ag.Addr}, TLS: serverTLS, Tokens: tokens, Store: st, Rules: rules})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dial := func(cert *mtlstest.Pair, token string) *grpc.ClientConn {
		opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(p.ClientTLS(t, cert)))}
		if token != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
		}
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	// leaks reports whether an error shows a token or record data.
	leaks := func(err error) bool {
		s := err.Error()
		return strings.Contains(s, apiReadToken) || strings.Contains(s, apiAdminToken) || strings.Contains(s, "node-a") || strings.Contains(s, "bash")
	}

	t.Run("handshake refused", func(t *testing.T) {
		for name, cert := range map[string]*mtlstest.Pair{"no certificate": nil, "another CA": &p.OtherClient, "expired": &p.Expired} {
			_, err := hubv1.NewHubServiceClient(dial(cert, apiReadToken)).ListAgents(ctx, &hubv1.ListAgentsRequest{})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("%s: ListAgents: %v, want Unavailable", name, err)
			}
		}
	})

	t.Run("read token", func(t *testing.T) {
		c, err := sysflux.Dial(ctx, addr, sysflux.WithTLS(p.ClientTLS(t, &p.Client)), sysflux.WithToken(apiReadToken))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sub := c.Subscribe(ctx, &hubv1.SubscribeRequest{FromOldest: true})
		n := 0
		for n < len(recs) && sub.Next() {
			n++
		}
		sub.Close()
		if n != len(recs) {
			t.Fatalf("Subscribe with the read token: %d records, want %d (%v)", n, len(recs), sub.Err())
		}
		hc := hubv1.NewHubServiceClient(dial(&p.Client, apiReadToken))
		var got int
		for deadline := time.Now().Add(20 * time.Second); got < len(recs) && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			resp, err := hc.Query(ctx, &hubv1.QueryRequest{PageSize: 10000})
			if err != nil {
				t.Fatalf("Query with the read token: %v", err)
			}
			got = len(resp.GetRecords())
		}
		if got != len(recs) {
			t.Fatalf("Query with the read token: %d records, want %d", got, len(recs))
		}
		pc := policyv1.NewPolicyServiceClient(dial(&p.Client, apiReadToken))
		if _, err := pc.ListRules(ctx, &policyv1.ListRulesRequest{}); err != nil {
			t.Fatalf("ListRules with the read token: %v", err)
		}
		_, err = pc.PutRules(ctx, &policyv1.PutRulesRequest{Files: []*policyv1.RulesFile{{Name: "shell.yaml", Content: shellRule}}})
		if status.Code(err) != codes.PermissionDenied || leaks(err) {
			t.Fatalf("PutRules with the read token: %v, want PermissionDenied showing no token", err)
		}
	})

	t.Run("admin token", func(t *testing.T) {
		pc := policyv1.NewPolicyServiceClient(dial(&p.Client, apiAdminToken))
		if _, err := pc.PutRules(ctx, &policyv1.PutRulesRequest{Files: []*policyv1.RulesFile{{Name: "shell.yaml", Content: shellRule}}}); err != nil {
			t.Fatalf("PutRules with the admin token: %v", err)
		}
		if _, err := hubv1.NewHubServiceClient(dial(&p.Client, apiAdminToken)).ListAgents(ctx, &hubv1.ListAgentsRequest{}); err != nil {
			t.Fatalf("ListAgents with the admin token: %v", err)
		}
	})

	t.Run("no token or a wrong one", func(t *testing.T) {
		for name, token := range map[string]string{"no token": "", "wrong token": "not-a-token-0123456789", "read token with a suffix": apiReadToken + "x"} {
			hc := hubv1.NewHubServiceClient(dial(&p.Client, token))
			s, err := hc.Subscribe(ctx, &hubv1.SubscribeRequest{FromOldest: true})
			if err == nil {
				_, err = s.Recv()
			}
			if status.Code(err) != codes.Unauthenticated || leaks(err) || (token != "" && strings.Contains(err.Error(), token)) {
				t.Errorf("%s: Subscribe: %v, want Unauthenticated showing no token or record", name, err)
			}
			_, err = hc.Query(ctx, &hubv1.QueryRequest{})
			if status.Code(err) != codes.Unauthenticated || leaks(err) {
				t.Errorf("%s: Query: %v, want Unauthenticated showing no token or record", name, err)
			}
		}
	})

	t.Run("health needs no token", func(t *testing.T) {
		if _, err := healthpb.NewHealthClient(dial(&p.Client, "")).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health check without a token: %v", err)
		}
	})
}

// bearer sends a bearer token with every call, over TLS only.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (b bearer) RequireTransportSecurity() bool { return true }
