package service

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/policy/engine"
)

const filterRules = `
- list: shells
  items: [bash, sh]
- macro: shell_exec
  condition: evt.type = execve and proc.name in (shells)
- macro: bad_field
  condition: proc.nonesuch = 1
`

// testLimits are the default limits on filters.
var testLimits = filterLimits{maxBytes: DefaultMaxFilterBytes, maxCost: DefaultMaxFilterCost}

// Filters that do not compile are refused with every problem at its line and column in the
// filter, whatever the filter's indentation, line breaks and characters.
func TestCompileFilterErrors(t *testing.T) {
	files := []engine.File{{Name: "r.yaml", Data: []byte(filterRules)}}
	tests := []struct {
		name, text string
		lang       hubv1.FilterLanguage
		line, col  int32
		msg        string
	}{
		{name: "syntax", text: "proc.name = bash and", line: 1, col: 21, msg: "expected"},
		{name: "syntax on a later line", text: "proc.name = bash\n  and (fd.name = x", line: 2, col: 19, msg: "expected"},
		{name: "undefined macro", text: "shell_exec and\n   no_such_macro", line: 2, col: 4, msg: "Undefined macro 'no_such_macro'"},
		{name: "undefined macro after a tab", text: "\tshell_exec and nope", line: 1, col: 17, msg: "Undefined macro 'nope'"},
		{name: "undefined macro after CRLF", text: "shell_exec\r\n and nope", line: 2, col: 6, msg: "Undefined macro 'nope'"},
		{name: "undefined macro after UTF-8", text: `proc.name = "é" and nope`, line: 1, col: 22, msg: "Undefined macro 'nope'"},
		{name: "unknown field", text: "proc.name = bash and\n proc.nonesuch = 1", line: 2, col: 2, msg: "proc.nonesuch"},
		{name: "list as scalar operand", text: "proc.name = shells", line: 1, col: 13, msg: "list 'shells' has 2 items"},
		{name: "not applicable", text: "evt.type = mprotect", msg: "can match no SysFlow record"},
		{name: "control character", text: "proc.name = a\x01b", line: 1, col: 14, msg: "control character U+0001"},
		{name: "not UTF-8", text: "proc.name = \xff", line: 1, col: 13, msg: "not UTF-8"},
		{name: "CEL syntax", text: "proc.name == ", lang: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, line: 1, col: 14, msg: "Syntax error"},
		{name: "CEL unknown variable", text: "true &&\n  nonesuch == 1", lang: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, line: 2, col: 3, msg: "undeclared reference to 'nonesuch'"},
		{name: "CEL not bool", text: "proc.name", lang: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, msg: "not bool"},
		{name: "CEL error without a position", text: "true &&\n  proc.aname.exists(.!x, true)", lang: hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, msg: "argument must be a simple name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileFilter(tt.text, tt.lang, files, testLimits)
			var fe *filterError
			if !errors.As(err, &fe) {
				t.Fatalf("compileFilter(%q) = %v, want a *filterError", tt.text, err)
			}
			if len(fe.errs) == 0 {
				t.Fatalf("compileFilter(%q): no errors listed", tt.text)
			}
			t.Log(err)
			got := fe.errs[0]
			if got.GetLine() != tt.line || got.GetColumn() != tt.col || !strings.Contains(got.GetMessage(), tt.msg) {
				t.Errorf("compileFilter(%q): %d:%d: %s; want %d:%d: ...%s...", tt.text, got.GetLine(), got.GetColumn(), got.GetMessage(), tt.line, tt.col, tt.msg)
			}
			if tt.line > 0 && !strings.Contains(err.Error(), "filter:") {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

// Filters may use the macros and lists of the rules in force, and are compiled as rules are.
func TestCompileFilter(t *testing.T) {
	files := []engine.File{{Name: "r.yaml", Data: []byte(filterRules)}}
	for _, tt := range []struct {
		text string
		lang hubv1.FilterLanguage
		want string
	}{
		{"shell_exec", hubv1.FilterLanguage_FILTER_LANGUAGE_UNSPECIFIED, `proc.name in ["bash", "sh"]`},
		{"  shell_exec\n\tand not fd.name startswith /tmp", hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO, `startsWith("/tmp")`},
		{`proc.name == "bash"`, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, `proc.name == "bash"`},
	} {
		f, err := compileFilter(tt.text, tt.lang, files, testLimits)
		if err != nil {
			t.Fatalf("compileFilter(%q): %v", tt.text, err)
		}
		if got := f.set.Rules()[0].CEL; !strings.Contains(got, tt.want) {
			t.Errorf("compileFilter(%q) compiled to %s, want it to contain %s", tt.text, got, tt.want)
		}
	}
	if f, err := compileFilter("", 0, files, testLimits); f != nil || err != nil {
		t.Errorf("compileFilter(\"\") = %v, %v; want no filter", f, err)
	}
	if _, err := compileFilter("x", 7, files, testLimits); err == nil || !strings.Contains(err.Error(), "filter_language") {
		t.Errorf("compileFilter in language 7: %v, want an error naming filter_language", err)
	}
}

// A filter applies to events and flows, and to entities only when it names their type with
// sf.type; other entities pass it.
func TestFilterEntities(t *testing.T) {
	bash := &sysflowv1.OID{CreateTs: 1, Hpid: 1}
	sh := &sysflowv1.OID{CreateTs: 1, Hpid: 2}
	recs := map[string]*sysflowv1.Record{
		"bash":      {Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: bash, Exe: "/bin/bash"}}},
		"sh":        {Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: sh, Exe: "/bin/sh"}}},
		"file":      {Rec: &sysflowv1.Record_File{File: &sysflowv1.File{Oid: []byte("f"), Path: "/etc/passwd"}}},
		"bash exec": {Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{ProcOid: bash, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC)}}},
		"sh exec":   {Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{ProcOid: sh, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC)}}},
	}
	order := []string{"bash", "sh", "file", "bash exec", "sh exec"}
	for _, tt := range []struct {
		filter string
		want   string
	}{
		{"proc.name = bash", "bash sh file bash exec"},
		{"sf.type = P and proc.name = bash", "bash file"},
	} {
		f, err := compileFilter(tt.filter, 0, nil, testLimits)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, name := range order {
			raw, err := proto.Marshal(recs[name])
			if err != nil {
				t.Fatal(err)
			}
			e := &ring.Entry{AgentID: "a", Type: sfavro.TypeOf(recs[name]), Raw: raw}
			f.observe(e)
			if f.match(e) {
				got = append(got, name)
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("filter %q passes %q, want %q", tt.filter, strings.Join(got, " "), tt.want)
		}
	}
}
