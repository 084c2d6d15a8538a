// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sysflux/sysflux/policy/condition"
)

// Keys of a rule that override may append to or replace.
var (
	ruleAppendable  = []string{"condition", "output", "desc", "tags", "exceptions"}
	ruleReplaceable = []string{"condition", "output", "desc", "priority", "tags", "exceptions",
		"enabled", "warn_evttypes", "skip-if-unknown-filter"}
)

func (r *reader) readRule(item *yaml.Node) *Error {
	name, _, err := r.value(item, "rule", itemCtx{kind: "rule"})
	if err != nil {
		return err
	}
	c := itemCtx{kind: "rule", name: name}
	appendFlag, err := r.appendFlag(item, c)
	if err != nil {
		return err
	}
	app, repl, err := r.overrides(item, c, ruleAppendable, ruleReplaceable)
	if err != nil {
		return err
	}
	switch {
	case len(app)+len(repl) > 0:
		if appendFlag {
			return r.fail(item, c, errOverrideAppend)
		}
		return r.readRuleOverride(item, c, app, repl)
	case appendFlag:
		u := &ruleUpdate{info: info{name: name, pos: r.src.at(item)}}
		if lookup(item, "condition") != nil {
			if u.cond, err = r.condition(item, c); err != nil {
				return err
			}
		}
		if lookup(item, "exceptions") != nil {
			if u.exceptions, err = r.exceptions(item, c, true); err != nil {
				return err
			}
			u.hasExceptions = true
		}
		return r.appendRule(item, c, u)
	}

	// A rule with none of condition, output, desc and priority only enables or disables an
	// earlier rule.
	if lookup(item, "condition") == nil && lookup(item, "output") == nil &&
		lookup(item, "desc") == nil && lookup(item, "priority") == nil {
		enabled, err := r.boolValue(item, "enabled", c)
		if err != nil {
			return err
		}
		r.warn(item, c, "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').")
		prev, ok := r.l.rules.get(name)
		if !ok {
			return r.fail(item, c, "Rule has 'enabled' key but no rule by that name already exists")
		}
		prev.enabled = enabled
		return nil
	}

	v := &ruleInfo{
		info:         info{name: name, pos: r.src.at(item)},
		source:       "syscall",
		enabled:      true,
		warnEvttypes: true,
	}
	if v.cond, err = r.condition(item, c); err != nil {
		return err
	}
	// Falco requires an output; SysFlow's policies need none, and are read with a warning.
	if s, _, ok, err := r.optValue(item, "output", c); err != nil {
		return err
	} else if ok {
		v.output = strings.TrimSpace(s)
	} else {
		r.warn(item, c, "Item has no mapping for key 'output': read as a SysFlow policy rule, with no output")
	}
	if v.desc, _, err = r.value(item, "desc", c); err != nil {
		return err
	}
	if v.priority, err = r.priority(item, c); err != nil {
		return err
	}
	if s, _, ok, err := r.optValue(item, "source", c); err != nil {
		return err
	} else if ok {
		v.source = s
	}
	for _, opt := range []struct {
		key string
		dst *bool
	}{
		{"enabled", &v.enabled}, {"warn_evttypes", &v.warnEvttypes}, {"skip-if-unknown-filter", &v.skipIfUnknownFilter},
	} {
		if lookup(item, opt.key) == nil {
			continue
		}
		if *opt.dst, err = r.boolValue(item, opt.key, c); err != nil {
			return err
		}
	}
	if v.tags, err = r.tags(item, c); err != nil {
		return err
	}
	// SysFlow's policies name the rule's actions and the record types it applies to.
	for _, key := range []string{"action", "actions"} {
		if lookup(item, key) != nil {
			if v.actions, err = r.words(item, key, c); err != nil {
				return err
			}
		}
	}
	if lookup(item, "prefilter") != nil {
		if v.prefilter, err = r.words(item, "prefilter", c); err != nil {
			return err
		}
	}
	if v.exceptions, err = r.exceptions(item, c, false); err != nil {
		return err
	}

	prev, ok := r.l.rules.get(name)
	if ok && prev.source != v.source {
		return r.fail(item, c, "Rule has been re-defined with a different source")
	}
	for _, ex := range v.exceptions {
		if !ex.fields.valid() {
			return r.errorAt(ex.pos, c, nil, "Rule exception item must have fields property with a list of fields")
		}
		if err := r.validateException(ex, c); err != nil {
			return err
		}
	}
	define(&r.l.rules, v, &v.info, r.l.next())
	return nil
}

