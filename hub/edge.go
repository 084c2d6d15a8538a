package hub

import (
	"log/slog"
	"sync"

	"go.yaml.in/yaml/v3"

	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
	"github.com/sysflux/sysflux/policy/engine"
)

// edgePolicy makes the EdgePolicy the hub sends its agents out of the rules in force.
type edgePolicy struct {
	rules *engine.Active // nil: the hub has no rules
	log   *slog.Logger

	mu  sync.Mutex
	set *engine.Set // the set msg was made of
	msg *agentv1.EdgePolicy
}

// current returns the policy of the rules in force, and a channel closed when they change; it
// is the fan-in's EdgePolicy hook. A hub without rules sends an empty policy, so that agents
// drop nothing.
func (e *edgePolicy) current() (*agentv1.EdgePolicy, <-chan struct{}) {
	if e.rules == nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.msg == nil {
			e.msg = &agentv1.EdgePolicy{}
		}
		return e.msg, nil
	}
	// Taken first: a change after it closes it, and the next call sees the new set.
	changed := e.rules.Changed()
	set, version := e.rules.Set(), e.rules.Version()
	e.mu.Lock()
	defer e.mu.Unlock()
	if set == e.set {
		return e.msg, changed
	}
	drop := edgeRules(set)
	src, err := rulesFile(drop)
	if err != nil { // not expected: the rules are strings
		e.log.Error("edge policy not made; agents keep the one they have", "version", version, "err", err)
		return nil, changed
	}
	e.set, e.msg = set, &agentv1.EdgePolicy{Version: version, RulesYaml: string(src)}
	e.log.Info("edge policy", "version", version, "drop_rules", len(drop))
	return e.msg, changed
}

// edgeRules returns the rules of s that agents apply: the compiled drop rules. Those that also
// alert stay at the hub, as a record an agent drops raises no alert.
func edgeRules(s *engine.Set) []*engine.Rule {
	var out []*engine.Rule
	for _, r := range s.Rules() {
		if r.Status == engine.Compiled && r.Actions&engine.ActionDrop != 0 && r.Actions&engine.ActionAlert == 0 {
			out = append(out, r)
		}
	}
	return out
}

// edgeRule is a rule of an edge policy's rules file.
type edgeRule struct {
	Rule      string   `yaml:"rule"`
	Desc      string   `yaml:"desc"`
	Condition string   `yaml:"condition"`
	Output    string   `yaml:"output,omitempty"`
	Priority  string   `yaml:"priority"`
	Tags      []string `yaml:"tags,omitempty,flow"`
	Action    []string `yaml:"action,flow"`
	Prefilter []string `yaml:"prefilter,omitempty,flow"`
}

// rulesFile writes rules as a rules file that needs no other: each condition with its macros,
// lists and exceptions expanded, and the action drop. Nil rules make an empty file.
func rulesFile(rules []*engine.Rule) ([]byte, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	items := make([]edgeRule, len(rules))
	for i, r := range rules {
		desc := r.Desc
		if desc == "" {
			desc = r.Name
		}
		items[i] = edgeRule{
			Rule:      r.Name,
			Desc:      desc,
			Condition: r.Condition.String(),
			Output:    r.Output,
			Priority:  r.Priority.String(),
			Tags:      r.Tags,
			Action:    []string{"drop"},
			Prefilter: r.Prefilter,
		}
	}
	return yaml.Marshal(items)
}
