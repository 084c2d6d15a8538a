package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
)

// falcoRules is Falco's default rules file.
const falcoRules = "../../../shared/fixtures/falco-rules/falco_rules.yaml"

// customRules uses macros that falco_rules.yaml defines: it compiles only after it.
const customRules = `- rule: Shell in container (custom)
  desc: a shell started in a container
  condition: spawned_process and container and proc.name = bash
  output: "shell in container (%proc.name %container.id)"
  priority: WARNING
  tags: [custom]
`

// standaloneRules needs no other file.
const standaloneRules = `- rule: Shell spawned
  desc: a shell started
  condition: evt.type = execve and proc.name = bash
  output: "shell (%proc.name %proc.cmdline)"
  priority: NOTICE
- rule: Switched off
  desc: a rule that is not enabled
  condition: evt.type = execve and proc.name = zsh
  output: "zsh (%proc.name)"
  priority: NOTICE
  enabled: false
`

// brokenRules has a condition that does not parse, on line 3.
const brokenRules = `- rule: Unbalanced
  desc: a condition with an open parenthesis
  condition: evt.type = execve and (proc.name = bash
  output: "x %proc.name"
  priority: WARNING
`

// writeRules writes a rules file into a temporary directory and returns its path.
func writeRules(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runSplit runs sysflux to completion and returns its exit code, standard output and standard
// error.
func runSplit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run sysflux %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// loadRules compiles rules files with the engine, as the expected result of the CLI's.
func loadRules(t *testing.T, paths ...string) *engine.Set {
	t.Helper()
	var files []engine.File
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, engine.File{Name: filepath.Base(p), Data: b})
	}
	s, err := engine.Load(files...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lastLine returns the last line of s and how many times it occurs as a line of s.
func lastLine(s string) (string, int) {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	last := lines[len(lines)-1]
	n := 0
	for _, l := range lines {
		if l == last {
			n++
		}
	}
	return last, n
}

// checkNotApplicable checks that out names every rule of s that does not run, with its reason.
func checkNotApplicable(t *testing.T, out string, s *engine.Set) {
	t.Helper()
	var checked int
	for _, r := range s.Rules() {
		switch r.Status {
		case engine.NotApplicable:
			want := fmt.Sprintf(":%d: rule %q: not applicable: %s\n", r.Line, r.Name, r.Reason)
			if !strings.Contains(out, want) {
				t.Errorf("output:\n%s\nwant it to contain %q", out, want)
			}
			checked++
		case engine.Disabled:
			if want := fmt.Sprintf(":%d: rule %q: disabled\n", r.Line, r.Name); !strings.Contains(out, want) {
				t.Errorf("output:\n%s\nwant it to contain %q", out, want)
			}
		}
	}
	if _, _, na, _ := s.Counts(); checked != na {
		t.Errorf("checked %d not applicable rules, want %d", checked, na)
	}
}

func TestRulesValidate(t *testing.T) {
	custom := writeRules(t, "custom.yaml", customRules)
	standalone := writeRules(t, "standalone.yaml", standaloneRules)
	tests := []struct {
		name  string
		files []string
	}{
		{"falco rules", []string{falcoRules}},
		{"falco rules then custom", []string{falcoRules, custom}},
		{"disabled rule", []string{standalone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := loadRules(t, tt.files...)
			code, stdout, stderr := runSplit(t, append([]string{"rules", "validate"}, tt.files...)...)
			if code != 0 {
				t.Fatalf("rules validate %v: exit %d\n%s%s", tt.files, code, stdout, stderr)
			}
			if last, n := lastLine(stdout); last != want.Summary() || n != 1 {
				t.Errorf("rules validate %v: last line %q (%d times), want %q once\n%s", tt.files, last, n, want.Summary(), stdout)
			}
			checkNotApplicable(t, stdout, want)
			for _, w := range want.Warnings() {
				// The engine named the files by their base names, the CLI by their paths.
				if !strings.Contains(stdout, "warning: ") || !strings.Contains(stdout, w) {
					t.Errorf("output:\n%s\nwant the warning %q", stdout, w)
				}
			}
		})
	}
	// Spot-check reasons, as words a person reads, beside the engine's own.
	_, stdout, _ := runSplit(t, "rules", "validate", falcoRules)
	for _, w := range []string{
		`rule "Packet socket created in container": not applicable: its evt.type values (socket) are system calls no SysFlow record stands for`,
		`rule "Drop and execute new binary in container": not applicable: field proc.is_exe_upper_layer: SysFlow records do not describe executable inodes or overlay layers`,
	} {
		if !strings.Contains(stdout, w) {
			t.Errorf("rules validate falco_rules.yaml:\n%s\nwant it to contain %q", stdout, w)
		}
	}
}

// TestRulesValidateErrors checks that files that do not compile, or cannot be read, end
// validate with exit code 1 or 2 and messages naming the file, line and rule.
func TestRulesValidateErrors(t *testing.T) {
	broken := writeRules(t, "broken.yaml", brokenRules)
	custom := writeRules(t, "custom.yaml", customRules)
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"broken", []string{broken}, exitFailure, []string{broken + `:3:`, `: rule "Unbalanced": expected a ')' token`, "the rules do not compile: 1 error"}},
		{"broken after good", []string{falcoRules, broken}, exitFailure, []string{broken + `:3:`, `rule "Unbalanced"`}},
		{"macros of a file not loaded", []string{custom}, exitFailure, []string{
			custom + `:3:14: rule "Shell in container (custom)": Undefined macro 'spawned_process' used in filter.`,
			custom + `:3:34: rule "Shell in container (custom)": Undefined macro 'container' used in filter.`,
			"2 errors",
		}},
		{"missing file", []string{falcoRules, missing}, exitUsage, []string{"missing.yaml: no such file or directory"}},
		{"no file", nil, exitUsage, []string{"no rules file given"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runSplit(t, append([]string{"rules", "validate"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("rules validate %v: exit %d, want %d\n%s%s", tt.args, code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("rules validate %v: standard error:\n%s\nwant it to contain %q", tt.args, stderr, w)
				}
			}
			if strings.Contains(stdout, " rules: ") {
				t.Errorf("rules validate %v printed a summary for rules that do not compile:\n%s", tt.args, stdout)
			}
		})
	}
}

// TestRulesPushListDelete changes the rules of a running hub with the CLI.
func TestRulesPushListDelete(t *testing.T) {
	hubAddr := freeAddr(t)
	up := start(t, "up", "up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0",
		"--replay", filepath.Join(traces, "sfprocessor_tcp.sf"))
	up.WaitAddr(t)
	custom := writeRules(t, "custom.yaml", customRules)
	broken := writeRules(t, "broken.yaml", brokenRules)
	standalone := writeRules(t, "standalone.yaml", standaloneRules)
	defaultSet, err := engine.Load(defaults.Files()...)
	if err != nil {
		t.Fatal(err)
	}

	// list checks the hub's rules: version, files and summary.
	list := func(wantVersion int, wantFiles []string, wantSummary string) {
		t.Helper()
		code, stdout, stderr := runSplit(t, "rules", "list", "--hub", hubAddr)
		if code != 0 {
			t.Fatalf("rules list: exit %d\n%s%s", code, stdout, stderr)
		}
		if want := fmt.Sprintf("rules version %d in force on %s\n", wantVersion, hubAddr); !strings.HasPrefix(stdout, want) {
			t.Errorf("rules list:\n%s\nwant it to start with %q", stdout, want)
		}
		var files []string
		inFiles := false
		for _, l := range strings.Split(stdout, "\n") {
			switch {
			case strings.HasPrefix(l, "FILE "):
				inFiles = true
			case l == "":
				inFiles = false
			case inFiles:
				files = append(files, strings.Fields(l)[0])
			}
		}
		if fmt.Sprint(files) != fmt.Sprint(wantFiles) {
			t.Errorf("rules list: files %v, want %v\n%s", files, wantFiles, stdout)
		}
		if last, _ := lastLine(stdout); last != wantSummary {
			t.Errorf("rules list: last line %q, want %q", last, wantSummary)
		}
	}
	list(1, []string{"falco_rules.yaml"}, defaultSet.Summary())

	code, stdout, stderr := runSplit(t, "rules", "push", "--hub", hubAddr, custom)
	want := loadRules(t, falcoRules, custom)
	if last, _ := lastLine(stdout); code != 0 || last != want.Summary() || !strings.HasPrefix(stdout, "rules version 2 in force on ") {
		t.Fatalf("rules push custom.yaml: exit %d\n%s%s\nwant exit 0, version 2 and %q", code, stdout, stderr, want.Summary())
	}
	checkNotApplicable(t, stdout, want)
	list(2, []string{"falco_rules.yaml", "custom.yaml"}, want.Summary())

	// A broken file is rejected with its errors, and the hub keeps its rules.
	code, stdout, stderr = runSplit(t, "rules", "push", "--hub", hubAddr, broken)
	if code != exitFailure || !strings.Contains(stderr, `broken.yaml:3:`) || !strings.Contains(stderr, `rule "Unbalanced": expected a ')' token`) ||
		!strings.Contains(stderr, "kept the rules it had in force") {
		t.Errorf("rules push broken.yaml: exit %d\n%s%s\nwant exit 1 naming broken.yaml:3 and rule Unbalanced", code, stdout, stderr)
	}
	// So is a replacement that needs the macros of a file it drops.
	code, _, stderr = runSplit(t, "rules", "push", "--hub", hubAddr, "--replace", custom)
	if code != exitFailure || !strings.Contains(stderr, `custom.yaml:3:14: rule "Shell in container (custom)": Undefined macro 'spawned_process'`) {
		t.Errorf("rules push --replace custom.yaml: exit %d\n%s\nwant exit 1 naming the undefined macro", code, stderr)
	}
	list(2, []string{"falco_rules.yaml", "custom.yaml"}, want.Summary())

	// Deleting: a name not in force, the file others need, then one that goes.
	code, _, stderr = runSplit(t, "rules", "delete", "--hub", hubAddr, "nosuch.yaml")
	if code != exitFailure || !strings.Contains(stderr, `not in force: "nosuch.yaml"`) {
		t.Errorf("rules delete nosuch.yaml: exit %d\n%s\nwant exit 1 naming nosuch.yaml", code, stderr)
	}
	code, _, stderr = runSplit(t, "rules", "delete", "--hub", hubAddr, "falco_rules.yaml")
	if code != exitFailure || !strings.Contains(stderr, `Undefined macro 'spawned_process'`) {
		t.Errorf("rules delete falco_rules.yaml: exit %d\n%s\nwant exit 1 naming the undefined macro", code, stderr)
	}
	list(2, []string{"falco_rules.yaml", "custom.yaml"}, want.Summary())
	code, stdout, stderr = runSplit(t, "rules", "delete", "--hub", hubAddr, "custom.yaml")
	if last, _ := lastLine(stdout); code != 0 || last != defaultSet.Summary() {
		t.Errorf("rules delete custom.yaml: exit %d\n%s%s\nwant exit 0 and %q", code, stdout, stderr, defaultSet.Summary())
	}
	list(3, []string{"falco_rules.yaml"}, defaultSet.Summary())

	code, stdout, stderr = runSplit(t, "rules", "push", "--hub", hubAddr, "--replace", standalone)
	if last, _ := lastLine(stdout); code != 0 || last != "2 rules: 1 compiled, 0 not applicable, 1 disabled" {
		t.Errorf("rules push --replace standalone.yaml: exit %d\n%s%s", code, stdout, stderr)
	}
	list(4, []string{"standalone.yaml"}, "2 rules: 1 compiled, 0 not applicable, 1 disabled")
	if !strings.Contains(up.Log(), `"msg":"rules changed"`) {
		t.Errorf("the hub logged no change:\n%s", up.Log())
	}
}

// TestRulesExitCodes checks the exit codes of the rules commands that call a hub, and of a hub
// given bad rules.
func TestRulesExitCodes(t *testing.T) {
	unreachable := freeAddr(t)
	broken := writeRules(t, "broken.yaml", brokenRules)
	custom := writeRules(t, "custom.yaml", customRules)
	sameName := writeRules(t, "custom.yaml", customRules) // another directory, the same base name
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"push to unreachable hub", []string{"rules", "push", "--hub", unreachable, custom}, exitUnreachable, "is not reachable"},
		{"list of unreachable hub", []string{"rules", "list", "--hub", unreachable}, exitUnreachable, "is not reachable"},
		{"delete on unreachable hub", []string{"rules", "delete", "--hub", unreachable, "custom.yaml"}, exitUnreachable, "is not reachable"},
		{"push missing file", []string{"rules", "push", "--hub", unreachable, missing}, exitUsage, "missing.yaml: no such file or directory"},
		{"push two files of one name", []string{"rules", "push", "--hub", unreachable, custom, sameName}, exitUsage, "would both go by the name custom.yaml"},
		{"push nothing", []string{"rules", "push", "--hub", unreachable}, exitUsage, "no rules file given"},
		{"delete nothing", []string{"rules", "delete", "--hub", unreachable}, exitUsage, "no rules file name given"},
		{"unknown rules command", []string{"rules", "frobnicate"}, exitUsage, "unknown command"},
		{"hub with missing rules", []string{"hub", "--agent", unreachable, "--rules", missing}, exitUsage, "--rules: read rules file: open " + missing},
		{"hub with broken rules", []string{"hub", "--agent", unreachable, "--rules", broken}, exitUsage, `broken.yaml:3:`},
		{"up with rules needing others", []string{"up", "--replay", filepath.Join(traces, "sfprocessor_tcp.sf"), "--rules", custom}, exitUsage,
			`--rules: the rules do not compile:` + "\n" + `custom.yaml:3:14: rule "Shell in container (custom)": Undefined macro 'spawned_process'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := run(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantMsg) {
				t.Errorf("sysflux %v: exit %d, output %q; want exit %d and output containing %q", tt.args, code, out, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// TestHubRulesFlags starts hubs with --rules and --no-default-rules and lists their rules.
func TestHubRulesFlags(t *testing.T) {
	standalone := writeRules(t, "standalone.yaml", standaloneRules)
	custom := writeRules(t, "custom.yaml", customRules)
	tests := []struct {
		name        string
		args        []string
		wantFiles   string
		wantSummary string
	}{
		{"rules files in order", []string{"--rules", falcoRules, "--rules", custom},
			"falco_rules.yaml custom.yaml", loadRules(t, falcoRules, custom).Summary()},
		{"rules files replace the defaults", []string{"--rules", standalone}, "standalone.yaml", "2 rules: 1 compiled, 0 not applicable, 1 disabled"},
		{"no default rules", []string{"--no-default-rules"}, "", "0 rules: 0 compiled, 0 not applicable, 0 disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hubAddr := freeAddr(t)
			up := start(t, "up", append([]string{"up", "--listen", hubAddr, "--agent-listen", "127.0.0.1:0",
				"--replay", filepath.Join(traces, "sfprocessor_tcp.sf")}, tt.args...)...)
			up.WaitAddr(t)
			code, stdout, stderr := runSplit(t, "rules", "list", "--hub", hubAddr, "--json")
			if code != 0 {
				t.Fatalf("rules list: exit %d\n%s%s", code, stdout, stderr)
			}
			var resp policyv1.ListRulesResponse
			if err := protojson.Unmarshal([]byte(stdout), &resp); err != nil {
				t.Fatalf("rules list --json: %v\n%s", err, stdout)
			}
			var names []string
			for _, f := range resp.GetFiles() {
				names = append(names, f.GetName())
			}
			if got := strings.Join(names, " "); got != tt.wantFiles || resp.GetVersion() != 1 {
				t.Errorf("rules in force: version %d, files %q; want version 1, files %q", resp.GetVersion(), got, tt.wantFiles)
			}
			if got := summary(resp.GetReport()); got != tt.wantSummary {
				t.Errorf("rules in force: %s, want %s", got, tt.wantSummary)
			}
			if !strings.Contains(up.Log(), `"msg":"rules loaded"`) || !strings.Contains(up.Log(), `"rules":"`+tt.wantSummary+`"`) {
				t.Errorf("the hub's logs do not say it loaded %q:\n%s", tt.wantSummary, up.Log())
			}
		})
	}
}
