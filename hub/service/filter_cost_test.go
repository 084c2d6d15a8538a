package service

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
)

// The condition of every rule of Falco's default rules, and the costliest of their macros
// together, pass as filters under the default limit: the limit is for filters no one would
// mean to write.
func TestFilterCostAdmitsDefaultRules(t *testing.T) {
	files := defaults.Files()
	var items []map[string]any
	if err := yaml.Unmarshal(files[0].Data, &items); err != nil {
		t.Fatal(err)
	}
	var conds []string
	for _, it := range items {
		if c, ok := it["condition"].(string); ok && it["rule"] != nil {
			conds = append(conds, c)
		}
	}
	if len(conds) < 20 {
		t.Fatalf("%d rules in the default rules, want 20 or more", len(conds))
	}
	conds = append(conds, "private_key_or_password or private_aws_credentials or outbound or protected_shell_spawner or "+
		"user_ssh_directory or directory_traversal or run_by_package_mgmt_binaries")
	compiled := 0
	for _, c := range conds {
		f, err := compileFilter(c, hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO, files, testLimits)
		if fe, ok := errors.AsType[*filterError](err); ok && fe.overCost {
			t.Errorf("filter %.80q: %v", c, err)
			continue
		}
		if err == nil {
			compiled++
			if cost := f.set.Rules()[0].Cost; cost == 0 || cost > DefaultMaxFilterCost {
				t.Errorf("filter %.80q: cost %d", c, cost)
			}
		}
	}
	if compiled < 20 {
		t.Errorf("%d default rules compile as filters, want 20 or more", compiled)
	}
}

// Filters that may cost too much to evaluate are refused when they compile, with the limit,
// their cost and, when one part of them costs too much alone, that part, at its position in a
// CEL filter.
func TestFilterCostRefused(t *testing.T) {
	files := defaults.Files()
	list := func(format string, n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = strings.ReplaceAll(format, "%d", strconv.Itoa(i))
		}
		return strings.Join(items, ", ")
	}
	repeat := func(format, sep string, n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = strings.ReplaceAll(format, "%d", strconv.Itoa(i))
		}
		return strings.Join(items, sep)
	}
	for _, tt := range []struct {
		name, text string
		lang       hubv1.FilterLanguage
		part       string // what the message names as the part costing too much alone
		spread     bool   // no part costs too much alone
		line, col  int32
	}{
		{
			name: "default macros and searches of every ancestor's command line",
			text: `spawned_process and (private_key_or_password or private_aws_credentials) and
  (proc.acmdline icontains "password" or proc.acmdline icontains "secret" or proc.acmdline glob "*--key=*")`,
			part: `ancestors(proc.acmdline).exists(x, glob(x, "*--key=*"))`,
		},
		{
			name:   "many searches, each cheap",
			text:   repeat(`proc.cmdline contains "a needle in a haystack, number %d"`, " or ", 230),
			spread: true,
		},
		{
			name: "a long list against every ancestor",
			text: "spawned_process and proc.aname in (" + list("tool%d", 5000) + ")",
			part: `ancestors(proc.aname).exists(x, x in [`,
		},
		{
			name: "a long list of substrings",
			text: "sf.proc.cmdline pmatch (" + list("secret-%d", 3000) + ")",
			part: "",
		},
		{
			name: "CEL comprehensions nested over the lineage",
			text: "proc.name == \"sh\" &&\n  proc.aname.exists(a, proc.aname.exists(b, proc.aname.exists(c, a + b + c == \"x\")))",
			lang: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL,
			part: "proc.aname.exists(a, proc.aname.exists(b, proc.aname.exists(c, a + b + c == \"x\")))",
			line: 2, col: 3,
		},
		{
			name: "CEL, unbounded",
			text: `proc.aname.map(a, proc.aname).map(l, l.map(x, x + x)).exists(l, l.exists(x, x.contains("a")))`,
			lang: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileFilter(tt.text, tt.lang, files, testLimits)
			fe, ok := errors.AsType[*filterError](err)
			if !ok || !fe.overCost || len(fe.errs) != 1 {
				t.Fatalf("compileFilter: %v, want the filter refused for its cost", err)
			}
			t.Log(err)
			x := fe.errs[0]
			if !strings.Contains(x.GetMessage(), "too costly") || !strings.Contains(x.GetMessage(), "over the limit of 250,000") {
				t.Errorf("message %q does not say the filter costs too much, and the limit", x.GetMessage())
			}
			if tt.part != "" && !strings.Contains(x.GetMessage(), "this part alone") || !strings.Contains(x.GetMessage(), tt.part) {
				t.Errorf("message %q does not name the part %q", x.GetMessage(), tt.part)
			}
			if tt.part == "" && strings.Contains(x.GetMessage(), "this part alone") {
				t.Errorf("message %q names a part", x.GetMessage())
			}
			if got := strings.Contains(x.GetMessage(), "all together"); got != tt.spread {
				t.Errorf("message %q: says the cost is spread over the parts: %v, want %v", x.GetMessage(), got, tt.spread)
			}
			if x.GetLine() != tt.line || x.GetColumn() != tt.col {
				t.Errorf("position %d:%d, want %d:%d", x.GetLine(), x.GetColumn(), tt.line, tt.col)
			}
		})
	}
}

