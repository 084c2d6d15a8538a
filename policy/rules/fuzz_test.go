// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules_test

import (
	"errors"
	"testing"

	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/rules"
)

// FuzzLoad loads a file twice, so that its appends and overrides apply to its own items, and
// checks that loading never panics, that errors say where they are, and that compiled
// conditions are fully expanded trees that print back. The seed corpus is in
// testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := rules.NewLoader()
		l.Load("a.yaml", data)
		l.Load("b.yaml", data)
		set, err := l.Compile()
		if set == nil {
			t.Fatalf("Compile returned no RuleSet (error %v)", err)
		}
		if err != nil {
			var errs rules.ErrorList
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Compile error %v (%T) is not a non-empty ErrorList", err, err)
			}
			for _, e := range errs {
				if e.File != "a.yaml" && e.File != "b.yaml" || e.Line < 0 || e.Column < 0 || e.Msg == "" {
					t.Fatalf("error without a place or a message: %#v", e)
				}
			}
		}
		for _, r := range set.Rules {
			if !r.Applicable {
				continue
			}
			if r.Condition == nil {
				t.Fatalf("rule %q has no condition", r.Name)
			}
			condition.Inspect(r.Condition, func(n condition.Expr) bool {
				if id, ok := n.(*condition.IdentifierExpr); ok {
					t.Fatalf("rule %q: macro %q not expanded", r.Name, id.Name)
				}
				return true
			})
			back, err := condition.Parse(r.Condition.String())
			if err != nil || !condition.Equal(back, r.Condition) {
				t.Fatalf("rule %q: condition %s does not print back: %v", r.Name, r.Condition, err)
			}
		}
	})
}
