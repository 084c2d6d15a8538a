// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/rules"
)

// load loads YAML texts as the files a.yaml, b.yaml..., in order, and compiles them.
func load(t *testing.T, texts ...string) (*rules.RuleSet, error) {
	t.Helper()
	l := rules.NewLoader()
	for i, text := range texts {
		l.Load(fmt.Sprintf("%c.yaml", 'a'+i), []byte(strings.TrimPrefix(text, "\n")))
	}
	return l.Compile()
}

func mustLoad(t *testing.T, texts ...string) *rules.RuleSet {
	t.Helper()
	set, err := load(t, texts...)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return set
}

// errorStrings returns the errors of an ErrorList as strings.
func errorStrings(t *testing.T, err error) []string {
	t.Helper()
	var errs rules.ErrorList
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not an ErrorList", err, err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// wantCondition checks a rule's compiled condition against a condition written by hand.
func wantCondition(t *testing.T, set *rules.RuleSet, rule, want string) {
	t.Helper()
	w, err := condition.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := findRule(t, set, rule).Condition; !condition.Equal(got, w) {
		t.Errorf("rule %q condition:\n got %s\nwant %s", rule, got, w)
	}
}

const base = `
- list: shells
  items: [bash, zsh]
- macro: spawned
  condition: evt.type = execve
- rule: shell
  desc: a shell
  condition: spawned and proc.name in (shells)
  output: shell %proc.name
  priority: warning
  tags: [b, a]
`

func TestOverride(t *testing.T) {
	tests := []struct {
		name, override string
		want           string // the rule's condition
		check          func(t *testing.T, r rules.Rule, set *rules.RuleSet)
	}{
		{
			name: "list items append",
			override: `
- list: shells
  items: [sh]
  override:
    items: append`,
			want: "evt.type = execve and proc.name in (bash, zsh, sh)",
		},
		{
			name: "list items replace",
			override: `
- list: shells
  items: [sh]
  override:
    items: replace`,
			want: "evt.type = execve and proc.name in (sh)",
		},
		{
			name: "macro condition append",
			override: `
- macro: spawned
  condition: and evt.dir = <
  override:
    condition: append`,
			want: "(evt.type = execve and evt.dir = <) and proc.name in (bash, zsh)",
		},
		{
			name: "macro condition replace",
			override: `
- macro: spawned
  condition: evt.type in (execve, execveat)
  override:
    condition: replace`,
			want: "evt.type in (execve, execveat) and proc.name in (bash, zsh)",
		},
		{
			name: "rule append",
			override: `
- rule: shell
  condition: and not proc.pname = sshd
  output: user=%user.name
  desc: from a terminal
  tags: [c, a]
  override:
    condition: append
    output: append
    desc: append
    tags: append`,
			want: "spawned_expanded and proc.name in (bash, zsh) and not proc.pname = sshd",
			check: func(t *testing.T, r rules.Rule, _ *rules.RuleSet) {
				if r.Output != "shell %proc.name user=%user.name" || r.Desc != "a shell from a terminal" ||
					strings.Join(r.Tags, ",") != "a,b,c" {
					t.Errorf("output %q, desc %q, tags %q", r.Output, r.Desc, r.Tags)
				}
			},
		},
		{
			name: "rule replace",
			override: `
- rule: shell
  condition: proc.name = fish
  priority: CRITICAL
  enabled: false
  tags: [x]
  warn_evttypes: false
  skip-if-unknown-filter: true
  override:
    condition: replace
    priority: replace
    enabled: replace
    tags: replace
    warn_evttypes: replace
    skip-if-unknown-filter: replace`,
			want: "proc.name = fish",
			check: func(t *testing.T, r rules.Rule, set *rules.RuleSet) {
				if r.Priority != rules.PriorityCritical || r.Enabled || strings.Join(r.Tags, ",") != "x" ||
					r.WarnEvttypes || !r.SkipIfUnknownFilter || r.Output != "shell %proc.name" {
					t.Errorf("rule = %+v", r)
				}
				if len(set.Warnings) != 2 {
					t.Errorf("warnings = %v, want the unused list and macro", set.Warnings)
				}
			},
		},
		{
			name: "append and replace together",
			override: `
- rule: shell
  condition: and proc.tty != 0
  priority: debug
  override:
    condition: append
    priority: replace`,
			want: "evt.type = execve and proc.name in (bash, zsh) and proc.tty != 0",
			check: func(t *testing.T, r rules.Rule, _ *rules.RuleSet) {
				if r.Priority != rules.PriorityDebug {
					t.Errorf("priority = %v, want Debug", r.Priority)
				}
			},
		},
		{
			name: "redefinition",
			override: `
- rule: shell
  desc: again
  condition: proc.name = fish
  output: fish
  priority: info`,
			want: "proc.name = fish",
			check: func(t *testing.T, r rules.Rule, _ *rules.RuleSet) {
				// As in Falco, the new definition replaces the old one entirely.
				if r.Desc != "again" || r.Priority != rules.PriorityInformational || len(r.Tags) != 0 || r.File != "b.yaml" {
					t.Errorf("rule = %+v", r)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := mustLoad(t, base, tt.override)
			wantCondition(t, set, "shell", strings.ReplaceAll(tt.want, "spawned_expanded", "evt.type = execve"))
			if tt.check != nil {
				tt.check(t, findRule(t, set, "shell"), set)
			}
		})
	}
}

func TestLegacyAppend(t *testing.T) {
	set, err := load(t, base, `
- list: shells
  items: [sh]
  append: true
- macro: spawned
  condition: or evt.type = execveat
  append: true
- rule: shell
  condition: and proc.tty != 0
  append: true
`)
	if err != nil {
		t.Fatal(err)
	}
	// The macro's appended text binds as written: "a or b" inside the macro.
	wantCondition(t, set, "shell", "(evt.type = execve or evt.type = execveat) and proc.name in (bash, zsh, sh) and proc.tty != 0")
	n := 0
	for _, w := range set.Warnings {
		if strings.Contains(w.Msg, "'append' key is deprecated") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("got %d deprecation warnings, want 3: %v", n, set.Warnings)
	}
}

func TestEnabled(t *testing.T) {
	set := mustLoad(t, base, `
- rule: shell
  enabled: false
`)
	if r := findRule(t, set, "shell"); r.Enabled {
		t.Errorf("rule enabled after enabled: false")
	}
	if !hasWarning(set, "standalone 'enabled' key usage is deprecated") {
		t.Errorf("no deprecation warning: %v", set.Warnings)
	}
	set = mustLoad(t, base, `
- rule: shell
  enabled: false
- rule: shell
  enabled: yes
  override:
    enabled: replace
`)
	if r := findRule(t, set, "shell"); !r.Enabled {
		t.Errorf("rule disabled after enabled: replace")
	}
	_, err := load(t, base, `
- rule: missing
  enabled: false
`)
	want := []string{`b.yaml:1:3: rule "missing": Rule has 'enabled' key but no rule by that name already exists`}
	if diff := cmp.Diff(want, errorStrings(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestExceptions(t *testing.T) {
	set, err := loadFiles(t, falcoRules)
	if err != nil {
		t.Fatal(err)
	}
	const name = "Terminal shell in container"
	before := findRule(t, set, name).Condition

	l := rules.NewLoader()
	l.LoadFile(falcoRules)
	l.Load("exceptions.yaml", []byte(`
- rule: Terminal shell in container
  exceptions:
    - name: known_images
      fields: [container.image.repository, proc.pname]
      comps: [=, in]
      values:
        - [docker.io/library/busybox, [sshd, tmux]]
        - [quay.io/tools, bash]
    - name: names
      fields: proc.name
      values: [zsh, my shell]
    - name: prefixes
      fields: [proc.exepath, "proc.aname[2]"]
      comps: [startswith, in]
      values:
        - [/opt/, shell_binaries]
  override:
    exceptions: append
`))
	set, err = l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	// Falco builds "(cond) and not (...) and not (...)". A scalar value for a list operator
	// is parenthesised: a list name there is the list.
	want := fmt.Sprintf(`(%s)
		and not ((container.image.repository = docker.io/library/busybox and proc.pname in (sshd, tmux))
		      or (container.image.repository = quay.io/tools and proc.pname in (bash)))
		and not (proc.name in (zsh, "my shell"))
		and not ((proc.exepath startswith /opt/ and proc.aname[2] in (%s)))`,
		before, strings.Join(findList(t, set, "shell_binaries").Items, ", "))
	wantCondition(t, set, name, want)

	// Appending values to an existing exception, then replacing all exceptions.
	set = mustLoad(t, base, `
- rule: shell
  exceptions:
    - name: parents
      fields: proc.pname
      comps: pmatch
      values: [/usr/bin]
  override:
    exceptions: append
- rule: shell
  exceptions:
    - name: parents
      values: [/opt]
  override:
    exceptions: append
- rule: shell
  exceptions:
    - name: parents
  override:
    exceptions: append
`)
	wantCondition(t, set, "shell", "(evt.type = execve and proc.name in (bash, zsh)) and not (proc.pname pmatch (/usr/bin, /opt))")
	if !hasWarning(set, "Overriding/appending exception with no values") {
		t.Errorf("no warning for the exception without values: %v", set.Warnings)
	}
	set = mustLoad(t, base, `
- rule: shell
  exceptions:
    - name: parents
      fields: proc.pname
      values: [sshd]
  override:
    exceptions: append
- rule: shell
  exceptions:
    - name: users
      fields: [user.name]
      values: [[root]]
  override:
    exceptions: replace
`)
	wantCondition(t, set, "shell", "(evt.type = execve and proc.name in (bash, zsh)) and not ((user.name = root))")

	_, err = load(t, base, `
- rule: shell
  exceptions:
    - name: new
      fields: proc.name
  override:
    exceptions: append
`)
	want = `b.yaml:3:7: rule "shell": Rule exception must have values property with a list of values`
	if diff := cmp.Diff([]string{want}, errorStrings(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestExceptionErrors(t *testing.T) {
	tests := []struct {
		name, rule string
		want       string
	}{
		{"no fields", `
  exceptions:
    - name: e
      values: [a]`, "c.yaml:7:7: rule \"r\": Item has no mapping for key 'fields'"},
		{"comps length", `
  exceptions:
    - name: e
      fields: [proc.name, proc.pname]
      comps: [=]
      values: [[a, b]]`, `c.yaml:7:7: rule "r": exception "e": Fields and comps lists must have equal length`},
		{"bad comp", `
  exceptions:
    - name: e
      fields: [proc.name]
      comps: [like]
      values: [[a]]`, `c.yaml:7:7: rule "r": exception "e": 'like' is not a supported comparison operator`},
		{"single field comp", `
  exceptions:
    - name: e
      fields: proc.name
      comps: =
      values: [a]`, `c.yaml:7:7: rule "r": exception "e": When fields is a single value, comps must be one of (in, pmatch, intersects)`},
		{"single field list comps", `
  exceptions:
    - name: e
      fields: proc.name
      comps: [in]
      values: [a]`, `c.yaml:7:7: rule "r": exception "e": Fields and comps must both be strings`},
		{"values length", `
  exceptions:
    - name: e
      fields: [proc.name, proc.pname]
      values: [[a]]`, `c.yaml:7:7: rule "r": exception "e": Fields and values lists must have equal length`},
		{"list value for single field", `
  exceptions:
    - name: e
      fields: proc.name
      values: [[a]]`, `c.yaml:7:7: rule "r": exception "e": Expected values array to contain a list of strings`},
		{"duplicate names", `
  exceptions:
    - name: e
      fields: proc.name
    - name: e
      fields: proc.name`, `c.yaml:9:7: rule "r": Exceptions names in the same object must be unique`},
		{"not a sequence", `
  exceptions: {}`, `c.yaml:6:15: rule "r": Rule exceptions must be a sequence`},
		{"value that does not parse", `
  exceptions:
    - name: e
      fields: [proc.name]
      values: [[a=b]]`, `c.yaml:7:7: rule "r": exception "e": expected a ')' token`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, "", "", `
- rule: r
  desc: d
  condition: proc.name = x
  output: o
  priority: error`+tt.rule)
			if diff := cmp.Diff([]string{tt.want}, errorStrings(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLists(t *testing.T) {
	set := mustLoad(t, `
- list: a
  items: [x, "y z", '"q\"uoted"']
- list: b
  items: [a, w, c]
- list: c
  items: [b, v]
- list: one
  items: [solo]
- rule: r
  desc: d
  condition: >
    proc.name in (c, "a", 'b') and proc.pname in b and proc.exe = one
    and proc.cmdline intersects (a)
  output: o
  priority: notice
`)
	// b names c before c is defined: c stays a value. c names b, defined before it, whose
	// items were expanded first: lists nest.
	if got := findList(t, set, "b").Items; strings.Join(got, "|") != `x|y z|q"uoted|w|c` {
		t.Errorf("list b = %q", got)
	}
	if got := findList(t, set, "c").Items; strings.Join(got, "|") != `x|y z|q"uoted|w|c|v` {
		t.Errorf("list c = %q", got)
	}
	wantCondition(t, set, "r", `proc.name in (x, "y z", "q\"uoted", w, c, v, "a", "b")
		and proc.pname in (x, "y z", "q\"uoted", w, c)
		and proc.exe = solo
		and proc.cmdline intersects (x, "y z", "q\"uoted")`)

	_, err := load(t, `
- list: two
  items: [a, b]
- list: bad
  items: ['"unterminated']
- rule: r
  desc: d
  condition: proc.name = two
  output: o
  priority: notice
`)
	want := []string{
		`a.yaml:4:11: list "bad": invalid item "\"unterminated": unterminated quoted string`,
		`a.yaml:7:26: rule "r": list 'two' has 2 items and cannot be the operand of '='`,
	}
	if diff := cmp.Diff(want, errorStrings(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestMacros(t *testing.T) {
	set := mustLoad(t, `
- macro: m1
  condition: proc.name = a
- macro: m2
  condition: m1 or not m1
- macro: unused
  condition: m2
- rule: r
  desc: d
  condition: m2 and (m1)
  output: o
  priority: notice
`)
	wantCondition(t, set, "r", "(proc.name = a or not proc.name = a) and proc.name = a")
	if !hasWarning(set, `macro "unused": Macro not referred to by any other rule/macro`) {
		t.Errorf("no warning for the unused macro: %v", set.Warnings)
	}

	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown macro", `
- rule: r
  desc: d
  condition: proc.name = a and
    (shell or
     not container)
  output: o
  priority: notice`, []string{
			`a.yaml:4:6: rule "r": Undefined macro 'shell' used in filter.`,
			`a.yaml:5:10: rule "r": Undefined macro 'container' used in filter.`,
		}},
		{"macro defined later", `
- macro: a
  condition: b
- macro: b
  condition: proc.name = b`, []string{
			`a.yaml:2:14: macro "a": Undefined macro 'b' used in filter.`,
		}},
		// As in Falco, a macro only sees the macros defined before it, not itself.
		{"self reference", `
- macro: a
  condition: proc.name = x or a`, []string{
			`a.yaml:2:31: macro "a": Undefined macro 'a' used in filter.`,
		}},
		{"loop through a redefinition", `
- macro: a
  condition: proc.name = x
- macro: b
  condition: a
- macro: a
  condition: b`, []string{
			`a.yaml:4:14: macro "b": reference loop in macro 'a'`,
		}},
		{"rule using a macro in error", `
- macro: a
  condition: proc.name =
- rule: r
  desc: d
  condition: a
  output: o
  priority: notice`, []string{
			`a.yaml:2:25: macro "a": expected a string value or a field with a valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len'`,
			`a.yaml:5:14: rule "r": macro 'a' has errors`,
		}},
		{"invalid name", `
- macro: 1a
  condition: proc.name = x`, []string{
			`a.yaml:1:3: macro "1a": Macro has an invalid name. Macro names must match a regular expression: ^[a-zA-Z_][a-zA-Z0-9_]*$`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.text)
			if diff := cmp.Diff(tt.want, errorStrings(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorPositions checks that errors inside conditions point at the right place in the
// file, whatever the YAML style of the condition.
func TestErrorPositions(t *testing.T) {
	tests := []struct {
		name, condition string
		want            string // line:column of the error in the file
	}{
		{"plain", "proc.name = a and foo", "5:32"},
		{"plain over lines", "proc.name = a\n    and proc.pname = b\n      and foo", "7:11"},
		{"folded", ">\n    proc.name = a\n    and\n    foo", "8:5"},
		{"literal", "|\n    proc.name = a and\n\n      (foo)", "8:8"},
		{"double quoted", `"proc.name = \"a\" and foo"`, "5:37"},
		{"single quoted", `'proc.name = ''a'' and foo'`, "5:37"},
		{"syntax error", "proc.name = a and\n    proc.pname in (b,", "6:22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, `
- rule: r
  desc: d
  output: o
  priority: notice
  condition: `+tt.condition)
			errs := errorStrings(t, err)
			if len(errs) != 1 || !strings.HasPrefix(errs[0], "a.yaml:"+tt.want+": ") {
				t.Errorf("errors = %q, want one at a.yaml:%s", errs, tt.want)
			}
		})
	}
}

// TestErrorPositionsAppended checks that an error in an appended condition points into the
// file that appended it.
func TestErrorPositionsAppended(t *testing.T) {
	_, err := load(t, base, `
- macro: spawned
  condition: and missing_macro
  override:
    condition: append
- rule: shell
  condition: >
    and not
      other_macro
  override:
    condition: append
`)
	want := []string{
		`b.yaml:2:18: macro "spawned": Undefined macro 'missing_macro' used in filter.`,
		`a.yaml:7:14: rule "shell": macro 'spawned' has errors`,
		`b.yaml:8:7: rule "shell": Undefined macro 'other_macro' used in filter.`,
	}
	if diff := cmp.Diff(want, errorStrings(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestErrorsCollected checks that every item in error is reported, and the others loaded.
func TestErrorsCollected(t *testing.T) {
	set, err := load(t, `
- rule: no condition
  desc: d
  output: o
  priority: notice
- rule: good
  desc: d
  condition: proc.name = a
  output: o
  priority: notice
- rule: bad priority
  desc: d
  condition: proc.name = a
  output: o
  priority: urgent
- macro: m
  condition: proc.name in (a
- list: l
  items: a
- just a string
- rule: append to nothing
  condition: and x
  append: true
- rule: good
  desc: d
  condition: proc.name = b
  output: o
  priority: notice
  append: true
  override:
    condition: append
`, `
- rule: replace nothing
  priority: debug
  override:
    priority: replace
- rule: good
  priority: debug
  override:
    priority: append
- rule: good
  output: x
  override:
    desc: replace
- rule: good
  desc: y
  output: x
  override:
    desc: replace
- list: l2
  items: [a]
  override:
    items: merge
- required_engine_version: 1.2
`)
	want := []string{
		`a.yaml:1:3: rule "no condition": Item has no mapping for key 'condition'`,
		`a.yaml:14:13: rule "bad priority": Invalid priority`,
		`a.yaml:18:10: list "l": Value is not a sequence (value for 'items')`,
		`a.yaml:19:3: Unexpected element type. Each element should be a yaml associative array.`,
		`a.yaml:20:3: rule "append to nothing": Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists`,
		`a.yaml:23:3: rule "good": Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.`,
		`b.yaml:1:3: rule "replace nothing": An 'override.<key>: replace' to a rule was requested but no rule by that name already exists`,
		`b.yaml:8:5: rule "good": Key 'priority' cannot be appended to, use 'replace' instead`,
		`b.yaml:9:3: rule "good": An replace override for 'desc' was specified but 'desc' is not defined`,
		`b.yaml:15:3: rule "good": Unexpected key 'output': no corresponding entry under 'override' is defined.`,
		`b.yaml:21:12: list "l2": Invalid override operation for key 'items': 'merge'. Allowed values are: append replace`,
		`b.yaml:22:28: required_engine_version: Unable to parse engine version '1.2' as a semver string. Expected "x.y.z" semver format.`,
		`a.yaml:16:29: macro "m": expected a ')' token`,
	}
	if diff := cmp.Diff(want, errorStrings(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if len(set.Rules) != 1 || set.Rules[0].Name != "good" {
		t.Errorf("rules = %+v, want only good", set.Rules)
	}
}

func TestItems(t *testing.T) {
	set := mustLoad(t, `
- required_engine_version: 7
- required_engine_version: 0.26.1
- required_plugin_versions:
    - name: k8saudit
      version: 0.1.0
      alternatives:
        - name: k8saudit-eks
          version: 0.2.0
- rule: audit
  desc: d
  condition: ka.verb = create
  output: o
  priority: ALERT
  source: k8s_audit
- other: thing
---
- rule: second document
  desc: d
  condition: evt.type = open
  output: o
  priority: Emergency
`)
	if set.RequiredEngineVersion != "0.26.1" {
		t.Errorf("RequiredEngineVersion = %q, want 0.26.1", set.RequiredEngineVersion)
	}
	wantPlugins := []rules.PluginRequirement{{Name: "k8saudit", Version: "0.1.0",
		Alternatives: []rules.PluginRequirement{{Name: "k8saudit-eks", Version: "0.2.0"}}}}
	if diff := cmp.Diff(wantPlugins, set.RequiredPluginVersions); diff != "" {
		t.Errorf("RequiredPluginVersions (-want +got):\n%s", diff)
	}
	audit := findRule(t, set, "audit")
	if audit.Applicable || audit.Condition != nil || audit.Source != "k8s_audit" || audit.ConditionText != "ka.verb = create" {
		t.Errorf("audit rule = %+v, want kept but not applicable", audit)
	}
	if r := findRule(t, set, "second document"); r.Priority != rules.PriorityEmergency || r.Condition == nil {
		t.Errorf("second document rule = %+v", r)
	}
	for _, w := range []string{
		`a.yaml:4:7: required plugin "k8saudit": plugin requirement not checked`,
		`a.yaml:9:3: rule "audit": Unknown source k8s_audit, skipping`,
		`a.yaml:15:3: Unknown top level item "other"`,
	} {
		if !hasWarning(set, w) {
			t.Errorf("no warning %q in %v", w, set.Warnings)
		}
	}

	_, err := load(t, "- rule: [unclosed\n")
	if want := []string{"a.yaml:1: did not find expected ',' or ']'"}; !cmp.Equal(want, errorStrings(t, err)) {
		t.Errorf("YAML error = %q, want %q", errorStrings(t, err), want)
	}
}

func TestLoadFile(t *testing.T) {
	l := rules.NewLoader()
	err := l.LoadFile("testdata/does-not-exist.yaml")
	var errs rules.ErrorList
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Err == nil {
		t.Fatalf("LoadFile = %v, want the read error", err)
	}
	if _, err := l.Compile(); err == nil {
		t.Errorf("Compile after a failed LoadFile succeeded")
	}
}

func TestPriority(t *testing.T) {
	tests := []struct {
		in   string
		want rules.Priority
		name string
	}{
		{"emergency", rules.PriorityEmergency, "Emergency"},
		{"ALERT", rules.PriorityAlert, "Alert"},
		{"Critical", rules.PriorityCritical, "Critical"},
		{"error", rules.PriorityError, "Error"},
		{"Warning", rules.PriorityWarning, "Warning"},
		{"NOTICE", rules.PriorityNotice, "Notice"},
		{"informational", rules.PriorityInformational, "Informational"},
		{"Info", rules.PriorityInformational, "Informational"},
		{"debug", rules.PriorityDebug, "Debug"},
	}
	for _, tt := range tests {
		got, err := rules.ParsePriority(tt.in)
		if err != nil || got != tt.want || got.String() != tt.name {
			t.Errorf("ParsePriority(%q) = %v (%d), %v; want %s", tt.in, got, got, err, tt.name)
		}
	}
	for _, bad := range []string{"", "warn", "high", "inf"} {
		if _, err := rules.ParsePriority(bad); err == nil {
			t.Errorf("ParsePriority(%q) succeeded", bad)
		}
	}
	if s := rules.Priority(8).String(); s != "Priority(8)" {
		t.Errorf("Priority(8).String() = %q", s)
	}
}

// TestLimits checks that expansion that grows exponentially stops with an error.
func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("- macro: m0\n  condition: proc.name = a\n- list: l0\n  items: [a, b]\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "- macro: m%d\n  condition: m%d or m%d\n", i, i-1, i-1)
		fmt.Fprintf(&b, "- list: l%d\n  items: [l%d, l%d]\n", i, i-1, i-1)
	}
	b.WriteString("- rule: r\n  desc: d\n  condition: m20 and proc.name in (l20)\n  output: o\n  priority: debug\n")
	_, err := load(t, b.String())
	// l16 has 2^17 items; m15 about 4 * 2^15 nodes. The lists and macros using them fail
	// silently, as their errors are reported once; the rule says which ones it uses failed.
	want := []string{
		`a.yaml:67:3: list "l16": list has more than 100000 items once the lists it names are spliced in`,
		`a.yaml:62:21: macro "m15": condition has more than 100000 nodes once macros are expanded`,
		`a.yaml:87:36: rule "r": list 'l20' has errors`,
	}
	if diff := cmp.Diff(want, errorStrings(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