// readRuleOverride reads a rule item with an override key: the keys listed under override
// are appended to or replace the earlier rule's, and the item may have no other key.
func (r *reader) readRuleOverride(item *yaml.Node, c itemCtx, app, repl []string) *Error {
	expected := map[string]bool{}
	for _, key := range append(slices.Clone(ruleAppendable), ruleReplaceable...) {
		if lookup(item, key) != nil {
			expected[key] = true
		}
	}
	// take reports whether key is overridden with mode, checking that the item defines it.
	var missing *Error
	take := func(keys []string, mode, key string) bool {
		if missing != nil || !slices.Contains(keys, key) {
			return false
		}
		if !expected[key] {
			missing = r.fail(item, c, "An %s override for '%s' was specified but '%s' is not defined", mode, key, key)
			return false
		}
		delete(expected, key)
		return true
	}
	var err *Error
	for _, mode := range []string{"append", "replace"} {
		keys := app
		if mode == "replace" {
			keys = repl
		}
		if len(keys) == 0 {
			continue
		}
		u := &ruleUpdate{info: info{name: c.name, pos: r.src.at(item)}}
		if take(keys, mode, "condition") {
			if u.cond, err = r.condition(item, c); err != nil {
				return err
			}
		}
		if take(keys, mode, "exceptions") {
			if u.exceptions, err = r.exceptions(item, c, true); err != nil {
				return err
			}
			u.hasExceptions = true
		}
		if take(keys, mode, "output") {
			s, _, err := r.value(item, "output", c)
			if err != nil {
				return err
			}
			u.output = &s
		}
		if take(keys, mode, "desc") {
			s, _, err := r.value(item, "desc", c)
			if err != nil {
				return err
			}
			u.desc = &s
		}
		if take(keys, mode, "tags") {
			if u.tags, err = r.tags(item, c); err != nil {
				return err
			}
			u.hasTags = true
		}
		if take(keys, mode, "priority") {
			p, err := r.priority(item, c)
			if err != nil {
				return err
			}
			u.priority = &p
		}
		for _, key := range []string{"enabled", "warn_evttypes", "skip-if-unknown-filter"} {
			if !take(keys, mode, key) {
				continue
			}
			b, err := r.boolValue(item, key, c)
			if err != nil {
				return err
			}
			switch key {
			case "enabled":
				u.enabled = &b
			case "warn_evttypes":
				u.warnEvttypes = &b
			default:
				u.skipIfUnknownFilter = &b
			}
		}
		if missing != nil {
			return missing
		}
		if mode == "append" {
			err = r.appendRule(item, c, u)
		} else {
			err = r.replaceRule(item, c, u)
		}
		if err != nil {
			return err
		}
	}
	for _, key := range ruleReplaceable { // a fixed order for the message
		if expected[key] {
			return r.fail(lookupKey(item, key), c, "Unexpected key '%s': no corresponding entry under 'override' is defined.", key)
		}
	}
	return nil
}

// appendRule appends to an earlier rule's condition, output, desc, tags and exceptions.
func (r *reader) appendRule(item *yaml.Node, c itemCtx, u *ruleUpdate) *Error {
	prev, ok := r.l.rules.get(u.name)
	if !ok {
		return r.fail(item, c, "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists")
	}
	if u.empty() {
		return r.fail(item, c, "Appended rule must have exceptions or condition property")
	}
	if u.cond != nil && u.cond.s != "" {
		prev.cond = prev.cond.clone()
		prev.cond.append(u.cond.s, u.cond.parts[0].loc)
	}
	if u.output != nil && *u.output != "" {
		prev.output += " " + *u.output
	}
	if u.desc != nil && *u.desc != "" {
		prev.desc += " " + *u.desc
	}
	if u.hasTags {
		prev.tags = mergeTags(prev.tags, u.tags)
	}
	for _, ex := range u.exceptions {
		i := slices.IndexFunc(prev.exceptions, func(p *exceptionInfo) bool { return p.name == ex.name })
		if i < 0 {
			if !ex.fields.valid() {
				return r.errorAt(ex.pos, c, nil, "Rule exception must have fields property with a list of fields")
			}
			if len(ex.values) == 0 {
				return r.errorAt(ex.pos, c, nil, "Rule exception must have values property with a list of values")
			}
			if err := r.validateException(ex, c); err != nil {
				return err
			}
			prev.exceptions = append(prev.exceptions, ex)
			continue
		}
		if ex.fields.valid() {
			return r.errorAt(ex.pos, c, nil, "Can not append exception fields to existing exception, only values")
		}
		if ex.comps.valid() {
			return r.errorAt(ex.pos, c, nil, "Can not append exception comps to existing exception, only values")
		}
		// Copy before appending: the earlier exception may be shared with an earlier state.
		p := *prev.exceptions[i]
		p.values = append(slices.Clip(p.values), ex.values...)
		prev.exceptions = slices.Clone(prev.exceptions)
		prev.exceptions[i] = &p
	}
	prev.visibility = r.l.next()
	return nil
}

