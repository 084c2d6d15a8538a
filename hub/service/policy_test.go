package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/gen/sysflux/policy/v1/policyv1connect"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/rules"
)

// falcoRules is Falco's default rules file.
const falcoRules = "../../../shared/fixtures/falco-rules/falco_rules.yaml"

// customRules uses macros that falco_rules.yaml defines: it compiles only on top of it.
const customRules = `- rule: Shell in container (custom)
  desc: a shell started in a container
  condition: spawned_process and container and proc.name = bash
  output: "shell in container (%proc.name %container.id)"
  priority: WARNING
  tags: [custom]
`

// brokenRules has a condition that does not parse, on line 3, and a rule without a priority.
const brokenRules = `- rule: Unbalanced
  desc: a condition with an open parenthesis
  condition: evt.type = execve and (proc.name = bash
  output: "x %proc.name"
  priority: WARNING
- rule: No priority
  desc: a rule without priority
  condition: evt.type = execve
  output: "x %proc.name"
`

// unknownFieldRules parses but does not translate: it names a field that does not exist.
const unknownFieldRules = `- rule: Unknown field
  desc: a field no one defines
  condition: evt.type = execve and proc.nonexistent = 3
  output: "x %proc.name"
  priority: WARNING
`

func readFalcoRules(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(falcoRules)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logBuffer collects JSON logs, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// policyServer is a hub API serving PolicyService over files, on loopback.
type policyServer struct {
	addr   string
	active *engine.Active
	logs   *logBuffer
	client policyv1connect.PolicyServiceClient
}

// startPolicy serves the hub's API with files in force and returns it with a connect-go client.
func startPolicy(t *testing.T, files ...engine.File) *policyServer {
	t.Helper()
	active, err := engine.NewActive(files...)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	svc := service.New(service.Config{
		Ring:   ring.New(ring.Limits{MaxRecords: 16, MaxBytes: 1 << 20}),
		Policy: active,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	addr := serve(t, svc.Handler())
	return &policyServer{
		addr:   addr,
		active: active,
		logs:   logs,
		client: policyv1connect.NewPolicyServiceClient(h2cClient(), "http://"+addr),
	}
}

// serve serves h on a loopback port with HTTP/1.1 and cleartext HTTP/2, until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: protocols, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantReport is the report of the rules files compiled by the engine directly.
func wantReport(t *testing.T, files ...engine.File) *policyv1.RulesReport {
	t.Helper()
	s, err := engine.Load(files...)
	if err != nil {
		t.Fatal(err)
	}
	return service.PolicyReport(s)
}

// errorsText renders structured errors as "file:line:col kind name: message" lines.
func errorsText(errs []*policyv1.RulesError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "%s:%d:%d %s %q: %s\n", e.GetFile(), e.GetLine(), e.GetColumn(), e.GetKind(), e.GetName(), e.GetMessage())
	}
	return b.String()
}

func TestValidateRules(t *testing.T) {
	falco := engine.File{Name: "falco_rules.yaml", Data: readFalcoRules(t)}
	p := startPolicy(t, falco)
	file := func(name, content string) *policyv1.RulesFile {
		return &policyv1.RulesFile{Name: name, Content: content}
	}
	tests := []struct {
		name       string
		req        *policyv1.ValidateRulesRequest
		wantReport *policyv1.RulesReport // nil: want errors
		wantErrors []string              // substrings of errorsText, in order
	}{
		{
			name:       "falco rules",
			req:        &policyv1.ValidateRulesRequest{Files: []*policyv1.RulesFile{file("falco_rules.yaml", string(falco.Data))}},
			wantReport: wantReport(t, falco),
		},
		{
			name: "broken",
			req:  &policyv1.ValidateRulesRequest{Files: []*policyv1.RulesFile{file("broken.yaml", brokenRules)}},
			wantErrors: []string{
				`broken.yaml:6:3 rule "No priority": Item has no mapping for key 'priority'`,
				`broken.yaml:3:`, ` rule "Unbalanced": expected a ')' token`,
			},
		},
		{
			name:       "unknown field",
			req:        &policyv1.ValidateRulesRequest{Files: []*policyv1.RulesFile{file("unknown.yaml", unknownFieldRules)}},
			wantErrors: []string{`unknown.yaml:1:0 rule "Unknown field": `, `unknown field proc.nonexistent`},
		},
		{
			name:       "macros of the files in force, alone",
			req:        &policyv1.ValidateRulesRequest{Files: []*policyv1.RulesFile{file("custom.yaml", customRules)}},
			wantErrors: []string{`custom.yaml:3:14 rule "Shell in container (custom)": Undefined macro 'spawned_process'`},
		},
		{
			name: "macros of the files in force, over them",
			req: &policyv1.ValidateRulesRequest{Files: []*policyv1.RulesFile{file("custom.yaml", customRules)},
				IncludeActive: true},
			wantReport: wantReport(t, falco, engine.File{Name: "custom.yaml", Data: []byte(customRules)}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.client.ValidateRules(testContext(t), connect.NewRequest(tt.req))
			if err != nil {
				t.Fatalf("ValidateRules: %v", err)
			}
			got := errorsText(resp.Msg.GetErrors())
			if tt.wantReport != nil {
				if got != "" {
					t.Fatalf("ValidateRules: errors\n%s\nwant none", got)
				}
				if diff := cmp.Diff(tt.wantReport, resp.Msg.GetReport(), protocmp.Transform()); diff != "" {
					t.Errorf("ValidateRules report (-want +got):\n%s", diff)
				}
				return
			}
			if resp.Msg.GetReport() != nil {
				t.Errorf("ValidateRules of files in error returned a report: %v", resp.Msg.GetReport())
			}
			rest := got
			for _, w := range tt.wantErrors {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("ValidateRules errors:\n%s\nwant them to contain, in order, %q", got, tt.wantErrors)
				}
				rest = rest[i+len(w):]
			}
		})
	}
	if v := p.active.Version(); v != 1 {
		t.Errorf("ValidateRules changed the rules in force: version %d, want 1", v)
	}
	if strings.Contains(p.logs.String(), "rules changed") {
		t.Errorf("ValidateRules logged a change:\n%s", p.logs.String())
	}
}

