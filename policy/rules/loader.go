// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Loader reads rules files, in order, and compiles what they define into a RuleSet. Each file
// may add to or override what earlier files defined, as Falco's loader allows. A Loader is
// not safe for concurrent use.
type Loader struct {
	lists  collection[*listInfo]
	macros collection[*macroInfo]
	rules  collection[*ruleInfo]
	order  int // bumped by every definition, append and override (Falco's m_cur_index)

	engineVersion *engineVersion
	plugins       []PluginRequirement

	errs     ErrorList
	warnings []Warning
}

// NewLoader returns a Loader with nothing loaded.
func NewLoader() *Loader {
	return &Loader{
		lists:  newCollection[*listInfo](),
		macros: newCollection[*macroInfo](),
		rules:  newCollection[*ruleInfo](),
	}
}

// LoadFile reads the rules file at path. See Load.
func (l *Loader) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		e := &Error{File: path, Msg: "cannot read rules file", Err: err}
		l.errs = append(l.errs, e)
		return ErrorList{e}
	}
	return l.Load(path, data)
}

// Load reads a rules file's content; name is the file's name for messages. It returns the
// problems found in this file, as an ErrorList, and goes on past an item in error so as to
// report the others. Compile reports them again, with the errors found while compiling.
//
// A file whose YAML does not parse defines nothing.
func (l *Loader) Load(name string, data []byte) error {
	r := &reader{l: l, src: newSource(name, data)}
	r.read()
	l.errs = append(l.errs, r.errs...)
	return r.errs.Err()
}

// collection holds the lists, macros or rules by name, in the order of first definition.
type collection[T any] struct {
	byName map[string]T
	order  []T
}

func newCollection[T any]() collection[T] {
	return collection[T]{byName: make(map[string]T)}
}

func (c *collection[T]) get(name string) (T, bool) {
	v, ok := c.byName[name]
	return v, ok
}

// info is what lists, macros and rules have in common.
type info struct {
	name string
	pos  position
	// index is the order of the first definition, visibility the order of the last
	// definition, append or override. A list or macro may refer to the lists or macros whose
	// index is below its visibility.
	index, visibility int
}

type listInfo struct {
	info
	items []listItem
}

type listItem struct {
	value string
	pos   position
}

type macroInfo struct {
	info
	cond *text
}

type ruleInfo struct {
	info
	cond                *text
	output, desc        string
	priority            Priority
	tags                []string // sorted and unique, as Falco keeps them in a set
	source              string
	enabled             bool
	warnEvttypes        bool
	skipIfUnknownFilter bool
	exceptions          []*exceptionInfo
	actions, prefilter  []string // SysFlow's policy keys
}

// ruleUpdate is an append to a rule or a replacement of some of its keys; nil fields are
// not changed.
type ruleUpdate struct {
	info
	cond                *text
	output, desc        *string
	tags                []string
	hasTags             bool
	exceptions          []*exceptionInfo
	hasExceptions       bool
	priority            *Priority
	enabled             *bool
	warnEvttypes        *bool
	skipIfUnknownFilter *bool
}

func (u *ruleUpdate) empty() bool {
	return u.cond == nil && u.output == nil && u.desc == nil && !u.hasTags && !u.hasExceptions &&
		u.priority == nil && u.enabled == nil && u.warnEvttypes == nil && u.skipIfUnknownFilter == nil
}

// exceptionInfo is an item of a rule's exceptions.
type exceptionInfo struct {
	name   string
	pos    position
	fields entry
	comps  entry
	values []entry
}

// entry is a scalar or a sequence of entries: an exception's fields, comps, or one of its
// values.
type entry struct {
	isList bool
	item   string
	items  []entry
}

func (e entry) valid() bool { return e.isList && len(e.items) > 0 || !e.isList && e.item != "" }

// itemCtx names the item being read, for messages.
type itemCtx struct {
	kind, name string
}

// reader reads one file into its Loader.
type reader struct {
	l    *Loader
	src  *source
	errs ErrorList
}

func (r *reader) errorAt(pos position, c itemCtx, err error, format string, args ...any) *Error {
	return &Error{
		File: pos.file, Line: pos.line, Column: pos.col,
		Kind: c.kind, Name: c.name, Msg: fmt.Sprintf(format, args...), Err: err,
	}
}

func (r *reader) fail(n *yaml.Node, c itemCtx, format string, args ...any) *Error {
	return r.errorAt(r.src.at(n), c, nil, format, args...)
}

func (r *reader) warn(n *yaml.Node, c itemCtx, format string, args ...any) {
	pos := r.src.at(n)
	r.l.warnings = append(r.l.warnings, Warning{
		File: pos.file, Line: pos.line, Column: pos.col,
		Kind: c.kind, Name: c.name, Msg: fmt.Sprintf(format, args...),
	})
}

// yamlLine finds the line number in yaml.v3's error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func (r *reader) read() {
	// As Falco, parse every document before reading any, so that a file with broken YAML
	// defines nothing.
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(r.src.data))
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e := &Error{File: r.src.name, Msg: err.Error(), Err: err}
			if m := yamlLine.FindStringSubmatch(e.Msg); m != nil {
				e.Line, _ = strconv.Atoi(m[1])
				e.Msg = strings.TrimPrefix(e.Msg, m[0])
			}
			r.errs = append(r.errs, e)
			return
		}
		docs = append(docs, doc)
	}
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		content := deref(doc.Content[0])
		if isNull(content) {
			continue
		}
		if content.Kind != yaml.SequenceNode {
			r.errs = append(r.errs, r.fail(content, itemCtx{}, "Rules content is not yaml array of objects"))
			continue
		}
		for _, item := range content.Content {
			item = deref(item)
			if isNull(item) {
				continue
			}
			if err := r.readItem(item); err != nil {
				r.errs = append(r.errs, err)
			}
		}
	}
}

