// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package defaults_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
)

// fixture is the upstream falco_rules.yaml the embedded copy must equal.
const fixture = "../../../shared/fixtures/falco-rules/falco_rules.yaml"

// TestFilesAreUpstream checks that the embedded rules are the upstream file, byte for byte.
func TestFilesAreUpstream(t *testing.T) {
	want, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	files := defaults.Files()
	if len(files) != 1 || files[0].Name != "falco_rules.yaml" {
		t.Fatalf("Files() = %d files, want falco_rules.yaml alone", len(files))
	}
	if !bytes.Equal(files[0].Data, want) {
		t.Errorf("embedded falco_rules.yaml (%d bytes) differs from %s (%d bytes)", len(files[0].Data), fixture, len(want))
	}
	if !bytes.HasPrefix(files[0].Data, []byte("# SPDX-License-Identifier: Apache-2.0\n")) {
		t.Errorf("embedded falco_rules.yaml lost its license header")
	}
}

// TestFilesLoad checks that the default rules compile, and that callers cannot change them.
func TestFilesLoad(t *testing.T) {
	files := defaults.Files()
	s, err := engine.Load(files...)
	if err != nil {
		t.Fatalf("Load(default rules): %v", err)
	}
	total, compiled, _, _ := s.Counts()
	if total == 0 || compiled == 0 {
		t.Errorf("default rules: %s; want some compiled", s.Summary())
	}
	t.Log(s.Summary())
	files[0].Data[0] = 'X'
	if defaults.Files()[0].Data[0] == 'X' {
		t.Errorf("changing the result of Files changed the embedded rules")
	}
}
