// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/internal/sysflowyaml"
)

// TestFixtures parses the condition of every rule and macro of Falco's rules and SysFlow's
// policies.
func TestFixtures(t *testing.T) {
	var paths []string
	for _, dir := range []string{"falco-rules", "sysflow-policies"} {
		p, err := filepath.Glob(filepath.Join("../../../shared/fixtures", dir, "*.yaml"))
		if err != nil || len(p) == 0 {
			t.Fatalf("no fixtures in %s: %v", dir, err)
		}
		paths = append(paths, p...)
	}
	total := 0
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var items []map[string]any
		if err := yaml.Unmarshal(data, &items); err != nil {
			// Some of SysFlow's policies, read by SysFlow with its own grammar, are not valid YAML.
			if err := yaml.Unmarshal([]byte(sysflowyaml.Repair(string(data))), &items); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		for _, it := range items {
			cond, ok := it["condition"].(string)
			if !ok {
				continue
			}
			total++
			if _, err := condition.Parse(cond); err != nil {
				name := it["rule"]
				if name == nil {
					name = it["macro"]
				}
				t.Errorf("%s: %v: Parse(%q): %v", filepath.Base(path), name, cond, err)
			}
		}
	}
	// Every "condition:" key of the fixtures: 225 in Falco's rules, 470 in SysFlow's policies.
	if total != 695 {
		t.Errorf("parsed %d conditions, want 695", total)
	}
}
