// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package defaults holds the rules a hub runs unless it is given others: Falco's default rules,
// falco_rules.yaml from falcosecurity/rules, embedded unchanged. See README.md for its origin
// and license.
package defaults
