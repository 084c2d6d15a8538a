package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
	"github.com/sysflux/sysflux/policy/rules"
)

// worstCase returns records of several types whose values are as large as the cost estimate
// assumes (engine.CostValueBytes, engine.CostListLen), and the entities they reference: a
// process with 63 ancestors, long paths, arguments and container names.
func worstCase(valueBytes int) ([]*sysflowv1.Record, *entity.Table) {
	long := func(prefix string, n int) string {
		return prefix + strings.Repeat("x", max(n-len(prefix), 0))
	}
	// proc.cmdline is the name and the arguments: together within valueBytes.
	exe, args := long("/usr/bin/bash", valueBytes/4), long("-c begin private ", valueBytes/2)
	ents := []*sysflowv1.Record{container(long("c", 64), long("name", valueBytes))}
	for pid := int64(1); pid <= engine.CostListLen; pid++ {
		ents = append(ents, proc(pid, pid-1, exe, args, func(p *sysflowv1.Process) {
			cid := long("c", 64)
			p.ContainerId = &cid
			p.UserName = long("u", valueBytes)
		}))
	}
	ents = append(ents, fileEnt("f1", long("/etc/", valueBytes)), fileEnt("f2", long("/root/.ssh/", valueBytes)))
	const pid = engine.CostListLen
	recs := []*sysflowv1.Record{
		procEvent(pid, opExec, long("a", valueBytes/2)),
		fileFlow(pid, "f1", sysflowv1.OperationFlag_OPERATION_FLAG_OPEN|sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV, 0),
		fileEvent(pid, sysflowv1.OperationFlag_OPERATION_FLAG_RENAME, "f1", "f2"),
		netFlow(pid, sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT, "10.0.0.1:40000", "192.168.1.1:22"),
	}
	return recs, table(ents...)
}

