// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import "testing"

// TestExceptionCondition checks the text built from exceptions against what Falco's
// build_rule_exception_infos builds, byte for byte.
func TestExceptionCondition(t *testing.T) {
	scalar := func(s string) entry { return entry{item: s} }
	seq := func(es ...entry) entry { return entry{isList: true, items: es} }
	tests := []struct {
		name string
		ex   exceptionInfo
		want string
	}{
		{
			name: "single field",
			ex:   exceptionInfo{fields: scalar("proc.name"), comps: scalar("in"), values: []entry{scalar("a"), scalar("b c")}},
			want: `(proc.name in (a, "b c"))`,
		},
		{
			name: "single field pmatch",
			ex:   exceptionInfo{fields: scalar("fd.name"), comps: scalar("pmatch"), values: []entry{scalar("'/tmp x'")}},
			want: `(fd.name pmatch ('/tmp x'))`,
		},
		{
			name: "single field without values",
			ex:   exceptionInfo{fields: scalar("proc.name"), comps: scalar("in")},
			want: "",
		},
		{
			name: "fields",
			ex: exceptionInfo{
				fields: seq(scalar("proc.name"), scalar("fd.name")),
				comps:  seq(scalar("="), scalar("in")),
				values: []entry{
					seq(scalar("a"), seq(scalar("b"), scalar("c d"))),
					seq(scalar("e f"), scalar("known_files")),
					seq(scalar("g"), scalar("(h, i)")),
				},
			},
			// Falco writes " and " then " field": two blanks.
			want: `(( proc.name = a and  fd.name in (b, "c d")) or ( proc.name = "e f" and  fd.name in (known_files)) or ( proc.name = g and  fd.name in (h, i)))`,
		},
		{
			name: "fields without values",
			ex:   exceptionInfo{fields: seq(scalar("proc.name")), comps: seq(scalar("="))},
			want: "",
		},
	}
	for _, tt := range tests {
		got, err := exceptionCondition(&tt.ex)
		if err != nil || got != tt.want {
			t.Errorf("%s: exceptionCondition = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}
