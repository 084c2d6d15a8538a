// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition_test

import (
	"testing"

	"github.com/sysflux/sysflux/policy/condition"
)

func TestString(t *testing.T) {
	a, b, c := ident("a"), ident("b"), ident("c")
	tests := []struct {
		name string
		in   condition.Expr
		want string
	}{
		{"or in and", and(a, or(b, c)), "a and (b or c)"},
		{"and in or", or(and(a, b), c), "a and b or c"},
		{"or in or", or(a, or(b, c)), "a or (b or c)"},
		{"and in and", and(and(a, b), c), "(a and b) and c"},
		{"not", not(a), "not a"},
		{"not not", not(not(a)), "not (not a)"},
		{"not and", not(and(a, b)), "not (a and b)"},
		{"not check", not(eq("bash")), "not proc.name = bash"},
		{"bare value", eq("/bin/bash"), "proc.name = /bin/bash"},
		{"quoted value", check(field("proc.name"), condition.OpEq, quoted("bash")), `proc.name = "bash"`},
		{"value with blank", eq("a b"), `proc.name = "a b"`},
		{"value with quote and escapes", eq("a\"b'\n\\"), `proc.name = "a\"b'\n\\"`},
		{"empty value", eq(""), `proc.name = ""`},
		{"value with parenthesis", eq("a(b)"), `proc.name = "a(b)"`},
		{"number", check(field("fd.num"), condition.OpGreaterEq, val("0x1f")), "fd.num >= 0x1f"},
		{"list", check(field("proc.name"), condition.OpIn, list(val("a"), quoted("b"), val("c d"), val(""))),
			`proc.name in (a, "b", "c d", "")`},
		{"empty list", check(field("proc.name"), condition.OpPMatch, list()), "proc.name pmatch ()"},
		{"list name", check(field("proc.name"), condition.OpIn, val("shell_binaries")), "proc.name in shell_binaries"},
		{"exists", unary(field("fd.name"), condition.OpExists), "fd.name exists"},
		{"argument", unary(fieldArg("proc.aname", "2"), condition.OpExists), "proc.aname[2] exists"},
		{"quoted argument", unary(fieldArg("k8s.pod.label", "app name"), condition.OpExists), `k8s.pod.label["app name"] exists`},
		{"empty argument", unary(fieldArg("proc.env", ""), condition.OpExists), `proc.env[""] exists`},
		{"transformers", check(transform(condition.ToLower, transform(condition.B64, field("fd.name"))), condition.OpEq,
			fieldValue(fieldArg("proc.aname", "1"))), "tolower(b64(fd.name)) = val(proc.aname[1])"},
		{"value alone", quoted("x"), `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if _, isValue := tt.in.(*condition.ValueExpr); isValue {
				return
			}
			back, err := condition.Parse(tt.want)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.want, err)
			}
			if got := back.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q", tt.want, got)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "a", `a"b`, `a'b`, `\`, "\b\f\n\r\t", "é\x00"} {
		q := condition.Quote(s)
		got, err := condition.Unquote(q)
		if err != nil || got != s {
			t.Errorf("Unquote(Quote(%q)) = %q, %v; Quote = %s", s, got, err, q)
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: `"a b"`, want: "a b"},
		{in: `'a \'b\''`, want: "a 'b'"},
		{in: `"\/\\\ "`, want: `/\\`},
		{in: `"a`, err: "unterminated quoted string"},
		{in: `a`, err: "expected a quoted string"},
		{in: `"a" b`, err: "unexpected text after the closing quote"},
		{in: `'\"'`, err: `invalid \" escape in '-quoted string`},
		{in: `"\u0041"`, err: `unsupported string escape sequence: \u`},
	}
	for _, tt := range tests {
		got, err := condition.Unquote(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Unquote(%s) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
