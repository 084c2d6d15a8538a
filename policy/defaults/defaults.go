// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package defaults

import (
	_ "embed"

	"github.com/sysflux/sysflux/policy/engine"
)

// FalcoRulesName is the name the default rules file goes by among the rules in force: a file
// put with this name replaces it.
const FalcoRulesName = "falco_rules.yaml"

//go:embed falco_rules.yaml
var falcoRules []byte

// Files returns the default rules files, in load order: Falco's falco_rules.yaml. The caller
// may keep and change the result.
func Files() []engine.File {
	return []engine.File{{Name: FalcoRulesName, Data: append([]byte(nil), falcoRules...)}}
}
