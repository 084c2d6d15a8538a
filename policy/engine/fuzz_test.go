package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
)

// FuzzCompile compiles a rule whose condition is any string, with the lists and macros of the
// default rules in scope, and checks that the engine either compiles it or returns an error,
// never panics; that a compiled rule evaluates on records of every type without panicking,
// with and without the rule index, and renders its alert; and that the index never keeps a
// rule from a record it matches. The seeds are the conditions of the rules and macros of the
// fixture rules files (Falco's and SysFlow's), and the corpus in testdata/fuzz/FuzzCompile.
func FuzzCompile(f *testing.F) {
	for _, c := range fixtureConditions(f) {
		f.Add(c)
	}
	in := fuzzInputs(f)
	f.Fuzz(func(t *testing.T, cond string) { checkCompile(t, in, cond) })
}

// checkCompile is FuzzCompile's check of one condition.
func checkCompile(t *testing.T, in fuzzInput, cond string) {
	rule, err := yaml.Marshal([]map[string]string{{
		"rule": "fuzzed", "desc": "a fuzzed condition", "condition": cond,
		"output": "fuzzed (proc=%proc.name file=%fd.name parent=%proc.aname[2] type=%evt.type)", "priority": "WARNING",
	}})
	if err != nil {
		t.Skip(err) // no YAML for it; nothing for the engine to load
	}
	set, err := engine.Load(in.macrosFor(cond), engine.File{Name: "fuzzed.yaml", Data: rule})
	if err != nil {
		if set != nil {
			t.Fatalf("Load(%q) returned a Set and the error %v", cond, err)
		}
		if err.Error() == "" {
			t.Fatalf("Load(%q) returned an empty error", cond)
		}
		return
	}
	if set == nil {
		t.Fatalf("Load(%q) returned neither a Set nor an error", cond)
	}
	i := slices.IndexFunc(set.Rules(), func(r *engine.Rule) bool { return r.Name == "fuzzed" })
	if i < 0 {
		t.Fatalf("Load(%q): no rule %q in %s", cond, "fuzzed", set.Summary())
	}
	r := set.Rules()[i]
	switch r.Status {
	case engine.Compiled:
		if r.CEL == "" {
			t.Fatalf("Load(%q): compiled rule without CEL", cond)
		}
	case engine.NotApplicable:
		if r.Reason == "" {
			t.Fatalf("Load(%q): not applicable without a reason", cond)
		}
		return
	default:
		return
	}
	noIndex := set.WithoutIndex()
	ev := engine.NewEvaluator()
	for _, rec := range in.recs {
		indexed := false
		ev.Eval(set, rec, in.ents, func(m *engine.Rule) {
			indexed = true
			if a := m.Alert(&ev.Event); a.Rule != "fuzzed" || a.Output == "" {
				t.Fatalf("Load(%q): alert %+v", cond, a)
			}
		})
		all := false
		ev.Eval(noIndex, rec, in.ents, func(*engine.Rule) { all = true })
		if all && !indexed {
			t.Fatalf("rule %q (CEL %s, match %+v) matches a %s with flags %d, but the index does not check it there",
				cond, r.CEL, r.Match, sfavro.TypeOf(rec), opFlags(rec))
		}
		if indexed && !all {
			t.Fatalf("rule %q (CEL %s) matches a %s only with the index", cond, r.CEL, sfavro.TypeOf(rec))
		}
	}
}

func opFlags(rec *sysflowv1.Record) int32 {
	f, _ := sfavro.OpFlags(rec)
	return f
}

// fuzzInput is what every fuzzed condition is compiled and evaluated with.
type fuzzInput struct {
	items []defaultItem       // the default rules' lists and macros (and version keys), in order
	ents  *entity.Table       // every entity of the traces
	recs  []*sysflowv1.Record // a few records of each type that rules check
}

// defaultItem is an item of the default rules file other than a rule.
type defaultItem struct {
	name string // of a list or macro; "" for the others, always kept
	text string // what it may name: a macro's condition, a list's items
	item map[string]any
}

// macrosFor returns the lists and macros of the default rules that cond can name, directly or
// through them, as a rules file. A condition sees the same definitions as with the whole file,
// and loading it takes a fraction of the time.
func (in fuzzInput) macrosFor(cond string) engine.File {
	keep := make([]bool, len(in.items))
	texts := []string{cond}
	for len(texts) > 0 {
		text := texts[len(texts)-1]
		texts = texts[:len(texts)-1]
		for i, it := range in.items {
			if !keep[i] && (it.name == "" || strings.Contains(text, it.name)) {
				keep[i] = true
				texts = append(texts, it.text)
			}
		}
	}
	var items []map[string]any
	for i, it := range in.items {
		if keep[i] {
			items = append(items, it.item)
		}
	}
	b, err := yaml.Marshal(items)
	if err != nil {
		panic(err) // it came from YAML
	}
	return engine.File{Name: defaults.FalcoRulesName, Data: b}
}

