// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition_test

import (
	"errors"
	"testing"

	"github.com/sysflux/sysflux/policy/condition"
)

// FuzzParse checks that the parser never panics, that its errors have sane positions, and
// that every tree it builds prints as a condition that parses back to the same tree. The
// seed corpus in testdata/fuzz/FuzzParse holds conditions from Falco's and SysFlow's rules.
func FuzzParse(f *testing.F) {
	f.Add("proc.name = bash and not (fd.name exists or tolower(fd.name) in (a, 'b c'))")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := condition.Parse(s)
		if err != nil {
			var perr *condition.ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %v (%T) is not a *ParseError", s, err, err)
			}
			if perr.Offset < 0 || perr.Offset > len(s) || perr.Line < 1 || perr.Column < 1 {
				t.Fatalf("Parse(%q) error at %+v, outside the input", s, perr.Pos)
			}
			return
		}
		printed := e.String()
		back, err := condition.Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", s, printed, err)
		}
		if !condition.Equal(e, back) {
			t.Fatalf("Parse(%q) printed as %q, which parses to another tree: %q", s, printed, back.String())
		}
		if again := back.String(); again != printed {
			t.Fatalf("Parse(%q) printed as %q, then as %q", s, printed, again)
		}
	})
}