// replaceRule replaces keys of an earlier rule.
func (r *reader) replaceRule(item *yaml.Node, c itemCtx, u *ruleUpdate) *Error {
	prev, ok := r.l.rules.get(u.name)
	if !ok {
		return r.fail(item, c, "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists")
	}
	if u.empty() {
		return r.fail(item, c, "The rule must have at least one field that can be replaced")
	}
	if u.hasExceptions {
		for _, ex := range u.exceptions {
			if !ex.fields.valid() {
				return r.errorAt(ex.pos, c, nil, "Rule exception item must have fields property with a list of fields")
			}
			if err := r.validateException(ex, c); err != nil {
				return err
			}
		}
		prev.exceptions = u.exceptions
	}
	if u.cond != nil {
		prev.cond = u.cond
	}
	if u.output != nil {
		prev.output = *u.output
	}
	if u.desc != nil {
		prev.desc = *u.desc
	}
	if u.hasTags {
		prev.tags = u.tags
	}
	if u.priority != nil {
		prev.priority = *u.priority
	}
	if u.enabled != nil {
		prev.enabled = *u.enabled
	}
	if u.warnEvttypes != nil {
		prev.warnEvttypes = *u.warnEvttypes
	}
	if u.skipIfUnknownFilter != nil {
		prev.skipIfUnknownFilter = *u.skipIfUnknownFilter
	}
	prev.visibility = r.l.next()
	return nil
}

// validateException sets the default comparison operators of an exception and checks that
// its fields and comps agree, as Falco's validate_exception_info does.
func (r *reader) validateException(ex *exceptionInfo, c itemCtx) *Error {
	fail := func(format string, args ...any) *Error {
		return r.errorAt(ex.pos, c, nil, "exception %q: "+format, append([]any{ex.name}, args...)...)
	}
	if ex.fields.isList {
		if !ex.comps.valid() {
			ex.comps = entry{isList: true}
			for range ex.fields.items {
				ex.comps.items = append(ex.comps.items, entry{item: "="})
			}
		}
		if len(ex.fields.items) != len(ex.comps.items) {
			return fail("Fields and comps lists must have equal length")
		}
		for _, comp := range ex.comps.items {
			if !condition.Operator(comp.item).Valid() {
				return fail("'%s' is not a supported comparison operator", comp.item)
			}
		}
		return nil
	}
	if !ex.comps.valid() {
		ex.comps = entry{item: "in"}
	}
	if ex.comps.isList {
		return fail("Fields and comps must both be strings")
	}
	if comp := ex.comps.item; comp != "in" && comp != "pmatch" && comp != "intersects" {
		return fail("When fields is a single value, comps must be one of (in, pmatch, intersects)")
	}
	return nil
}

