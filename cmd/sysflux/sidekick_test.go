package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// sidekick is a stand-in for Falcosidekick on loopback: it takes alerts as Falcosidekick's
// input does, and answers 400 to a request Falcosidekick would reject.
type sidekick struct {
	url string

	mu       sync.Mutex
	accepted []sidekickAlert
	rejected []string
	changed  chan struct{} // closed and replaced on every request
}

// sidekickAlert is an alert as Falcosidekick reads it (types.FalcoPayload).
type sidekickAlert struct {
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Time         string         `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Hostname     string         `json:"hostname"`
}

// falcoPriorities are the priorities Falcosidekick knows, lower case; it compares them so.
var falcoPriorities = []string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "info", "debug"}

// checkFalcoPayload returns the alert a request carries, or why Falcosidekick would answer 400:
// its main handler takes a POST whose body decodes as a FalcoPayload (time as RFC 3339) with a
// non-empty output, and FalcoPayload.Check wants a known priority, a rule, a time and output
// fields.
func checkFalcoPayload(method string, body []byte) (sidekickAlert, string) {
	var a sidekickAlert
	if method != http.MethodPost {
		return a, "method " + method + ", not POST"
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&a); err != nil {
		return a, fmt.Sprintf("body is not a JSON alert: %v", err)
	}
	var problems []string
	if !slices.Contains(falcoPriorities, strings.ToLower(a.Priority)) {
		problems = append(problems, fmt.Sprintf("priority %q is not a Falco priority", a.Priority))
	}
	if a.Rule == "" {
		problems = append(problems, "no rule")
	}
	if ts, err := time.Parse(time.RFC3339, a.Time); err != nil || ts.IsZero() {
		problems = append(problems, fmt.Sprintf("time %q is not a set RFC 3339 time", a.Time))
	}
	if len(a.OutputFields) == 0 {
		problems = append(problems, "no output_fields")
	}
	if a.Output == "" {
		problems = append(problems, "no output")
	}
	return a, strings.Join(problems, "; ")
}

// startSidekick serves on a loopback port until the test ends.
func startSidekick(t *testing.T) *sidekick {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sidekick{url: "http://" + ln.Addr().String() + "/", changed: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sidekick) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	a, problem := checkFalcoPayload(r.Method, body)
	if err != nil {
		problem = fmt.Sprintf("read body: %v", err)
	}
	s.mu.Lock()
	if problem != "" {
		s.rejected = append(s.rejected, fmt.Sprintf("%s in %.500s", problem, body))
	} else {
		s.accepted = append(s.accepted, a)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if problem != "" {
		http.Error(w, "Please send a valid request body", http.StatusBadRequest)
	}
}

// wait returns the first accepted alert for which match holds, waiting for it until ctx ends.
func (s *sidekick) wait(ctx context.Context, t *testing.T, what string, match func(sidekickAlert) bool) sidekickAlert {
	t.Helper()
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.accepted, match)
		var a sidekickAlert
		if i >= 0 {
			a = s.accepted[i]
		}
		changed, n := s.changed, len(s.accepted)
		s.mu.Unlock()
		if i >= 0 {
			return a
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no alert %s among the %d received: %s", what, n, s.summary())
		}
	}
}

// result returns the alerts accepted and the problems of the requests rejected.
func (s *sidekick) result() ([]sidekickAlert, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accepted), slices.Clone(s.rejected)
}

// summary counts the alerts accepted by host and rule.
func (s *sidekick) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]int{}
	for _, a := range s.accepted {
		counts[a.Hostname+": "+a.Rule]++
	}
	var parts []string
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// The checks answer 400 to what Falcosidekick rejects and take a sysflux alert.
func TestCheckFalcoPayload(t *testing.T) {
	good := `{"output":"12:00:00.000000000: Warning x","priority":"Warning","rule":"r","time":"2026-11-28T12:00:00.123456789Z","output_fields":{"proc.name":"cat","fd.name":null},"source":"syscall","tags":[],"hostname":"n"}`
	tests := []struct {
		name, method, body, problem string
	}{
		{"good", http.MethodPost, good, ""},
		{"get", http.MethodGet, good, "not POST"},
		{"not json", http.MethodPost, "{", "not a JSON alert"},
		{"bad priority", http.MethodPost, strings.Replace(good, `"Warning"`, `"Loud"`, 1), "not a Falco priority"},
		{"lower-case priority", http.MethodPost, strings.Replace(good, `"Warning"`, `"warning"`, 1), ""},
		{"no rule", http.MethodPost, strings.Replace(good, `"rule":"r"`, `"rule":""`, 1), "no rule"},
		{"no time", http.MethodPost, strings.Replace(good, `"time":"2026-11-28T12:00:00.123456789Z"`, `"time":""`, 1), "not a set RFC 3339 time"},
		{"zero time", http.MethodPost, strings.Replace(good, `2026-11-28T12:00:00.123456789Z`, `0001-01-01T00:00:00Z`, 1), "not a set RFC 3339 time"},
		{"not RFC 3339", http.MethodPost, strings.Replace(good, `2026-11-28T12:00:00.123456789Z`, `2026-11-28 12:00:00`, 1), "not a set RFC 3339 time"},
		{"no output fields", http.MethodPost, strings.Replace(good, `{"proc.name":"cat","fd.name":null}`, `{}`, 1), "no output_fields"},
		{"no output", http.MethodPost, strings.Replace(good, `"output":"12:00:00.000000000: Warning x"`, `"output":""`, 1), "no output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problem := checkFalcoPayload(tt.method, []byte(tt.body))
			if tt.problem == "" && problem != "" || tt.problem != "" && !strings.Contains(problem, tt.problem) {
				t.Errorf("checkFalcoPayload(%s, %s) = %q, want %q", tt.method, tt.body, problem, tt.problem)
			}
		})
	}
}
