// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"strings"
)

// Error is a problem that keeps a rules file, or one of its items, from loading.
type Error struct {
	File   string // the file's name, as given to Load or LoadFile
	Line   int    // 1-based; 0 if unknown
	Column int    // 1-based, in characters; 0 if unknown
	Kind   string // "rule", "macro", "list", ... or "" when the problem is not in a named item
	Name   string // the item's name
	Msg    string // what is wrong, in Falco's words where Falco has words for it
	Err    error  // the underlying error, such as a *condition.ParseError, if any
}

// Error returns "file:line:col: kind "name": message", leaving out what is unknown.
func (e *Error) Error() string { return describe(e.File, e.Line, e.Column, e.Kind, e.Name, e.Msg) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Warning is something in a rules file that Falco would load but warn about: deprecated
// syntax, unused lists and macros, items sysflux reads but does not act on.
type Warning struct {
	File   string
	Line   int
	Column int
	Kind   string
	Name   string
	Msg    string
}

// String returns "file:line:col: kind "name": message".
func (w Warning) String() string { return describe(w.File, w.Line, w.Column, w.Kind, w.Name, w.Msg) }

func describe(file string, line, col int, kind, name, msg string) string {
	var b strings.Builder
	b.WriteString(file)
	if line > 0 {
		fmt.Fprintf(&b, ":%d", line)
		if col > 0 {
			fmt.Fprintf(&b, ":%d", col)
		}
	}
	b.WriteString(": ")
	switch {
	case kind != "" && name != "":
		fmt.Fprintf(&b, "%s %q: ", kind, name)
	case kind != "":
		fmt.Fprintf(&b, "%s: ", kind)
	}
	b.WriteString(msg)
	return b.String()
}

// ErrorList is every error found while loading or compiling rules files, in the order found.
type ErrorList []*Error

// Error lists the errors, one a line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Err returns l as an error, or nil if l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
