// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// condition reads an item's condition.
func (r *reader) condition(item *yaml.Node, c itemCtx) (*text, *Error) {
	s, n, err := r.value(item, "condition", c)
	if err != nil {
		return nil, err
	}
	return newText(s, &scalar{src: r.src, node: n}), nil
}

// appendFlag reads the legacy append key, and warns that it is deprecated.
func (r *reader) appendFlag(item *yaml.Node, c itemCtx) (bool, *Error) {
	if lookup(item, "append") == nil {
		return false, nil
	}
	b, err := r.boolValue(item, "append", c)
	if err == nil && b {
		r.warn(item, c, "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.")
	}
	return b, err
}

const errOverrideAppend = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."

// overrides reads an item's override key: which keys it appends to and which it replaces.
func (r *reader) overrides(item *yaml.Node, c itemCtx, appendable, replaceable []string) (app, repl []string, err *Error) {
	m := deref(lookup(item, "override"))
	if m == nil {
		return nil, nil, nil
	}
	if m.Kind != yaml.MappingNode {
		return nil, nil, r.fail(m, c, "Value is not a mapping (value for 'override')")
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		key, op := k.Value, v.Value
		canAppend, canReplace := slices.Contains(appendable, key), slices.Contains(replaceable, key)
		switch {
		case v.Kind == yaml.ScalarNode && op == "append":
			if !canAppend {
				return nil, nil, r.fail(k, c, "Key '%s' cannot be appended to, use 'replace' instead", key)
			}
			app = append(app, key)
		case v.Kind == yaml.ScalarNode && op == "replace":
			if !canReplace {
				return nil, nil, r.fail(k, c, "Key '%s' cannot be replaced", key)
			}
			repl = append(repl, key)
		default:
			var allowed []string
			if canAppend {
				allowed = append(allowed, "append")
			}
			if canReplace {
				allowed = append(allowed, "replace")
			}
			return nil, nil, r.fail(v, c, "Invalid override operation for key '%s': '%s'. Allowed values are: %s", key, op, strings.Join(allowed, " "))
		}
	}
	return app, repl, nil
}

// value decodes a required scalar as Falco's decode_val does.
func (r *reader) value(item *yaml.Node, key string, c itemCtx) (string, *yaml.Node, *Error) {
	s, n, ok, err := r.optValue(item, key, c)
	if err == nil && !ok {
		err = r.fail(item, c, "Item has no mapping for key '%s'", key)
	}
	return s, n, err
}

// optValue decodes an optional scalar; ok is false if the item does not have key.
func (r *reader) optValue(item *yaml.Node, key string, c itemCtx) (s string, n *yaml.Node, ok bool, err *Error) {
	n = deref(lookup(item, key))
	switch {
	case n == nil:
		return "", nil, false, nil
	case isNull(n):
		return "", n, false, r.fail(n, c, "Mapping for key '%s' is empty", key)
	case n.Kind != yaml.ScalarNode:
		return "", n, false, r.fail(n, c, "Value is not a scalar value (value for '%s')", key)
	case n.Value == "":
		return "", n, false, r.fail(n, c, "Value must be non-empty (value for '%s')", key)
	}
	return n.Value, n, true, nil
}

// boolValue decodes a required boolean as yaml-cpp, Falco's YAML library, does.
func (r *reader) boolValue(item *yaml.Node, key string, c itemCtx) (bool, *Error) {
	s, n, err := r.value(item, key, c)
	if err != nil {
		return false, err
	}
	b, ok := parseBool(s)
	if !ok {
		return false, r.fail(n, c, "Can't decode YAML scalar value (value for '%s')", key)
	}
	return b, nil
}

// parseBool accepts y/n, yes/no, true/false and on/off in lower, upper or title case.
func parseBool(s string) (b, ok bool) {
	lower := strings.ToLower(s)
	if s != lower && s != strings.ToUpper(s) && s != strings.ToUpper(s[:1])+lower[1:] {
		return false, false
	}
	switch lower {
	case "y", "yes", "true", "on":
		return true, true
	case "n", "no", "false", "off":
		return false, true
	}
	return false, false
}

// lookup returns the value of key in the mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if k := lookupKey(m, key); k != nil {
		return m.Content[slices.Index(m.Content, k)+1]
	}
	return nil
}

// lookupKey returns the node of key in the mapping m, or nil.
func lookupKey(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}
