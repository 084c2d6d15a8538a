// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sysflux/sysflux/policy/condition"
)

func mustParse(t *testing.T, s string) condition.Expr {
	t.Helper()
	e, err := condition.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return e
}

func TestInspect(t *testing.T) {
	e := mustParse(t, "a and not tolower(fd.name) in (x, y) or proc.name = val(proc.pname)")
	var got []string
	condition.Inspect(e, func(n condition.Expr) bool {
		got = append(got, fmt.Sprintf("%T", n))
		_, isList := n.(*condition.ListExpr)
		return !isList // skip the list's items
	})
	want := []string{
		"*condition.OrExpr", "*condition.AndExpr", "*condition.IdentifierExpr", "*condition.NotExpr",
		"*condition.BinaryCheckExpr", "*condition.FieldTransformerExpr", "*condition.FieldExpr", "*condition.ListExpr",
		"*condition.BinaryCheckExpr", "*condition.FieldExpr", "*condition.FieldValueExpr", "*condition.FieldExpr",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Inspect visited\n%q\nwant\n%q", got, want)
	}
}

func TestRewrite(t *testing.T) {
	e := mustParse(t, "shell and not (container or proc.name in (bash, zsh))")
	before := e.String()
	macros := map[string]condition.Expr{
		"shell":     mustParse(t, "proc.name in (sh)"),
		"container": mustParse(t, "container.id != host"),
	}
	got, err := condition.Rewrite(e, func(n condition.Expr) (condition.Expr, error) {
		switch n := n.(type) {
		case *condition.IdentifierExpr:
			return condition.Clone(macros[n.Name]), nil
		case *condition.ListExpr:
			n.Values = append(n.Values, &condition.ValueExpr{Value: "ksh"})
		}
		return n, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// What f returns is not rewritten again: the macro's list keeps its one item.
	want := "proc.name in (sh) and not (container.id != host or proc.name in (bash, zsh, ksh))"
	if got.String() != want {
		t.Errorf("Rewrite = %s, want %s", got, want)
	}
	if e.String() != before {
		t.Errorf("Rewrite changed its input: %s, was %s", e, before)
	}
	if macros["shell"].String() != "proc.name in (sh)" {
		t.Errorf("Rewrite changed a substituted tree: %s", macros["shell"])
	}

	wantErr := fmt.Errorf("stop")
	if _, err := condition.Rewrite(e, func(n condition.Expr) (condition.Expr, error) {
		if _, ok := n.(*condition.IdentifierExpr); ok {
			return nil, wantErr
		}
		return n, nil
	}); err != wantErr {
		t.Errorf("Rewrite error = %v, want %v", err, wantErr)
	}
}

func TestCloneEqual(t *testing.T) {
	e := mustParse(t, "a and (proc.aname[1] = 'x' or len(fd.name) > 3) and fd.name in (a)")
	c := condition.Clone(e)
	if !condition.Equal(e, c) {
		t.Fatalf("Clone(%s) = %s, not Equal", e, c)
	}
	c.(*condition.AndExpr).Children[2].(*condition.BinaryCheckExpr).Right.(*condition.ListExpr).Values[0].Value = "b"
	if condition.Equal(e, c) {
		t.Errorf("Equal(%s, %s) = true", e, c)
	}
	if e.String() == c.String() {
		t.Errorf("changing the clone changed the original: %s", e)
	}
	for _, pair := range [][2]string{
		{"a", "b"},
		{"proc.name = a", "proc.name = 'a'"},
		{"proc.name = a", "proc.name == a"},
		{"proc.aname[1] exists", "proc.aname exists"},
		{"a and b", "a or b"},
	} {
		if condition.Equal(mustParse(t, pair[0]), mustParse(t, pair[1])) {
			t.Errorf("Equal(%s, %s) = true", pair[0], pair[1])
		}
	}
}
