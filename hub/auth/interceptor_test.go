package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/gen/sysflux/policy/v1/policyv1connect"
	"github.com/sysflux/sysflux/hub/auth"
)

// The tokens of the tests.
const (
	readToken  = "read-token-0123456789"
	adminToken = "admin-token-0123456789"
	slowToken  = "slow-token-0123456789"
	wrongToken = "wrong-token-0123456789"
)

const tokensFile = `
tokens:
  - name: reader
    sha256: READ
    scopes: [read]
  - name: operator
    token: ` + adminToken + `
    scopes: [admin]
  - name: slow
    sha256: SLOW
    scopes: [read]
    rate: 0.001
    burst: 2
`

// logBuffer is a slog destination safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server serves HubService and PolicyService handlers that answer Unimplemented behind the
// interceptor, and gRPC health, on a real HTTP/2 server on 127.0.0.1. A call the interceptor
// admits fails with Unimplemented.
func server(t *testing.T) (string, *http.Client, *logBuffer) {
	t.Helper()
	data := strings.NewReplacer("READ", hashOf(readToken), "SLOW", hashOf(slowToken)).Replace(tokensFile)
	tokens, err := auth.Parse("tokens.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	i := auth.NewInterceptor(tokens, slog.New(slog.NewJSONHandler(logs, nil)))
	mux := http.NewServeMux()
	mux.Handle(hubv1connect.NewHubServiceHandler(hubv1connect.UnimplementedHubServiceHandler{}, connect.WithInterceptors(i)))
	mux.Handle(policyv1connect.NewPolicyServiceHandler(policyv1connect.UnimplementedPolicyServiceHandler{}, connect.WithInterceptors(i)))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(hubv1connect.HubServiceName), connect.WithInterceptors(i)))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.Listener.Addr().String(), "127.0.0.1:") {
		t.Fatalf("test server on %s, want 127.0.0.1", srv.Listener.Addr())
	}
	return srv.URL, srv.Client(), logs
}

// protocols are the client protocols every case runs with.
var protocols = []struct {
	name string
	opt  connect.ClientOption
}{
	{"connect", nil},
	{"grpc", connect.WithGRPC()},
	{"grpc-web", connect.WithGRPCWeb()},
}

// withToken adds "authorization: Bearer token" to every call; "" sends none.
func withToken(token string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}), streamToken(token))
}

type streamToken string