// Filters are bounded in size, as written and once their macros are expanded; and in depth.
func TestFilterSize(t *testing.T) {
	files := defaults.Files()
	for _, tt := range []struct {
		name, text string
		lim        filterLimits
		msg        string
		line, col  int32
	}{
		{"text", "proc.name = " + strings.Repeat("a", 100), filterLimits{maxBytes: 100, maxCost: 1}, "112 bytes long, over the limit of 100", 0, 0},
		{"macros expanded", strings.TrimSuffix(strings.Repeat("open_read or ", 900), " or "), testLimits,
			"characters long in CEL once its macros and lists are expanded, over CEL's limit of 100000", 0, 0},
		{"nesting", strings.Repeat("(", 300) + "proc.name = a" + strings.Repeat(")", 300), testLimits, "exceeded max depth limit of 1000", 1, 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileFilter(tt.text, hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO, files, tt.lim)
			fe, ok := errors.AsType[*filterError](err)
			if !ok || len(fe.errs) == 0 {
				t.Fatalf("compileFilter: %v, want a *filterError", err)
			}
			x := fe.errs[0]
			if !strings.Contains(x.GetMessage(), tt.msg) || x.GetLine() != tt.line || x.GetColumn() != tt.col {
				t.Errorf("error %d:%d: %.300s; want %d:%d: ...%s...", x.GetLine(), x.GetColumn(), x.GetMessage(), tt.line, tt.col, tt.msg)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("error of %d bytes: %.200s...", len(err.Error()), err)
			}
		})
	}
}

// A filter's evaluations are stopped at the limit on records with values longer than the
// estimate assumes, and counted.
func TestFilterCostStopsEvaluation(t *testing.T) {
	// A CEL filter: Falco conditions are only estimated (see engine.MaxCost).
	f, err := compileFilter(`proc.exe.contains("needle")`, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, nil, filterLimits{maxBytes: 100, maxCost: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if c := f.set.Rules()[0].Cost; c > 1000 {
		t.Fatalf("cost %d over the limit", c)
	}
	for i, tt := range []struct {
		exe     string
		match   bool
		stopped int64
	}{
		{"/bin/needle", true, 0},
		{"/" + strings.Repeat("x", engine.CostValueBytes-100) + "/needle", true, 0},
		{"/" + strings.Repeat("x", 100*engine.CostValueBytes) + "/needle", false, 1},
	} {
		oid := &sysflowv1.OID{CreateTs: 1, Hpid: int64(i + 1)}
		f.observe(entry(t, &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: oid, Exe: tt.exe}}}))
		exec := entry(t, &sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{
			ProcOid: oid, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC)}}})
		if got := f.match(exec); got != tt.match || f.ev.Stopped() != tt.stopped {
			t.Errorf("exe of %d bytes: match %v, %d stopped; want %v, %d", len(tt.exe), got, f.ev.Stopped(), tt.match, tt.stopped)
		}
	}
}

// entry returns rec as the ring holds it.
func entry(t *testing.T, rec *sysflowv1.Record) *ring.Entry {
	t.Helper()
	raw, err := proto.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	flags, _ := sfavro.OpFlags(rec)
	return &ring.Entry{AgentID: "a", Type: sfavro.TypeOf(rec), OpFlags: flags, Raw: raw}
}