func (r *reader) readItem(item *yaml.Node) *Error {
	if item.Kind != yaml.MappingNode {
		return r.fail(item, itemCtx{}, "Unexpected element type. Each element should be a yaml associative array.")
	}
	switch {
	case lookup(item, "required_engine_version") != nil:
		return r.readEngineVersion(item)
	case lookup(item, "required_plugin_versions") != nil:
		return r.readPluginVersions(item)
	case lookup(item, "list") != nil:
		return r.readList(item)
	case lookup(item, "macro") != nil:
		return r.readMacro(item)
	case lookup(item, "rule") != nil:
		return r.readRule(item)
	}
	key := ""
	if len(item.Content) > 0 {
		key = item.Content[0].Value
	}
	r.warn(item, itemCtx{}, "Unknown top level item %q", key)
	return nil
}

// listName is libsinsp's BareStr: what may name a list.
var listName = regexp.MustCompile(`^[^()"'[:space:]=,]+$`)

func (r *reader) readList(item *yaml.Node) *Error {
	name, _, err := r.value(item, "list", itemCtx{kind: "list"})
	if err != nil {
		return err
	}
	c := itemCtx{kind: "list", name: name}
	if !listName.MatchString(name) {
		return r.fail(item, c, "List has an invalid name. List names must match a regular expression: %s", listName)
	}
	v := &listInfo{info: info{name: name, pos: r.src.at(item)}}
	items := deref(lookup(item, "items"))
	if items == nil {
		return r.fail(item, c, "Item has no mapping for key 'items'")
	}
	if items.Kind != yaml.SequenceNode {
		return r.fail(items, c, "Value is not a sequence (value for 'items')")
	}
	for _, it := range items.Content {
		it = deref(it)
		if it.Kind != yaml.ScalarNode {
			return r.fail(it, c, "sequence value is not scalar")
		}
		v.items = append(v.items, listItem{value: it.Value, pos: r.src.at(it)})
	}
	appendFlag, err := r.appendFlag(item, c)
	if err != nil {
		return err
	}
	app, repl, err := r.overrides(item, c, []string{"items"}, []string{"items"})
	if err != nil {
		return err
	}
	if appendFlag && len(app)+len(repl) > 0 {
		return r.fail(item, c, errOverrideAppend)
	}
	if appendFlag || slices.Contains(app, "items") {
		prev, ok := r.l.lists.get(name)
		if !ok {
			return r.fail(item, c, "List uses 'append' or 'override.items: append' but no list by that name already exists")
		}
		prev.items = append(prev.items, v.items...)
		prev.visibility = r.l.next()
		return nil
	}
	define(&r.l.lists, v, &v.info, r.l.next())
	return nil
}

// define adds an item, or replaces the one of that name while keeping its index.
func define[T any](c *collection[T], v T, vi *info, order int) {
	vi.visibility = order
	if prev, ok := c.byName[vi.name]; ok {
		i := slices.IndexFunc(c.order, func(x T) bool { return any(x) == any(prev) })
		vi.index = infoOf(prev).index
		c.order[i] = v
	} else {
		vi.index = order
		c.order = append(c.order, v)
	}
	c.byName[vi.name] = v
}

func infoOf(v any) *info {
	switch v := v.(type) {
	case *listInfo:
		return &v.info
	case *macroInfo:
		return &v.info
	case *ruleInfo:
		return &v.info
	}
	panic("unreachable")
}

// next returns the next definition order.
func (l *Loader) next() int {
	l.order++
	return l.order
}

// macroName is libsinsp's Identifier, with a leading '_' allowed as in the parser.
var macroName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func (r *reader) readMacro(item *yaml.Node) *Error {
	name, _, err := r.value(item, "macro", itemCtx{kind: "macro"})
	if err != nil {
		return err
	}
	c := itemCtx{kind: "macro", name: name}
	if !macroName.MatchString(name) {
		return r.fail(item, c, "Macro has an invalid name. Macro names must match a regular expression: %s", macroName)
	}
	cond, err := r.condition(item, c)
	if err != nil {
		return err
	}
	appendFlag, err := r.appendFlag(item, c)
	if err != nil {
		return err
	}
	app, repl, err := r.overrides(item, c, []string{"condition"}, []string{"condition"})
	if err != nil {
		return err
	}
	if appendFlag && len(app)+len(repl) > 0 {
		return r.fail(item, c, errOverrideAppend)
	}
	if appendFlag || slices.Contains(app, "condition") {
		prev, ok := r.l.macros.get(name)
		if !ok {
			return r.fail(item, c, "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists")
		}
		prev.cond = prev.cond.clone()
		prev.cond.append(cond.s, cond.parts[0].loc)
		prev.visibility = r.l.next()
		return nil
	}
	v := &macroInfo{info: info{name: name, pos: r.src.at(item)}, cond: cond}
	define(&r.l.macros, v, &v.info, r.l.next())
	return nil
}
