// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package clients_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
)

// testGo makes the live assertions with the Go client, clients/go/sysflux.
func testGo(t *testing.T, l *lab) {
	s := l.spec
	reader := dial(t, s.Hub, sysflux.WithToken(s.Tokens.Read))
	admin := dial(t, s.Hub, sysflux.WithToken(s.Tokens.Admin))

	t.Run("subscribe", func(t *testing.T) {
		sub := reader.Subscribe(t.Context(), &hubv1.SubscribeRequest{
			FromOldest: true, NodeIds: s.Subscribe.NodeIDs, RecordTypes: parseTypes(t, s.Subscribe.RecordTypes),
			Filter: s.Subscribe.Filter, FilterLanguage: hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO,
			HeartbeatInterval: durationpb.New(time.Second),
		})
		defer sub.Close()
		items := deliver(sub)
		var seqs []int64
		for len(seqs) < len(s.Subscribe.ExpectedSeqs) {
			select {
			case it, ok := <-items:
				if !ok {
					t.Fatalf("subscription ended after %d records: %v", len(seqs), sub.Err())
				}
				seqs = append(seqs, it.rec.GetSeq())
			case <-time.After(30 * time.Second):
				t.Fatalf("received %d of %d records in 30s", len(seqs), len(s.Subscribe.ExpectedSeqs))
			}
		}
		quiet(t, sub, items)
		if !slices.Equal(seqs, s.Subscribe.ExpectedSeqs) {
			t.Errorf("subscription delivered records %v\nwant %v", seqs, s.Subscribe.ExpectedSeqs)
		}
	})

	t.Run("query", func(t *testing.T) {
		q := s.Query
		req := &hubv1.QueryRequest{
			StartTime: timestamppb.New(q.StartTime), EndTime: timestamppb.New(q.EndTime),
			NodeIds: q.NodeIDs, RecordTypes: parseTypes(t, q.RecordTypes), PageSize: q.PageSize,
		}
		var seqs []int64
		pages, last := 0, int64(0)
		start, end := q.StartTime.UnixNano(), q.EndTime.UnixNano()
		for page, err := range reader.QueryPages(t.Context(), req) {
			if err != nil {
				t.Fatal(err)
			}
			pages++
			procs := map[[2]int64]bool{}
			for _, e := range page.GetEntities() {
				if p := e.GetProcess(); p != nil {
					procs[[2]int64{p.GetOid().GetCreateTs(), p.GetOid().GetHpid()}] = true
				}
			}
			for _, r := range page.GetRecords() {
				ts := sysflux.Time(r)
				if ts < start || ts >= end {
					t.Errorf("record %d at %d is outside [%d, %d)", r.GetSeq(), ts, start, end)
				}
				if ts < last {
					t.Errorf("record %d at %d comes after one at %d", r.GetSeq(), ts, last)
				}
				last = ts
				if oid := sysflux.ProcessOID(r); oid != nil && !procs[[2]int64{oid.GetCreateTs(), oid.GetHpid()}] {
					t.Errorf("page %d: the process of record %d is not among the page's entities", pages, r.GetSeq())
				}
				seqs = append(seqs, r.GetSeq())
			}
		}
		if pages < q.MinPages {
			t.Errorf("%d pages, want at least %d", pages, q.MinPages)
		}
		if !slices.Equal(seqs, q.ExpectedSeqs) {
			t.Errorf("query returned %d records, want %d: %v\nwant %v", len(seqs), len(q.ExpectedSeqs), seqs, q.ExpectedSeqs)
		}
	})

	t.Run("alerts and rules push", func(t *testing.T) {
		sub := reader.Subscribe(t.Context(), &hubv1.SubscribeRequest{
			Content: hubv1.SubscribeContent_SUBSCRIBE_CONTENT_ALERTS, HeartbeatInterval: durationpb.New(time.Second),
		})
		defer sub.Close()
		items := deliver(sub)
		waitHeartbeat(t, sub, items)

		r := l.replay(t)
		got := collectAlerts(t, sub, items, r.AgentID, s.Rules.BaseAlerts)
		if want := map[string]int{s.Rules.BaseRule: s.Rules.BaseAlerts}; !maps.Equal(got, want) {
			t.Errorf("alerts before the push: %v, want %v", got, want)
		}

		const name = "go-iptables.yaml"
		if _, err := reader.PushRules(t.Context(), s.Rules.PushPath, sysflux.RulesName(name)); !isCode(err, codes.PermissionDenied) ||
			!strings.Contains(err.Error(), "does not allow") {
			t.Errorf("push with a read token: %v, want PermissionDenied saying so", err)
		}
		before, err := admin.ListRules(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		put, err := admin.PushRules(t.Context(), s.Rules.PushPath, sysflux.RulesName(name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := admin.DeleteRules(ctx, name); err != nil {
				t.Errorf("delete pushed rules: %v", err)
			}
		})
		if put.GetVersion() <= before.GetVersion() {
			t.Errorf("version %d after the push, was %d", put.GetVersion(), before.GetVersion())
		}
		after, err := admin.ListRules(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(after.GetReport().GetRules(), func(r *policyv1.Rule) bool { return r.GetName() == s.Rules.PushRule }) {
			t.Errorf("rules in force after the push lack %q", s.Rules.PushRule)
		}

		r = l.replay(t)
		got = collectAlerts(t, sub, items, r.AgentID, s.Rules.BaseAlerts+s.Rules.PushAlerts)
		if want := map[string]int{s.Rules.BaseRule: s.Rules.BaseAlerts, s.Rules.PushRule: s.Rules.PushAlerts}; !maps.Equal(got, want) {
			t.Errorf("alerts after the push: %v, want %v", got, want)
		}

		_, err = admin.PushRules(t.Context(), s.Rules.BadPath)
		var e *sysflux.Error
		if !errors.As(err, &e) || e.Code != codes.InvalidArgument || len(e.Rules) == 0 {
			t.Fatalf("push of a broken file: %v, want InvalidArgument with the problems", err)
		}
		if p := e.Rules[0]; p.GetFile() != "broken.yaml" || p.GetLine() != s.Rules.BadLine || p.GetMessage() == "" {
			t.Errorf("problem %v, want broken.yaml line %d", p, s.Rules.BadLine)
		}
	})

	t.Run("examples", func(t *testing.T) {
		bin := t.TempDir()
		if out, err := exec.Command("go", "build", "-o", bin+"/", "./go/examples/...").CombinedOutput(); err != nil {
			t.Fatalf("build the examples: %v\n%s", err, out)
		}
		q := s.Query
		out, err := exec.Command(filepath.Join(bin, "queryrows"), "-hub", s.Hub, "-token", s.Tokens.Read,
			"-start", q.StartTime.Format(time.RFC3339Nano), "-end", q.EndTime.Format(time.RFC3339Nano),
			"-type", strings.Join(q.RecordTypes, ","), "-node", strings.Join(q.NodeIDs, ",")).Output()
		if err != nil {
			t.Fatalf("queryrows: %v\n%s", err, out)
		}
		rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(q.ExpectedSeqs)+1 || rows[0][0] != "time" {
			t.Errorf("queryrows wrote %d rows, want a header and %d", len(rows), len(q.ExpectedSeqs))
		}
		for _, r := range rows[1:] {
			if r[4] == "" {
				t.Errorf("queryrows: a row without its process: %v", r)
				break
			}
		}
		// alerts prints the alerts of the next replay; it cannot say when it has subscribed, so
		// the replay is asked for again should the first come too early for it.
		alerts := exec.Command(filepath.Join(bin, "alerts"), "-hub", s.Hub, "-token", s.Tokens.Read, "-count", strconv.Itoa(s.Rules.BaseAlerts))
		var printed bytes.Buffer
		alerts.Stdout, alerts.Stderr = &printed, &printed
		if err := alerts.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- alerts.Wait() }()
		time.Sleep(time.Second)
		done := false
		for i := 0; i < 3 && !done; i++ {
			l.replay(t)
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("alerts: %v\n%s", err, printed.String())
				}
				done = true
			case <-time.After(20 * time.Second):
			}
		}
		if !done {
			alerts.Process.Kill()
			<-exited
		}
		if lines := strings.Split(strings.TrimSpace(printed.String()), "\n"); len(lines) != s.Rules.BaseAlerts ||
			!strings.Contains(lines[0], "Warning Shell spawned") {
			t.Errorf("alerts printed:\n%s", printed.String())
		}

		hello := runHello(t, l, exec.Command(filepath.Join(bin, "hello")), len(l.oracle.execs("sh")))
		if !strings.HasPrefix(hello[0], "base pid=") || !strings.Contains(hello[0], "EXEC") {
			t.Errorf("hello printed %q", hello)
		}
		out, err = exec.Command(filepath.Join(bin, "tail"), "-hub", s.Hub, "-token", s.Tokens.Read, "-from-oldest",
			"-filter", s.Subscribe.Filter, "-type", "process_event", "-count", strconv.Itoa(len(s.Subscribe.ExpectedSeqs))).Output()
		if err != nil {
			t.Fatalf("tail: %v\n%s", err, out)
		}
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != len(s.Subscribe.ExpectedSeqs) ||
			!strings.Contains(lines[0], "process_event") || !strings.Contains(lines[0], "EXEC") {
			t.Errorf("tail printed:\n%s", out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		gone := dial(t, s.Unreachable, sysflux.WithToken(s.Tokens.Read), sysflux.WithConnectTimeout(time.Second))
		_, err := gone.ListAgents(t.Context())
		wantError(t, "unreachable hub", err, codes.Unavailable, "cannot be reached", s.Unreachable, "connection refused")
		for _, err := range gone.Query(t.Context(), &hubv1.QueryRequest{}) {
			wantError(t, "query of an unreachable hub", err, codes.Unavailable, "cannot be reached", s.Unreachable)
		}
		sub := gone.Subscribe(t.Context(), &hubv1.SubscribeRequest{})
		if sub.Next() {
			t.Error("a subscription to an unreachable hub delivered something")
		}
		wantError(t, "subscription to an unreachable hub", sub.Err(), codes.Unavailable, "cannot be reached", s.Unreachable)

		bad := s.BadFilter
		for _, err := range reader.Query(t.Context(), &hubv1.QueryRequest{Filter: bad.Filter}) {
			wantFilterError(t, "query", err, bad)
		}
		sub = reader.Subscribe(t.Context(), &hubv1.SubscribeRequest{Filter: bad.Filter})
		if sub.Next() {
			t.Error("a subscription with a bad filter delivered something")
		}
		wantFilterError(t, "subscribe", sub.Err(), bad)

		anon := dial(t, s.Hub)
		_, err = anon.ListAgents(t.Context())
		wantError(t, "no token", err, codes.Unauthenticated, "bearer token", s.Hub)
		sub = anon.Subscribe(t.Context(), &hubv1.SubscribeRequest{})
		if sub.Next() {
			t.Error("a subscription without a token delivered something")
		}
		wantError(t, "subscription without a token", sub.Err(), codes.Unauthenticated, "bearer token")
	})
}

func dial(t *testing.T, addr string, opts ...sysflux.Option) *sysflux.Client {
	t.Helper()
	c, err := sysflux.Dial(t.Context(), addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func parseTypes(t *testing.T, names []string) []sysflowv1.RecordType {
	t.Helper()
	var types []sysflowv1.RecordType
	for _, n := range names {
		rt, err := sysflux.ParseRecordType(n)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, rt)
	}
	return types
}

// item is what a subscription delivered: a record or an alert.
type item struct {
	rec   *sysflowv1.Record
	alert *hubv1.Alert
}

// deliver reads sub in a goroutine and hands over each item, unbuffered: the reader cannot
// take in a heartbeat while an item waits, so a heartbeat counted after the last item taken
// shows that nothing else came before it. The channel closes when the subscription ends.
func deliver(sub *sysflux.Subscription) <-chan item {
	items := make(chan item)
	go func() {
		defer close(items)
		for sub.Next() {
			items <- item{sub.Record(), sub.Alert()}
		}
	}()
	return items
}

// untilHeartbeat hands each item the subscription delivers to take, until the subscription
// has received more than after heartbeats; it fails the test if none comes within 15s.
func untilHeartbeat(t *testing.T, sub *sysflux.Subscription, items <-chan item, after int64, take func(item)) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for sub.Heartbeats() == after {
		select {
		case it, ok := <-items:
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			take(it)
		case <-deadline:
			t.Fatal("no heartbeat in 15s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// quiet fails the test if the subscription delivers anything before its next heartbeat.
func quiet(t *testing.T, sub *sysflux.Subscription, items <-chan item) {
	t.Helper()
	untilHeartbeat(t, sub, items, sub.Heartbeats(), func(it item) {
		t.Fatalf("unexpected item after the last expected one: record %v alert %v", it.rec, it.alert)
	})
}

// waitHeartbeat waits for the subscription's first heartbeat: the hub has registered it.
func waitHeartbeat(t *testing.T, sub *sysflux.Subscription, items <-chan item) {
	t.Helper()
	untilHeartbeat(t, sub, items, 0, func(it item) { t.Logf("before the first heartbeat: %v", it.alert) })
}

// collectAlerts counts by rule the alerts of agent until n of them arrived and then a
// heartbeat: the hub raised no more.
func collectAlerts(t *testing.T, sub *sysflux.Subscription, items <-chan item, agent string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	total := 0
	count := func(it item) {
		if it.alert != nil && it.alert.GetPosition().GetAgentId() == agent {
			got[it.alert.GetRule()]++
			total++
		}
	}
	deadline := time.After(60 * time.Second)
	for total < n {
		select {
		case it, ok := <-items:
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			count(it)
		case <-deadline:
			t.Fatalf("received %d of %d alerts in 60s: %v", total, n, got)
		}
	}
	untilHeartbeat(t, sub, items, sub.Heartbeats(), count)
	return got
}

func isCode(err error, code codes.Code) bool {
	var e *sysflux.Error
	return errors.As(err, &e) && e.Code == code
}

// wantError checks that err is an *sysflux.Error of code whose text holds each of subs.
func wantError(t *testing.T, what string, err error, code codes.Code, subs ...string) {
	t.Helper()
	var e *sysflux.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: %v, want a %v error", what, err, code)
		return
	}
	for _, sub := range subs {
		if !strings.Contains(err.Error(), sub) {
			t.Errorf("%s: %q does not say %q", what, err, sub)
		}
	}
	if strings.Contains(err.Error(), "rpc error") || strings.Contains(err.Error(), "transport:") {
		t.Errorf("%s: %q shows transport details", what, err)
	}
}

// wantFilterError checks that err carries the parser's message and position of the bad filter.
func wantFilterError(t *testing.T, what string, err error, bad SpecBadFilter) {
	t.Helper()
	var e *sysflux.Error
	if !errors.As(err, &e) || e.Code != codes.InvalidArgument {
		t.Errorf("%s with a bad filter: %v, want InvalidArgument", what, err)
		return
	}
	p := e.FilterError()
	if p == nil || p.GetLine() != bad.Line || p.GetColumn() != bad.Column || !strings.Contains(p.GetMessage(), bad.Message) {
		t.Errorf("%s with a bad filter: problem %v, want %d:%d %q", what, p, bad.Line, bad.Column, bad.Message)
	}
	if want := fmt.Sprintf("filter:%d:%d: %s", bad.Line, bad.Column, bad.Message); !strings.Contains(err.Error(), want) {
		t.Errorf("%s with a bad filter: %q does not say %q", what, err, want)
	}
}