func TestValidateRulesBadRequest(t *testing.T) {
	p := startPolicy(t)
	for _, tt := range []struct {
		name string
		req  *policyv1.ValidateRulesRequest
		want string
	}{
		{"empty name", &policyv1.ValidateRulesRequest{Files: []*policyv1.RulesFile{{Content: customRules}}}, "files[0]: empty name"},
		{"name twice", &policyv1.ValidateRulesRequest{Files: []*policyv1.RulesFile{{Name: "a"}, {Name: "a"}}}, `files[1]: name "a" given twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.client.ValidateRules(testContext(t), connect.NewRequest(tt.req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ValidateRules: %v; want InvalidArgument containing %q", err, tt.want)
			}
		})
	}
}

// rulesErrorsDetail returns the RulesErrors detail of a connect error.
func rulesErrorsDetail(t *testing.T, err error) *policyv1.RulesErrors {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v is not a connect error", err)
	}
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if derr != nil {
			t.Fatal(derr)
		}
		if re, ok := v.(*policyv1.RulesErrors); ok {
			return re
		}
	}
	t.Fatalf("error %v has no RulesErrors detail", err)
	return nil
}

func TestPutRules(t *testing.T) {
	falco := engine.File{Name: "falco_rules.yaml", Data: readFalcoRules(t)}
	p := startPolicy(t, falco)
	ctx := testContext(t)
	custom := engine.File{Name: "custom.yaml", Data: []byte(customRules)}

	// A good file goes after the files in force.
	resp, err := p.client.PutRules(ctx, connect.NewRequest(&policyv1.PutRulesRequest{
		Files: []*policyv1.RulesFile{{Name: custom.Name, Content: customRules}},
	}))
	if err != nil {
		t.Fatalf("PutRules(custom.yaml): %v", err)
	}
	if got := resp.Msg.GetVersion(); got != 2 {
		t.Errorf("PutRules(custom.yaml): version %d, want 2", got)
	}
	want := wantReport(t, falco, custom)
	if diff := cmp.Diff(want, resp.Msg.GetReport(), protocmp.Transform()); diff != "" {
		t.Errorf("PutRules(custom.yaml) report (-want +got):\n%s", diff)
	}
	if got := p.active.Set().Summary(); got != "26 rules: 22 compiled, 4 not applicable, 0 disabled" {
		t.Errorf("rules in force: %s", got)
	}

	// A broken file is rejected with every error, and nothing changes.
	before := p.active.Set()
	_, err = p.client.PutRules(ctx, connect.NewRequest(&policyv1.PutRulesRequest{
		Files: []*policyv1.RulesFile{{Name: "broken.yaml", Content: brokenRules}},
	}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("PutRules(broken.yaml): %v, want InvalidArgument", err)
	}
	got := errorsText(rulesErrorsDetail(t, err).GetErrors())
	for _, w := range []string{`broken.yaml:6:3 rule "No priority"`, `broken.yaml:3:`, `rule "Unbalanced": expected a ')' token`} {
		if !strings.Contains(got, w) {
			t.Errorf("PutRules(broken.yaml) errors:\n%s\nwant them to contain %q", got, w)
		}
	}
	if !strings.Contains(err.Error(), "broken.yaml:3:") {
		t.Errorf("PutRules(broken.yaml) message %q does not name the error's place", err.Error())
	}
	if v := p.active.Version(); v != 2 {
		t.Errorf("after a rejected put: version %d, want 2", v)
	}
	if p.active.Set() != before {
		t.Errorf("after a rejected put: the rules in force changed")
	}

	// Replacing all the files drops those not given; an empty replace_all put drops them all.
	resp, err = p.client.PutRules(ctx, connect.NewRequest(&policyv1.PutRulesRequest{
		Files:      []*policyv1.RulesFile{{Name: "unrelated.yaml", Content: strings.Replace(customRules, "spawned_process and container and ", "evt.type = execve and ", 1)}},
		ReplaceAll: true,
	}))
	if err != nil {
		t.Fatalf("PutRules(replace_all): %v", err)
	}
	if v, n := resp.Msg.GetVersion(), resp.Msg.GetReport().GetTotalCount(); v != 3 || n != 1 {
		t.Errorf("PutRules(replace_all): version %d with %d rules, want version 3 with 1 rule", v, n)
	}
	if _, err := p.client.PutRules(ctx, connect.NewRequest(&policyv1.PutRulesRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("PutRules with no files: %v, want InvalidArgument", err)
	}
	resp, err = p.client.PutRules(ctx, connect.NewRequest(&policyv1.PutRulesRequest{ReplaceAll: true}))
	if err != nil || resp.Msg.GetVersion() != 4 || resp.Msg.GetReport().GetTotalCount() != 0 {
		t.Errorf("PutRules(no files, replace_all): %v, %v; want version 4 with no rules", resp, err)
	}

	// Every change is logged with its version and who made it; the rejected one too.
	for _, w := range []map[string]any{
		{"msg": "rules changed", "op": "put", "files": []any{"custom.yaml"}, "replace_all": false, "from_version": 1.0, "version": 2.0,
			"in_force": []any{"falco_rules.yaml", "custom.yaml"}, "rules": "26 rules: 22 compiled, 4 not applicable, 0 disabled"},
		{"msg": "rules change rejected", "op": "put", "files": []any{"broken.yaml"}, "version": 2.0},
		{"msg": "rules changed", "from_version": 2.0, "version": 3.0, "replace_all": true},
		{"msg": "rules changed", "from_version": 3.0, "version": 4.0, "in_force": []any{}},
	} {
		e := findLog(t, p.logs.String(), w)
		if peer, _ := e["peer"].(string); !strings.HasPrefix(peer, "127.0.0.1:") {
			t.Errorf("log %v does not name the peer", e)
		}
	}
}

// findLog returns the JSON log entry that has the fields of want.
func findLog(t *testing.T, logs string, want map[string]any) map[string]any {
	t.Helper()
	for line := range strings.Lines(logs) {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		match := true
		for k, v := range want {
			if !cmp.Equal(e[k], v) {
				match = false
				break
			}
		}
		if match {
			return e
		}
	}
	t.Errorf("logs:\n%s\nwant an entry with %v", logs, want)
	return nil
}

// TestPutRulesGRPC puts rules with grpc-go, as the CLI does, and reads a rejection's errors
// from the gRPC status details.
func TestPutRulesGRPC(t *testing.T) {
	p := startPolicy(t, engine.File{Name: "falco_rules.yaml", Data: readFalcoRules(t)})
	cc, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := policyv1.NewPolicyServiceClient(cc)
	ctx := testContext(t)
	_, err = c.PutRules(ctx, &policyv1.PutRulesRequest{Files: []*policyv1.RulesFile{{Name: "unknown.yaml", Content: unknownFieldRules}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("PutRules(unknown.yaml): %v, want InvalidArgument", err)
	}
	var got []*policyv1.RulesError
	for _, d := range status.Convert(err).Details() {
		if re, ok := d.(*policyv1.RulesErrors); ok {
			got = append(got, re.GetErrors()...)
		}
	}
	want := []*policyv1.RulesError{{File: "unknown.yaml", Line: 1, Kind: "rule", Name: "Unknown field"}}
	if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&policyv1.RulesError{}, "message")); diff != "" {
		t.Errorf("PutRules(unknown.yaml) error details (-want +got):\n%s", diff)
	}
	resp, err := c.ListRules(ctx, &policyv1.ListRulesRequest{})
	if err != nil || resp.GetVersion() != 1 {
		t.Errorf("ListRules after a rejected put: %v, %v; want version 1", resp, err)
	}
}

func TestListRules(t *testing.T) {
	falco := engine.File{Name: "falco_rules.yaml", Data: readFalcoRules(t)}
	custom := engine.File{Name: "custom.yaml", Data: []byte(customRules)}
	p := startPolicy(t, falco, custom)
	ctx := testContext(t)
	digest := func(b []byte) string {
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	for _, content := range []bool{false, true} {
		t.Run(fmt.Sprintf("content=%v", content), func(t *testing.T) {
			resp, err := p.client.ListRules(ctx, connect.NewRequest(&policyv1.ListRulesRequest{IncludeContent: content}))
			if err != nil {
				t.Fatal(err)
			}
			want := &policyv1.ListRulesResponse{Version: 1, Report: wantReport(t, falco, custom)}
			for _, f := range []engine.File{falco, custom} {
				af := &policyv1.ActiveRulesFile{Name: f.Name, SizeBytes: int64(len(f.Data)), Sha256: digest(f.Data)}
				if content {
					af.Content = string(f.Data)
				}
				want.Files = append(want.Files, af)
			}
			if diff := cmp.Diff(want, resp.Msg, protocmp.Transform()); diff != "" {
				t.Errorf("ListRules (-want +got):\n%s", diff)
			}
		})
	}
	// Spot-check the report against what Falco's file says.
	resp, err := p.client.ListRules(ctx, connect.NewRequest(&policyv1.ListRulesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*policyv1.Rule{}
	for _, r := range resp.Msg.GetReport().GetRules() {
		byName[r.GetName()] = r
	}
	if r := byName["Shell in container (custom)"]; r.GetStatus() != policyv1.RuleStatus_RULE_STATUS_COMPILED ||
		r.GetPriority() != policyv1.Priority_PRIORITY_WARNING || r.GetFile() != "custom.yaml" || r.GetLine() != 1 ||
		r.GetCel() == "" || fmt.Sprint(r.GetTags()) != "[custom]" {
		t.Errorf("custom rule: %v", r)
	}
	if r := byName["Packet socket created in container"]; r.GetStatus() != policyv1.RuleStatus_RULE_STATUS_NOT_APPLICABLE ||
		!strings.Contains(r.GetReason(), "socket") || r.GetCel() != "" || r.GetFile() != "falco_rules.yaml" {
		t.Errorf("Packet socket created in container: %v", r)
	}
}

func TestDeleteRules(t *testing.T) {
	falco := engine.File{Name: "falco_rules.yaml", Data: readFalcoRules(t)}
	custom := engine.File{Name: "custom.yaml", Data: []byte(customRules)}
	p := startPolicy(t, falco, custom)
	ctx := testContext(t)

	// custom.yaml needs falco_rules.yaml's macros: deleting that is rejected.
	_, err := p.client.DeleteRules(ctx, connect.NewRequest(&policyv1.DeleteRulesRequest{Names: []string{"falco_rules.yaml"}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("DeleteRules(falco_rules.yaml): %v, want InvalidArgument", err)
	}
	if got := errorsText(rulesErrorsDetail(t, err).GetErrors()); !strings.Contains(got, `custom.yaml:3:14 rule "Shell in container (custom)": Undefined macro 'spawned_process'`) {
		t.Errorf("DeleteRules(falco_rules.yaml) errors:\n%s\nwant the undefined macro of custom.yaml", got)
	}

	for _, names := range [][]string{{"nosuch.yaml"}, {"custom.yaml", "nosuch.yaml"}} {
		_, err = p.client.DeleteRules(ctx, connect.NewRequest(&policyv1.DeleteRulesRequest{Names: names}))
		if connect.CodeOf(err) != connect.CodeNotFound || !strings.Contains(err.Error(), `"nosuch.yaml"`) {
			t.Errorf("DeleteRules(%q): %v, want NotFound naming nosuch.yaml", names, err)
		}
	}
	if _, err := p.client.DeleteRules(ctx, connect.NewRequest(&policyv1.DeleteRulesRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("DeleteRules(): %v, want InvalidArgument", err)
	}
	if v := p.active.Version(); v != 1 || len(p.active.Files()) != 2 {
		t.Fatalf("after failed deletes: version %d with %d files, want version 1 with 2", v, len(p.active.Files()))
	}

	resp, err := p.client.DeleteRules(ctx, connect.NewRequest(&policyv1.DeleteRulesRequest{Names: []string{"custom.yaml", "custom.yaml"}}))
	if err != nil {
		t.Fatalf("DeleteRules(custom.yaml): %v", err)
	}
	want := &policyv1.DeleteRulesResponse{Version: 2, Report: wantReport(t, falco)}
	if diff := cmp.Diff(want, resp.Msg, protocmp.Transform()); diff != "" {
		t.Errorf("DeleteRules(custom.yaml) (-want +got):\n%s", diff)
	}
	findLog(t, p.logs.String(), map[string]any{"msg": "rules change rejected", "op": "delete", "files": []any{"falco_rules.yaml"}, "version": 1.0})
	findLog(t, p.logs.String(), map[string]any{"msg": "rules changed", "op": "delete", "files": []any{"custom.yaml"},
		"from_version": 1.0, "version": 2.0, "in_force": []any{"falco_rules.yaml"}})
}

// TestPolicyServedOnlyWithRules checks health and reflection name PolicyService when the hub
// has rules, and that without rules the hub does not serve it.
func TestPolicyServedOnlyWithRules(t *testing.T) {
	with := startPolicy(t)
	without := serve(t, service.New(service.Config{Ring: ring.New(ring.Limits{MaxRecords: 16, MaxBytes: 1 << 20})}).Handler())
	for _, tt := range []struct {
		name string
		addr string
		want healthpb.HealthCheckResponse_ServingStatus
		code codes.Code
	}{
		{"with rules", with.addr, healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"without rules", without, healthpb.HealthCheckResponse_SERVICE_UNKNOWN, codes.Unimplemented},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := grpc.NewClient(tt.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			ctx := testContext(t)
			h, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: policyv1connect.PolicyServiceName})
			if got := h.GetStatus(); got != tt.want && status.Code(err) != codes.NotFound {
				t.Errorf("health of %s: %v, %v; want %v", policyv1connect.PolicyServiceName, got, err, tt.want)
			}
			_, err = policyv1.NewPolicyServiceClient(cc).ListRules(ctx, &policyv1.ListRulesRequest{})
			if got := status.Code(err); got != tt.code {
				t.Errorf("ListRules: %v, want %v", err, tt.code)
			}
			names := reflectedServices(t, cc)
			if got := strings.Contains(names, policyv1connect.PolicyServiceName); got != (tt.code == codes.OK) {
				t.Errorf("reflection lists %s; want PolicyService listed: %v", names, tt.code == codes.OK)
			}
		})
	}
}

// reflectedServices returns the services reflection lists, space separated.
func reflectedServices(t *testing.T, cc *grpc.ClientConn) string {
	t.Helper()
	rs, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(testContext(t))
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
	return strings.Join(names, " ")
}

// TestPriorities checks that the Priority enum lists Falco's priorities in the engine's order.
func TestPriorities(t *testing.T) {
	for p := rules.PriorityEmergency; p <= rules.PriorityDebug; p++ {
		src := fmt.Sprintf("- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: %s\n", p)
		s, err := engine.Load(engine.File{Name: "p.yaml", Data: []byte(src)})
		if err != nil {
			t.Fatal(err)
		}
		got := service.PolicyReport(s).GetRules()[0].GetPriority()
		if want := "PRIORITY_" + strings.ToUpper(p.String()); got.String() != want {
			t.Errorf("priority %s: %v, want %s", p, got, want)
		}
	}
}
