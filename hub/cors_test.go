// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package hub_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/auth"
	"github.com/sysflux/sysflux/hub/hubtest"
)

// TestCORS checks that a page of an allowed origin may call the API from a browser (preflight
// and actual request, with a bearer token; browsers list the requested headers sorted, in lower
// case), and that other origins get no CORS headers.
func TestCORS(t *testing.T) {
	const allowed = "http://127.0.0.1:8080"
	tokens, err := auth.Parse("tokens.yaml", []byte("tokens:\n  - name: page\n    token: page-token-0123456789\n    scopes: [read]\n"))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := hubtest.StartHub(t, hub.Config{CORSOrigins: []string{allowed}, Tokens: tokens})
	url := "http://" + addr + "/sysflux.hub.v1.HubService/ListAgents"

	do := func(method, origin string, hdr map[string]string, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	pre := do(http.MethodOptions, allowed, map[string]string{
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization,connect-protocol-version,content-type,x-grpc-web",
	}, "")
	if got := pre.Header.Get("Access-Control-Allow-Origin"); got != allowed {
		t.Errorf("preflight Access-Control-Allow-Origin = %q, want %q", got, allowed)
	}
	if got := strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") || !strings.Contains(got, "x-grpc-web") {
		t.Errorf("preflight Access-Control-Allow-Headers = %q, want authorization and x-grpc-web", got)
	}

	call := do(http.MethodPost, allowed, map[string]string{
		"Content-Type": "application/json", "Connect-Protocol-Version": "1", "Authorization": "Bearer page-token-0123456789",
	}, "{}")
	if call.StatusCode != http.StatusOK {
		t.Errorf("Connect call from %s: %s", allowed, call.Status)
	}
	if got := call.Header.Get("Access-Control-Allow-Origin"); got != allowed {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, allowed)
	}
	if got := call.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(strings.ToLower(got), "grpc-status") {
		t.Errorf("Access-Control-Expose-Headers = %q, want grpc-status among them", got)
	}

	other := do(http.MethodOptions, "http://evil.example", map[string]string{"Access-Control-Request-Method": "POST"}, "")
	if got := other.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("an origin not allowed got Access-Control-Allow-Origin %q", got)
	}
}

func TestCheckCORSOrigin(t *testing.T) {
	for _, o := range []string{"*", "https://console.example.com", "http://127.0.0.1:8080"} {
		if err := hub.CheckCORSOrigin(o); err != nil {
			t.Errorf("CheckCORSOrigin(%q): %v", o, err)
		}
	}
	for _, o := range []string{"", "console.example.com", "https://console.example.com/app", "ftp://x", "https://u@x", "https://x?q"} {
		if err := hub.CheckCORSOrigin(o); err == nil {
			t.Errorf("CheckCORSOrigin(%q) accepted it", o)
		}
	}
}