// exceptions reads a rule's exceptions. In an append or override, fields are optional, as
// an exception may only add values to an earlier one of the same name.
func (r *reader) exceptions(item *yaml.Node, c itemCtx, update bool) ([]*exceptionInfo, *Error) {
	exs := deref(lookup(item, "exceptions"))
	if exs == nil || isNull(exs) {
		return nil, nil
	}
	if exs.Kind != yaml.SequenceNode {
		return nil, r.fail(exs, c, "Rule exceptions must be a sequence")
	}
	var out []*exceptionInfo
	for _, ex := range exs.Content {
		ex = deref(ex)
		if ex.Kind != yaml.MappingNode {
			return nil, r.fail(ex, c, "Rule exception must be a mapping")
		}
		name, _, err := r.value(ex, "name", c)
		if err != nil {
			return nil, err
		}
		v := &exceptionInfo{name: name, pos: r.src.at(ex)}
		if slices.ContainsFunc(out, func(e *exceptionInfo) bool { return e.name == name }) {
			return nil, r.fail(ex, c, "Exceptions names in the same object must be unique")
		}
		if f := deref(lookup(ex, "fields")); f != nil {
			if v.fields, err = r.entry(f, c); err != nil {
				return nil, err
			}
		} else if !update {
			return nil, r.fail(ex, c, "Item has no mapping for key 'fields'")
		}
		if f := deref(lookup(ex, "comps")); f != nil {
			if v.comps, err = r.entry(f, c); err != nil {
				return nil, err
			}
		}
		if vals := deref(lookup(ex, "values")); vals != nil {
			if vals.Kind != yaml.SequenceNode {
				return nil, r.fail(vals, c, "Rule exception values must be a sequence")
			}
			for _, val := range vals.Content {
				e, err := r.entry(deref(val), c)
				if err != nil {
					return nil, err
				}
				v.values = append(v.values, e)
			}
		} else if update {
			r.warn(ex, c, "Overriding/appending exception with no values")
		}
		out = append(out, v)
	}
	return out, nil
}

// entry decodes an exception's fields, comps or value: a scalar or a sequence of them,
// nested. A null leaves the entry invalid, as in Falco.
func (r *reader) entry(n *yaml.Node, c itemCtx) (entry, *Error) {
	switch {
	case isNull(n):
		return entry{}, nil
	case n.Kind == yaml.ScalarNode:
		if n.Value == "" {
			return entry{}, r.fail(n, c, "Value must be non-empty")
		}
		return entry{item: n.Value}, nil
	case n.Kind == yaml.SequenceNode:
		e := entry{isList: true}
		for _, it := range n.Content {
			it = deref(it)
			if isNull(it) {
				return entry{}, r.fail(it, c, "Value must be non-empty")
			}
			sub, err := r.entry(it, c)
			if err != nil {
				return entry{}, err
			}
			e.items = append(e.items, sub)
		}
		return e, nil
	}
	return entry{}, r.fail(n, c, "Value is not a scalar or a sequence")
}

func (r *reader) priority(item *yaml.Node, c itemCtx) (Priority, *Error) {
	s, n, err := r.value(item, "priority", c)
	if err != nil {
		return 0, err
	}
	p, perr := ParsePriority(s)
	if perr == nil {
		return p, nil
	}
	if p, ok := sysflowPriorities[strings.ToLower(s)]; ok {
		r.warn(n, c, "SysFlow priority '%s' read as %s", s, p)
		return p, nil
	}
	return 0, r.fail(n, c, "Invalid priority")
}

// words reads a key whose value is one word or a sequence of them.
func (r *reader) words(item *yaml.Node, key string, c itemCtx) ([]string, *Error) {
	n := deref(lookup(item, key))
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, r.fail(n, c, "Value is not a sequence (value for '%s')", key)
	}
	var out []string
	for _, w := range n.Content {
		w = deref(w)
		if w.Kind != yaml.ScalarNode {
			return nil, r.fail(w, c, "sequence value is not scalar")
		}
		out = append(out, w.Value)
	}
	return out, nil
}

// tags reads a rule's tags as a sorted set.
func (r *reader) tags(item *yaml.Node, c itemCtx) ([]string, *Error) {
	seq := deref(lookup(item, "tags"))
	if seq == nil {
		return nil, nil
	}
	if seq.Kind != yaml.SequenceNode {
		return nil, r.fail(seq, c, "Value is not a sequence (value for 'tags')")
	}
	var tags []string
	for _, t := range seq.Content {
		t = deref(t)
		if t.Kind != yaml.ScalarNode {
			return nil, r.fail(t, c, "sequence value is not scalar")
		}
		tags = append(tags, t.Value)
	}
	return mergeTags(nil, tags), nil
}

func mergeTags(a, b []string) []string {
	tags := append(slices.Clone(a), b...)
	slices.Sort(tags)
	return slices.Compact(tags)
}