func (s streamToken) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }
func (s streamToken) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if s != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(s))
		}
		return conn
	}
}
func (s streamToken) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TestScopes calls every RPC with no token, an unknown one, a read token and an admin token,
// over Connect, gRPC and gRPC-Web, and checks who gets through.
func TestScopes(t *testing.T) {
	url, client, logs := server(t)
	type call func(ctx context.Context, h hubv1connect.HubServiceClient, p policyv1connect.PolicyServiceClient) error
	subscribe := func(ctx context.Context, h hubv1connect.HubServiceClient, _ policyv1connect.PolicyServiceClient) error {
		s, err := h.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{}))
		if err != nil {
			return err
		}
		defer s.Close()
		for s.Receive() {
		}
		return s.Err()
	}
	export := func(ctx context.Context, h hubv1connect.HubServiceClient, _ policyv1connect.PolicyServiceClient) error {
		s, err := h.Export(ctx, connect.NewRequest(&hubv1.ExportRequest{}))
		if err != nil {
			return err
		}
		defer s.Close()
		for s.Receive() {
		}
		return s.Err()
	}
	rpcs := []struct {
		name  string
		admin bool
		call  call
	}{
		{"Subscribe", false, subscribe},
		{"Export", false, export},
		{"ListAgents", false, func(ctx context.Context, h hubv1connect.HubServiceClient, _ policyv1connect.PolicyServiceClient) error {
			_, err := h.ListAgents(ctx, connect.NewRequest(&hubv1.ListAgentsRequest{}))
			return err
		}},
		{"Query", false, func(ctx context.Context, h hubv1connect.HubServiceClient, _ policyv1connect.PolicyServiceClient) error {
			_, err := h.Query(ctx, connect.NewRequest(&hubv1.QueryRequest{}))
			return err
		}},
		{"GetProvenance", false, func(ctx context.Context, h hubv1connect.HubServiceClient, _ policyv1connect.PolicyServiceClient) error {
			_, err := h.GetProvenance(ctx, connect.NewRequest(&hubv1.GetProvenanceRequest{}))
			return err
		}},
		{"ValidateRules", false, func(ctx context.Context, _ hubv1connect.HubServiceClient, p policyv1connect.PolicyServiceClient) error {
			_, err := p.ValidateRules(ctx, connect.NewRequest(&policyv1.ValidateRulesRequest{}))
			return err
		}},
		{"ListRules", false, func(ctx context.Context, _ hubv1connect.HubServiceClient, p policyv1connect.PolicyServiceClient) error {
			_, err := p.ListRules(ctx, connect.NewRequest(&policyv1.ListRulesRequest{}))
			return err
		}},
		{"PutRules", true, func(ctx context.Context, _ hubv1connect.HubServiceClient, p policyv1connect.PolicyServiceClient) error {
			_, err := p.PutRules(ctx, connect.NewRequest(&policyv1.PutRulesRequest{}))
			return err
		}},
		{"DeleteRules", true, func(ctx context.Context, _ hubv1connect.HubServiceClient, p policyv1connect.PolicyServiceClient) error {
			_, err := p.DeleteRules(ctx, connect.NewRequest(&policyv1.DeleteRulesRequest{}))
			return err
		}},
	}
	tokens := []struct {
		name, token string
		want        func(admin bool) connect.Code
	}{
		{"no token", "", func(bool) connect.Code { return connect.CodeUnauthenticated }},
		{"unknown token", wrongToken, func(bool) connect.Code { return connect.CodeUnauthenticated }},
		{"read token", readToken, func(admin bool) connect.Code {
			if admin {
				return connect.CodePermissionDenied
			}
			return connect.CodeUnimplemented
		}},
		{"admin token", adminToken, func(bool) connect.Code { return connect.CodeUnimplemented }},
	}
	for _, proto := range protocols {
		for _, tk := range tokens {
			opts := []connect.ClientOption{withToken(tk.token)}
			if proto.opt != nil {
				opts = append(opts, proto.opt)
			}
			h := hubv1connect.NewHubServiceClient(client, url, opts...)
			p := policyv1connect.NewPolicyServiceClient(client, url, opts...)
			for _, rpc := range rpcs {
				t.Run(proto.name+"/"+tk.name+"/"+rpc.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					err := rpc.call(ctx, h, p)
					want := tk.want(rpc.admin)
					if got := connect.CodeOf(err); got != want {
						t.Fatalf("%s with %s over %s: %v, want code %v", rpc.name, tk.name, proto.name, err, want)
					}
					if tk.token != "" && strings.Contains(err.Error(), tk.token) {
						t.Errorf("the error %q shows the token", err)
					}
				})
			}
		}
	}
	out := logs.String()
	for _, secret := range []string{readToken, adminToken, wrongToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs show the token %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		`"reason":"no bearer token"`, `"reason":"unknown token"`, `"reason":"lacks scope admin"`,
		`"token":"reader"`, `"procedure":"/sysflux.policy.v1.PolicyService/PutRules"`,
		`"procedure":"/sysflux.hub.v1.HubService/Subscribe"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %s:\n%s", want, out)
		}
	}
}

// TestHealthOpen checks that health checks need no token, so that probes work.
func TestHealthOpen(t *testing.T) {
	url, client, _ := server(t)
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			opts := []connect.ClientOption{}
			if proto.opt != nil {
				opts = append(opts, proto.opt)
			}
			check := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](client, url+"/grpc.health.v1.Health/Check", opts...)
			resp, err := check.CallUnary(context.Background(), connect.NewRequest(&healthpb.HealthCheckRequest{}))
			if err != nil {
				t.Fatalf("health check without a token: %v", err)
			}
			if got := resp.Msg.GetStatus(); got != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health check: %v, want SERVING", got)
			}
		})
	}
}

// TestRateLimit checks that a token over its rate is refused with ResourceExhausted, and that
// it does not hold back other tokens.
func TestRateLimit(t *testing.T) {
	url, client, logs := server(t)
	slow := hubv1connect.NewHubServiceClient(client, url, withToken(slowToken))
	other := hubv1connect.NewHubServiceClient(client, url, withToken(readToken))
	ctx := context.Background()
	for i := range 2 { // the burst
		if _, err := slow.ListAgents(ctx, connect.NewRequest(&hubv1.ListAgentsRequest{})); connect.CodeOf(err) != connect.CodeUnimplemented {
			t.Fatalf("call %d within the burst: %v, want Unimplemented (admitted)", i+1, err)
		}
	}
	_, err := slow.ListAgents(ctx, connect.NewRequest(&hubv1.ListAgentsRequest{}))
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("call over the burst: %v, want ResourceExhausted", err)
	}
	s, err := slow.Subscribe(ctx, connect.NewRequest(&hubv1.SubscribeRequest{}))
	if err == nil {
		for s.Receive() {
		}
		err = s.Err()
	}
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("stream over the burst: %v, want ResourceExhausted", err)
	}
	if _, err := other.ListAgents(ctx, connect.NewRequest(&hubv1.ListAgentsRequest{})); connect.CodeOf(err) != connect.CodeUnimplemented {
		t.Fatalf("another token's call: %v, want Unimplemented (admitted)", err)
	}
	if out := logs.String(); !strings.Contains(out, `"reason":"rate limit"`) || !strings.Contains(out, `"token":"slow"`) {
		t.Errorf("the logs do not say the slow token was over its rate:\n%s", out)
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		procedure string
		want      auth.Scope
		needed    bool
	}{
		{hubv1connect.HubServiceSubscribeProcedure, auth.Read, true},
		{policyv1connect.PolicyServicePutRulesProcedure, auth.Admin, true},
		{"/sysflux.hub.v1.HubService/SomethingNew", auth.Admin, true},
		{"/grpc.health.v1.Health/Check", "", false},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "", false},
	}
	for _, tt := range tests {
		got, needed := auth.Required(tt.procedure)
		if got != tt.want || needed != tt.needed {
			t.Errorf("Required(%s) = %q, %v; want %q, %v", tt.procedure, got, needed, tt.want, tt.needed)
		}
	}
}

func TestBearerForms(t *testing.T) {
	url, client, _ := server(t)
	tests := []struct {
		header string
		want   connect.Code
	}{
		{"Bearer " + readToken, connect.CodeUnimplemented},
		{"bearer " + readToken, connect.CodeUnimplemented},
		{"Bearer  " + readToken + " ", connect.CodeUnimplemented},
		{"Basic " + readToken, connect.CodeUnauthenticated},
		{readToken, connect.CodeUnauthenticated},
		{"Bearer ", connect.CodeUnauthenticated},
		{"Bearer " + readToken + "x", connect.CodeUnauthenticated},
	}
	for _, tt := range tests {
		c := hubv1connect.NewHubServiceClient(client, url)
		req := connect.NewRequest(&hubv1.ListAgentsRequest{})
		req.Header().Set("Authorization", tt.header)
		_, err := c.ListAgents(context.Background(), req)
		if got := connect.CodeOf(err); got != tt.want {
			t.Errorf("Authorization %q: %v, want %v", tt.header, err, tt.want)
		}
		var ce *connect.Error
		if tt.want == connect.CodeUnauthenticated && errors.As(err, &ce) && ce.Meta().Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: no WWW-Authenticate in the refusal", tt.header)
		}
	}
}
