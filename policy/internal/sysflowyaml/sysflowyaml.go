// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package sysflowyaml repairs the SysFlow policy files of the test fixtures that are not valid
// YAML as published, so that the policy packages' tests can load every one of them.
package sysflowyaml

import "strings"

// Repair fixes the indentation slips that make some of SysFlow's policy files invalid YAML
// (SysFlow reads them with its own grammar, which ignores indentation): items indented by one
// space, tabs in indentation, and a line continuing a description at column 0.
func Repair(data string) string {
	lines := strings.Split(data, "\n")
	shifted := false // in an item that was indented by one space
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, " - "):
			line, shifted = line[1:], true
		case strings.HasPrefix(line, "-"):
			shifted = false
		case shifted && strings.HasPrefix(line, "   "):
			line = line[1:]
		case strings.TrimSpace(line) != "" && !strings.HasPrefix(line, " ") &&
			!strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "#"):
			line = "    " + line
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		lines[i] = strings.ReplaceAll(line[:indent], "\t", "    ") + line[indent:]
	}
	return strings.Join(lines, "\n")
}