// defaultRuleSet returns the compiled (not yet translated) rule set of the default rules.
func defaultRuleSet(t *testing.T) *rules.RuleSet {
	t.Helper()
	l := rules.NewLoader()
	for _, f := range defaults.Files() {
		if err := l.Load(f.Name, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// Every default rule compiles under a limit well below what the service allows filters, with
// its estimate; and the estimate bounds what evaluating it costs: with the limit set to its own
// estimate, no evaluation of it on records with the largest values the estimate assumes is
// stopped.
func TestCostEstimateBoundsEvaluation(t *testing.T) {
	rs := defaultRuleSet(t)
	set, err := engine.Compile(rs, engine.MaxCost(100_000))
	if err != nil {
		t.Fatal(err)
	}
	recs, ents := worstCase(engine.CostValueBytes)
	compiled := 0
	for _, r := range set.Rules() {
		if r.Status != engine.Compiled {
			continue
		}
		compiled++
		if r.Cost == 0 || r.Cost > 100_000 {
			t.Errorf("rule %q: estimated cost %d, want within (0, 100000]", r.Name, r.Cost)
		}
		one, err := engine.Compile(&rules.RuleSet{Rules: []rules.Rule{r.Rule}}, engine.MaxCost(r.Cost))
		if err != nil {
			t.Fatalf("rule %q with its own estimate %d as the limit: %v", r.Name, r.Cost, err)
		}
		ev := engine.NewEvaluator()
		for _, rec := range recs {
			ev.Eval(one, rec, ents, func(*engine.Rule) {})
		}
		if n := ev.Stopped(); n > 0 {
			t.Errorf("rule %q (estimate %d): %d evaluations stopped by the limit; the estimate is short", r.Name, r.Cost, n)
		}
	}
	if compiled < 20 {
		t.Fatalf("%d compiled default rules, want 20 or more", compiled)
	}
}

// The limit stops an evaluation that costs more than estimated, on values longer than the
// estimate assumes: the rule does not match, and the Evaluator counts it.
func TestCostLimitStopsEvaluation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		compile func(limit uint64) (*engine.Set, error)
	}{
		{"CEL", func(limit uint64) (*engine.Set, error) {
			return engine.CompileCEL("c", `proc.args.contains("begin private")`, engine.MaxCost(limit))
		}},
		{"Falco", func(limit uint64) (*engine.Set, error) {
			l := rules.NewLoader()
			if err := l.Load("r.yaml", ruleFile(`proc.args contains "begin private"`).Data); err != nil {
				return nil, err
			}
			rs, err := l.Compile()
			if err != nil {
				return nil, err
			}
			return engine.Compile(rs, engine.MaxCost(limit))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := tc.compile(10_000)
			if err != nil {
				t.Fatal(err)
			}
			estimate := set.Rules()[0].Cost
			if estimate == 0 || estimate > 10_000 {
				t.Fatalf("estimate %d, want within (0, 10000]", estimate)
			}
			if set, err = tc.compile(estimate); err != nil {
				t.Fatal(err)
			}
			ev := engine.NewEvaluator()
			for _, size := range []int{engine.CostValueBytes, 100 * engine.CostValueBytes} {
				recs, ents := worstCase(size)
				matched := false
				ev.Eval(set, recs[0], ents, func(*engine.Rule) { matched = true })
				switch {
				case size == engine.CostValueBytes && (!matched || ev.Stopped() != 0):
					t.Errorf("values of %d bytes: matched %v, %d stopped; want a match", size, matched, ev.Stopped())
				case size > engine.CostValueBytes && tc.name == "Falco" && (!matched || ev.Stopped() != 0):
					// Falco conditions are not tracked as they run: the match completes.
					t.Errorf("values of %d bytes: matched %v, %d stopped; want a match", size, matched, ev.Stopped())
				case size > engine.CostValueBytes && tc.name == "CEL" && (matched || ev.Stopped() != 1):
					t.Errorf("values of %d bytes: matched %v, %d stopped; want the evaluation stopped", size, matched, ev.Stopped())
				}
			}
		})
	}
}

// Expressions that may cost too much do not compile, with a *CostError that names the part
// that costs too much alone, if one does.
func TestCostRefused(t *testing.T) {
	const limit = 100_000
	long := func(s, sep string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = s
		}
		return strings.Join(parts, sep)
	}
	for _, tc := range []struct {
		name, cel string
		part      string // the part named, "" for none
	}{
		{"nested comprehensions", `proc.name == "sh" && proc.aname.exists(a, proc.aname.exists(b, proc.aname.exists(c, a + b + c == "x")))`,
			`proc.aname.exists(a, proc.aname.exists(b, proc.aname.exists(c, a + b + c == "x")))`},
		{"many searches", long(`proc.cmdline.contains("abcdefghijklmnop")`, " || ", 200), ""},
		{"globs in a comprehension", `proc.name == "sh" &&
	(fd.name == "/etc/passwd" || proc.aname.exists(a, glob(a, "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*")))`,
			`proc.aname.exists(a, glob(a, "*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*"))`},
		{"regular expressions", `evt.type == ["execve"] || ` + long(`proc.cmdline.matches("(a|b)*c+d?[e-z]{1,5}")`, " || ", 60), ""},
		{"unbounded", `proc.aname.map(a, proc.aname).map(l, l.map(x, x + x)).exists(l, l.exists(x, x.contains("a")))`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := engine.CompileCEL("c", tc.cel, engine.MaxCost(limit))
			var ce *engine.CostError
			if !errors.As(err, &ce) {
				t.Fatalf("CompileCEL: error %v, want a *CostError", err)
			}
			if ce.Cost <= limit || ce.Limit != limit {
				t.Errorf("cost %d, limit %d; want a cost over %d", ce.Cost, ce.Limit, limit)
			}
			if spread := tc.part == "" && tc.name != "unbounded"; ce.Spread != spread {
				t.Errorf("spread %v, want %v", ce.Spread, spread)
			}
			if tc.part != "" && ce.Part != tc.part {
				t.Errorf("part %q, want %q", ce.Part, tc.part)
			}
			if tc.part != "" {
				before := tc.cel[:strings.Index(tc.cel, tc.part)]
				line := strings.Count(before, "\n") + 1
				col := len(before) - strings.LastIndex(before, "\n")
				if ce.PartCost <= limit || ce.Line != line || ce.Column != col {
					t.Errorf("part at %d:%d costing %d, want at %d:%d costing over %d", ce.Line, ce.Column, ce.PartCost, line, col, limit)
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, "over the limit of 100,000") {
				t.Errorf("message %q does not give the limit", msg)
			}
			t.Log(msg)
		})
	}
}

// Conditions too large or too deep for CEL once their macros are expanded say so, without
// quoting all of their CEL.
func TestConditionTooLargeForCEL(t *testing.T) {
	var deep strings.Builder
	deep.WriteString("- macro: m0\n  condition: proc.name = a\n")
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&deep, "- macro: m%d\n  condition: (proc.name = x%d and (m%d or fd.name = y))\n", i, i, i-1)
	}
	for _, tt := range []struct {
		name, macros, cond, msg string
	}{
		{"deep", deep.String(), "m300", "nested too deeply for CEL once its macros and lists are expanded"},
		{"long", "- macro: m\n  condition: fd.name startswith /etc/ and proc.name in (a, b, c, d, e, f, g, h)\n",
			strings.TrimSuffix(strings.Repeat("m or ", 2000), " or "), "characters long in CEL once its macros and lists are expanded, over CEL's limit of 100000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := engine.Load(engine.File{Name: "m.yaml", Data: []byte(tt.macros)}, ruleFile(tt.cond))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Load: %v, want an error saying %q", err, tt.msg)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}
