// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"fmt"
	"strings"
)

// Priority is a rule's priority. The values are syslog severities, as in Falco: the lower,
// the more severe.
type Priority int

// The priorities, most severe first.
const (
	PriorityEmergency Priority = iota
	PriorityAlert
	PriorityCritical
	PriorityError
	PriorityWarning
	PriorityNotice
	PriorityInformational
	PriorityDebug
)

var priorityNames = [...]string{
	"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug",
}

// String returns the priority's name as Falco writes it in alerts: "Critical",
// "Informational"...
func (p Priority) String() string {
	if p < 0 || int(p) >= len(priorityNames) {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// ParsePriority returns the priority named s, in any case. As in Falco, "info" is
// Informational.
func ParsePriority(s string) (Priority, error) {
	for i, name := range priorityNames {
		if strings.EqualFold(s, name) {
			return Priority(i), nil
		}
	}
	if strings.EqualFold(s, "info") {
		return PriorityInformational, nil
	}
	return 0, fmt.Errorf("invalid priority %q", s)
}

// sysflowPriorities maps the three priorities of SysFlow's policies onto Falco's. SysFlow
// reads Error and above as high, Warning as medium and Notice and below as low; each maps to
// the boundary of its range nearest the middle.
var sysflowPriorities = map[string]Priority{
	"high":   PriorityError,
	"medium": PriorityWarning,
	"low":    PriorityNotice,
}
