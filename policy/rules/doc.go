// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package rules loads Falco rules files and compiles them into rules whose conditions are
// syntax trees with every macro and list expanded, ready for translation to CEL.
//
// It follows Falco's rule loader (falcosecurity/falco, userspace/engine/rule_loader_reader.cpp,
// rule_loader_collector.cpp and rule_loader_compiler.cpp) in what it accepts, what it makes of
// it, and the words of its messages:
//
//   - Items: list, macro, rule, required_engine_version (recorded) and
//     required_plugin_versions (recorded, with a warning: sysflux loads no plugins). Other
//     items are warned about and skipped.
//   - Files load in order. A list, macro or rule defined again replaces the earlier one. The
//     override key appends to or replaces keys of an earlier item (Falco 0.36 and later: items
//     of lists and conditions of macros may be appended to or replaced; a rule's condition,
//     output, desc, tags and exceptions appended to; those and priority, enabled,
//     warn_evttypes and skip-if-unknown-filter replaced). The legacy append: true appends a
//     list's items, a macro's condition or a rule's condition and exceptions, with a warning.
//     A rule item with only enabled enables or disables an earlier rule, with a warning.
//   - Exceptions: fields is a list of fields, with comps defaulting to "=" each, or a single
//     field, with comps defaulting to "in" and limited to in, pmatch and intersects. Each
//     exception adds "and not (...)" to its rule's condition, built as Falco builds it.
//   - Priorities: Falco's eight levels, in any case, "info" for Informational.
//   - SysFlow's policies (Falco syntax with sf.* fields) load too: their low, medium and high
//     priorities are read as Notice, Warning and Error, and a rule without output is
//     accepted, each with a warning. Their filter items are skipped as unknown.
//   - Rules of a source other than syscall are kept, marked not Applicable, and not compiled.
//
// Lists and macros are expanded on the syntax tree rather than, as Falco does for lists, by
// pasting text into the condition: a quoted string that happens to be a list's name is left
// alone, and a list's items keep their own quoting. A list name after in, intersects or pmatch
// becomes the list whatever its length.
//
// Errors do not stop loading: every item in error is reported, with the file, line and
// column, and the kind and name of the item. Positions inside conditions are mapped back to
// the file through YAML's folding and indentation, for plain, quoted and block scalars.
//
// Expansion is bounded: a condition may not grow past 100,000 nodes, nor a list past 100,000
// items, once expanded (Falco's own rules stay below 1,300 nodes and 110 items).
//
// Not done, for lack of a field table: checking that fields exist, the warnings about rules
// without event types, and checking outputs.
package rules
