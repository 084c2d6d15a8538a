// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/internal/sysflowyaml"
	"github.com/sysflux/sysflux/policy/rules"
)

const fixtures = "../../../shared/fixtures"

var (
	falcoRules      = filepath.Join(fixtures, "falco-rules", "falco_rules.yaml")
	incubatingRules = filepath.Join(fixtures, "falco-rules", "falco-incubating_rules.yaml")
)

// loadFiles loads the files in order and compiles them.
func loadFiles(t *testing.T, paths ...string) (*rules.RuleSet, error) {
	t.Helper()
	l := rules.NewLoader()
	for _, p := range paths {
		l.LoadFile(p) // errors are reported again by Compile
	}
	return l.Compile()
}

func findRule(t *testing.T, set *rules.RuleSet, name string) rules.Rule {
	t.Helper()
	for _, r := range set.Rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q", name)
	return rules.Rule{}
}

func findList(t *testing.T, set *rules.RuleSet, name string) rules.List {
	t.Helper()
	for _, l := range set.Lists {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no list %q", name)
	return rules.List{}
}

// checkExpanded checks that a compiled condition has no macro left and that it prints as a
// condition that parses back to it.
func checkExpanded(t *testing.T, name string, e condition.Expr) {
	t.Helper()
	if e == nil {
		t.Errorf("%s: no condition", name)
		return
	}
	condition.Inspect(e, func(n condition.Expr) bool {
		if id, ok := n.(*condition.IdentifierExpr); ok {
			t.Errorf("%s: macro %q not expanded", name, id.Name)
		}
		return true
	})
	back, err := condition.Parse(e.String())
	if err != nil || !condition.Equal(back, e) {
		t.Errorf("%s: condition %s does not print back: %v", name, e, err)
	}
}

func TestFalcoRules(t *testing.T) {
	tests := []struct {
		name                  string
		files                 []string
		rules, macros, lists  int
		engineVersion         string
		pluginRequirements    int
		disabled, unusedItems int
	}{
		{"falco_rules", []string{falcoRules}, 25, 87, 49, "0.57.0", 1, 0, 0},
		{"falco-incubating_rules", []string{incubatingRules}, 31, 82, 54, "0.57.0", 1, 0, 0},
		// The incubating rules redefine many of the stable rules' macros and lists.
		{"both", []string{falcoRules, incubatingRules}, 56, 157, 83, "0.57.0", 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := loadFiles(t, tt.files...)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if len(set.Rules) != tt.rules || len(set.Macros) != tt.macros || len(set.Lists) != tt.lists {
				t.Errorf("got %d rules, %d macros, %d lists; want %d, %d, %d",
					len(set.Rules), len(set.Macros), len(set.Lists), tt.rules, tt.macros, tt.lists)
			}
			if set.RequiredEngineVersion != tt.engineVersion {
				t.Errorf("RequiredEngineVersion = %q, want %q", set.RequiredEngineVersion, tt.engineVersion)
			}
			if got := len(set.RequiredPluginVersions); got != tt.pluginRequirements {
				t.Errorf("got %d plugin requirements, want %d", got, tt.pluginRequirements)
			}
			for _, w := range set.Warnings {
				if !strings.Contains(w.Msg, "plugin requirement not checked") {
					t.Errorf("unexpected warning: %s", w)
				}
			}
			for _, r := range set.Rules {
				if !r.Applicable || r.Source != "syscall" {
					t.Errorf("rule %q: source %q, applicable %v", r.Name, r.Source, r.Applicable)
				}
				checkExpanded(t, r.Name, r.Condition)
			}
			for _, m := range set.Macros {
				if !m.Used {
					t.Errorf("macro %q unused", m.Name)
				}
				checkExpanded(t, m.Name, m.Condition)
			}
		})
	}
}

func TestFalcoRulesDetails(t *testing.T) {
	set, err := loadFiles(t, falcoRules)
	if err != nil {
		t.Fatal(err)
	}
	r := findRule(t, set, "Clear Log Activities")
	if r.Priority != rules.PriorityWarning || !r.Enabled || r.File != falcoRules || r.Line != 934 {
		t.Errorf("Clear Log Activities: priority %v, enabled %v, at %s:%d", r.Priority, r.Enabled, r.File, r.Line)
	}
	wantTags := []string{"NIST_800-53_AU-10", "T1070", "container", "filesystem", "host", "maturity_stable", "mitre_defense_evasion"}
	if strings.Join(r.Tags, ",") != strings.Join(wantTags, ",") {
		t.Errorf("Clear Log Activities tags = %q, want %q", r.Tags, wantTags)
	}
	if !strings.HasPrefix(r.Output, "Log files were tampered | file=%fd.name") {
		t.Errorf("Clear Log Activities output = %q", r.Output)
	}

	// A quoted list item keeps its escapes' meaning.
	if items := findList(t, set, "known_shell_spawn_cmdlines").Items; !contains(items, `sh -c node -e "require('nan')"`) {
		t.Errorf("known_shell_spawn_cmdlines = %q, missing the require('nan') command line", items)
	}
	if items := findList(t, set, "login_binaries").Items; !contains(items, "(systemd)") {
		t.Errorf("login_binaries = %q, missing (systemd)", items)
	}
}