var (
	fuzzOnce sync.Once
	fuzzIn   fuzzInput
	fuzzErr  error
)

// fuzzInputs returns the input of FuzzCompile, built once.
func fuzzInputs(tb testing.TB) fuzzInput {
	tb.Helper()
	fuzzOnce.Do(func() {
		def := defaults.Files()[0]
		var items []map[string]any
		if fuzzErr = yaml.Unmarshal(def.Data, &items); fuzzErr != nil {
			return
		}
		for _, it := range items {
			switch {
			case it["rule"] != nil:
			case it["macro"] != nil:
				fuzzIn.items = append(fuzzIn.items, defaultItem{fmt.Sprint(it["macro"]), fmt.Sprint(it["condition"]), it})
			case it["list"] != nil:
				fuzzIn.items = append(fuzzIn.items, defaultItem{fmt.Sprint(it["list"]), fmt.Sprint(it["items"]), it})
			default:
				fuzzIn.items = append(fuzzIn.items, defaultItem{item: it})
			}
		}
		fuzzIn.ents = entity.New(0)
		perType := map[sysflowv1.RecordType]int{}
		for _, name := range []string{"sfprocessor_k8s_small.sf", "sfprocessor_shellshock.sf", "sfcollector_files_files.sf", "sfcollector_rename_rename.sf"} {
			recs, err := sfavro.ReadFile(filepath.Join(fixtures, "sysflow/traces", name))
			if err != nil {
				fuzzErr = err
				return
			}
			stamp(recs)
			for _, r := range recs {
				if fuzzIn.ents.Put(r) {
					continue
				}
				if t := sfavro.TypeOf(r); perType[t] < 3 {
					perType[t]++
					fuzzIn.recs = append(fuzzIn.recs, r)
				}
			}
		}
	})
	if fuzzErr != nil {
		tb.Fatalf("fuzz inputs: %v", fuzzErr)
	}
	return fuzzIn
}

// fixtureConditions returns the conditions of the rules and macros of the fixture rules files.
func fixtureConditions(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtures, "falco-rules", "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	more, err := filepath.Glob(filepath.Join(fixtures, "sysflow-policies", "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	paths = append(paths, more...)
	if len(paths) == 0 {
		tb.Fatalf("no rules files in %s", fixtures)
	}
	var conds []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var items []map[string]any
		if yaml.Unmarshal(b, &items) != nil {
			continue // a few of SysFlow's files are not valid YAML (tabs); the others are enough
		}
		for _, it := range items {
			if c, ok := it["condition"].(string); ok && !slices.Contains(conds, c) {
				conds = append(conds, c)
			}
		}
	}
	return conds
}

// The lists and macros of the default rules load without the rules, all of them or those a
// condition names.
func TestFuzzMacrosLoad(t *testing.T) {
	in := fuzzInputs(t)
	if len(in.recs) == 0 {
		t.Fatal("no records to evaluate fuzzed rules on")
	}
	// Every list and macro, when a condition names them all.
	var names []string
	for _, it := range in.items {
		names = append(names, it.name)
	}
	all := in.macrosFor(strings.Join(names, " "))
	set, err := engine.Load(all)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _, _ := set.Counts(); n != 0 {
		t.Errorf("lists and macros of the default rules: %s, want no rule", set.Summary())
	}
	if len(in.items) < 100 {
		t.Errorf("%d lists and macros in the default rules, want over 100", len(in.items))
	}
	// A rule sees the macros it names and those they name.
	rule := func(cond string) engine.File {
		return engine.File{Name: "r.yaml", Data: []byte("- rule: r\n  desc: d\n  condition: " + cond + "\n  output: o\n  priority: WARNING\n")}
	}
	const cond = "open_read and sensitive_files and not user_known_read_sensitive_files_activities"
	set, err = engine.Load(in.macrosFor(cond), rule(cond))
	if err != nil {
		t.Fatalf("%s: %v", cond, err)
	}
	if r := set.Rules()[0]; r.Status != engine.Compiled {
		t.Errorf("%s: %s %s", cond, r.Status, r.Reason)
	}
	var ne *engine.RuleError
	_, err = engine.Load(in.macrosFor("spawned_process"), rule("spawned_process and proc.nam = sh"))
	if !errors.As(err, &ne) {
		t.Errorf("a rule on an unknown field with the default macros: error %v, want a RuleError", err)
	}
}
