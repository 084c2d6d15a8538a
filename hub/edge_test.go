package hub

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sysflux/sysflux/policy/engine"
)

// The rules file of an edge policy stands alone and compiles, rule for rule, to what the rules
// it comes from compile to: checked on every rule of Falco's rules and SysFlow's policies.
func TestRulesFileRoundTrip(t *testing.T) {
	const fixtures = "../../shared/fixtures"
	sets := [][]string{
		{"falco-rules/falco_rules.yaml"},
		{"falco-rules/falco_rules.yaml", "falco-rules/falco-incubating_rules.yaml"},
	}
	policies, err := filepath.Glob(filepath.Join(fixtures, "sysflow-policies", "*.yaml"))
	if err != nil || len(policies) == 0 {
		t.Fatalf("SysFlow policies: %v, %v", policies, err)
	}
	for _, p := range policies {
		sets = append(sets, []string{"sysflow-policies/" + filepath.Base(p)})
	}
	loaded := 0
	for _, set := range sets {
		t.Run(strings.Join(set, "+"), func(t *testing.T) {
			var files []engine.File
			for _, name := range set {
				b, err := os.ReadFile(filepath.Join(fixtures, name))
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, engine.File{Name: filepath.Base(name), Data: b})
			}
			s, err := engine.Load(files...)
			if err != nil { // some of SysFlow's policies are not valid YAML as published
				t.Skipf("does not load: %v", err)
			}
			var compiled []*engine.Rule
			for _, r := range s.Rules() {
				if r.Status == engine.Compiled {
					compiled = append(compiled, r)
				}
			}
			if len(compiled) == 0 {
				t.Skip("no compiled rule")
			}
			loaded++
			src, err := rulesFile(compiled)
			if err != nil {
				t.Fatal(err)
			}
			edge, err := engine.Load(engine.File{Name: "edge.yaml", Data: src})
			if err != nil {
				t.Fatalf("the edge rules do not compile: %v\n%s", err, src)
			}
			got := map[string]*engine.Rule{}
			for _, r := range edge.Rules() {
				got[r.Name] = r
			}
			if len(got) != len(compiled) {
				t.Errorf("the edge rules have %d rules, want %d", len(got), len(compiled))
			}
			for _, want := range compiled {
				r := got[want.Name]
				switch {
				case r == nil:
					t.Errorf("rule %q is missing", want.Name)
				case r.Status != engine.Compiled || r.CEL != want.CEL:
					t.Errorf("rule %q: %v, CEL\n%s\nwant compiled to\n%s", want.Name, r.Status, r.CEL, want.CEL)
				case !reflect.DeepEqual(r.Match, want.Match) || r.Actions != engine.ActionDrop:
					t.Errorf("rule %q: matches %+v with actions %v, want %+v and drop", want.Name, r.Match, r.Actions, want.Match)
				}
			}
		})
	}
	if loaded < 10 {
		t.Errorf("only %d of %d rule sets were checked", loaded, len(sets))
	}
}

// Only the compiled drop rules that do not also alert go to agents.
func TestEdgeRules(t *testing.T) {
	s, err := engine.Load(engine.File{Name: "r.yaml", Data: []byte(`
- rule: drop
  desc: d
  condition: sf.type = FF and fd.name startswith /etc/
  priority: debug
  action: [drop]
- rule: drop and tag
  desc: d
  condition: sf.type = FF and fd.name startswith /tmp/
  priority: debug
  action: [drop, tag]
- rule: drop and alert
  desc: d
  condition: sf.type = FF and fd.name startswith /root/
  priority: debug
  action: [drop, alert]
- rule: disabled drop
  desc: d
  condition: sf.type = FF
  priority: debug
  action: [drop]
  enabled: false
- rule: alert
  desc: d
  condition: sf.type = FF
  output: o
  priority: debug
`)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range edgeRules(s) {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ", "); got != "drop, drop and tag" {
		t.Errorf("edge rules %s, want drop, drop and tag", got)
	}
	if src, err := rulesFile(nil); err != nil || len(src) != 0 {
		t.Errorf("rulesFile(nil) = %q, %v; want nothing", src, err)
	}
}