func contains(items []string, s string) bool {
	for _, it := range items {
		if it == s {
			return true
		}
	}
	return false
}

// TestHandExpanded compares compiled conditions with conditions expanded by hand from the
// macro and list definitions in the fixtures.
func TestHandExpanded(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		rule  string
		want  string
	}{
		{
			name:  "Clear Log Activities",
			files: []string{falcoRules},
			rule:  "Clear Log Activities",
			want: `(evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)
				and (fd.directory in (/var/log, /dev/log) or fd.filename in (syslog, auth.log, secure, kern.log,
				  cron, user.log, dpkg.log, last.log, yum.log, access_log, mysql.log, mysqld.log))
				and evt.arg.flags contains "O_TRUNC"
				and not (proc.name=containerd and (
				  fd.name startswith "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/" or
				  fd.name startswith "/var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots" or
				  fd.name startswith "/var/lib/containerd/tmpmounts/" or
				  fd.name startswith "/var/lib/rancher/k3s/agent/containerd/tmpmounts/"))
				and not (container.image.repository endswith "splunk/fluentd-hec" or
				  container.image.repository endswith "fluent/fluentd-kubernetes-daemonset" or
				  container.image.repository endswith "openshift3/ose-logging-fluentd" or
				  container.image.repository endswith "containernetworking/azure-npm")
				and not ((evt.num=0))`,
		},
		{
			name:  "SysFlow in",
			files: []string{filepath.Join(fixtures, "sysflow-policies", "unit_test_in.yaml")},
			rule:  "In rule",
			want: `sf.container.name contains node
				and (sf.type=PE and sf.proc.exe in (/usr/bin/python, bash, /bin/node))
				and sf.proc.args startswith cos-write.py`,
		},
		{
			name:  "SysFlow pmatch",
			files: []string{filepath.Join(fixtures, "sysflow-policies", "unit_test_pmatch.yaml")},
			rule:  "Pmatch rule",
			want: `sf.container.name contains node and sf.type=PE
				and sf.proc.exe pmatch (python, bash, /bin/node)
				and sf.proc.args startswith cos-write.py`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := loadFiles(t, tt.files...)
			if err != nil {
				t.Fatal(err)
			}
			got := findRule(t, set, tt.rule).Condition
			want, err := condition.Parse(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !condition.Equal(got, want) {
				t.Errorf("rule %q:\n got %s\nwant %s", tt.rule, got, want)
			}
		})
	}
}

func TestSysFlowPolicies(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(fixtures, "sysflow-policies", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no SysFlow policies: %v", err)
	}
	// These files are not valid YAML as they are.
	broken := map[string]int{ // file -> line of the YAML error
		"runtimeintegrity.yaml":      2,
		"unit_test_fileflow.yaml":    3,
		"unit_test_logic.yaml":       9,
		"unit_test_networkflow.yaml": 3,
		"unit_test_simple.yaml":      24,
	}
	for _, path := range paths {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			_, err := loadFiles(t, path)
			if line, ok := broken[base]; ok {
				var errs rules.ErrorList
				if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != path || errs[0].Line != line {
					t.Fatalf("Compile = %v, want one YAML error at %s:%d", err, path, line)
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				l := rules.NewLoader()
				if err := l.Load(path, []byte(sysflowyaml.Repair(string(data)))); err != nil {
					t.Fatalf("Load(repaired %s): %v", base, err)
				}
				_, err = l.Compile()
				if err != nil {
					t.Fatalf("Compile(repaired %s): %v", base, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
		})
	}

	// SysFlow's own extensions load with warnings.
	set, err := loadFiles(t, filepath.Join(fixtures, "sysflow-policies", "path.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := findRule(t, set, "New pod in namespace robot-shop")
	if r.Priority != rules.PriorityError || r.Output != "" {
		t.Errorf("priority %v, output %q; want Error and none", r.Priority, r.Output)
	}
	if len(set.Warnings) != 2 {
		t.Errorf("warnings = %v, want one for the output and one for the priority", set.Warnings)
	}
	set, err = loadFiles(t, filepath.Join(fixtures, "sysflow-policies", "globals.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(set, `Unknown top level item "filter"`) {
		t.Errorf("no warning for the filter item: %v", set.Warnings)
	}
	set, err = loadFiles(t, filepath.Join(fixtures, "sysflow-policies", "falco.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Rules) != 61 || set.RequiredEngineVersion != "0.7.0" {
		t.Errorf("falco.yaml: %d rules, engine version %q; want 61, 0.7.0", len(set.Rules), set.RequiredEngineVersion)
	}
}

func hasWarning(set *rules.RuleSet, msg string) bool {
	for _, w := range set.Warnings {
		if strings.Contains(w.String(), msg) {
			return true
		}
	}
	return false
}

func BenchmarkFalcoRules(b *testing.B) {
	stable, err := os.ReadFile(falcoRules)
	if err != nil {
		b.Fatal(err)
	}
	incubating, err := os.ReadFile(incubatingRules)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		l := rules.NewLoader()
		l.Load("falco_rules.yaml", stable)
		l.Load("falco-incubating_rules.yaml", incubating)
		if _, err := l.Compile(); err != nil {
			b.Fatal(err)
		}
	}
}
