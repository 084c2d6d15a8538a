// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sysflux/sysflux/policy/condition"
)

// RuleSet is what the loaded files define, compiled: every macro and list expanded.
type RuleSet struct {
	// The rules, macros and lists, in the order of their first definition. Those with errors
	// are left out.
	Rules  []Rule
	Macros []Macro
	Lists  []List

	// RequiredEngineVersion is the highest required_engine_version, as "x.y.z"; "" if none.
	RequiredEngineVersion string
	// RequiredPluginVersions lists the required_plugin_versions entries. sysflux loads no
	// plugins and does not check them.
	RequiredPluginVersions []PluginRequirement

	Warnings []Warning
}

// Rule is a compiled rule.
type Rule struct {
	Name string
	Desc string
	// Condition is the rule's condition with its exceptions added and every macro and list
	// substituted. Nodes keep the positions they had in the text they were parsed from: the
	// rule's condition, a macro's, or the condition Falco would build from an exception.
	// It is nil when the rule is not Applicable.
	Condition condition.Expr
	// ConditionText is the condition as written, with any appended conditions joined by
	// spaces; without exceptions, macros or lists expanded.
	ConditionText string
	Output        string
	Priority      Priority
	Tags          []string // sorted, without duplicates, as Falco keeps them
	Source        string   // the event source, "syscall" unless the rule says otherwise
	// Applicable is false for rules of another source than syscall, such as k8s_audit or a
	// plugin's: they are kept, but their conditions are not compiled.
	Applicable          bool
	Enabled             bool
	WarnEvttypes        bool
	SkipIfUnknownFilter bool
	// Actions are what the rule does when it matches, as SysFlow's policies name them
	// (action: [alert, tag, drop]); empty for Falco rules, which alert.
	Actions []string
	// Prefilter lists the SysFlow record types (PE, FF, NF, ...) the rule applies to, as
	// SysFlow's policies give them; empty means every type.
	Prefilter []string
	File      string // where the rule was defined (last, if it was redefined)
	Line      int
}

// Macro is a compiled macro.
type Macro struct {
	Name          string
	Condition     condition.Expr // with the macros and lists it uses substituted
	ConditionText string
	Used          bool // a rule or another macro refers to it
	File          string
	Line          int
}

// List is a list, with the items of the lists it names spliced in.
type List struct {
	Name  string
	Items []string
	Used  bool // a rule, macro or list refers to it
	File  string
	Line  int
}

// PluginRequirement is an entry of required_plugin_versions: a plugin and the lowest
// version the rules need, or any of the alternatives.
type PluginRequirement struct {
	Name         string
	Version      string
	Alternatives []PluginRequirement
}

// Compile expands what the loaded files define into a RuleSet, as Falco's rule compiler
// does:
//
//   - A list's items that name a list defined before it are replaced by that list's items.
//   - Conditions are parsed; items of parenthesised lists that name a list, and list names
//     after in, intersects and pmatch, are replaced by the list's items. Any list may be used,
//     whatever the order of definition.
//   - A macro may use the macros defined before it (or before its last append or
//     override); a rule may use any macro. A macro name is replaced by the macro's condition.
//   - A rule's exceptions are added to its condition: "(cond) and not (exception) ...".
//
// Compile returns every error, those of Load included, as an ErrorList. The RuleSet is
// returned even then, with the rules that compiled, so that tools can report on it; rules
// with errors are left out of it.
func (l *Loader) Compile() (*RuleSet, error) {
	c := &compiler{
		l:      l,
		lists:  make(map[string]*compiledList),
		macros: make(map[string]*compiledMacro),
		errs:   slices.Clone(l.errs),
	}
	set := &RuleSet{RequiredPluginVersions: slices.Clone(l.plugins)}
	if l.engineVersion != nil {
		set.RequiredEngineVersion = l.engineVersion.text
	}
	for _, li := range l.lists.order {
		c.list(li)
	}
	c.compileMacros()
	for _, ri := range l.rules.order {
		if r, ok := c.rule(ri); ok {
			set.Rules = append(set.Rules, r)
		}
	}
	for _, li := range l.lists.order {
		cl := c.lists[li.name]
		if !cl.used {
			c.warn(li.pos, itemCtx{"list", li.name}, "List not referred to by any other rule/macro")
		}
		if cl.broken {
			continue
		}
		items := make([]string, len(cl.values))
		for i, v := range cl.values {
			items[i] = v.Value
		}
		set.Lists = append(set.Lists, List{
			Name: li.name, Items: items, Used: cl.used, File: li.pos.file, Line: li.pos.line,
		})
	}
	for _, mi := range l.macros.order {
		cm := c.macros[mi.name]
		if !cm.used {
			c.warn(mi.pos, itemCtx{"macro", mi.name}, "Macro not referred to by any other rule/macro")
		}
		if cm.broken {
			continue
		}
		set.Macros = append(set.Macros, Macro{
			Name: mi.name, Condition: cm.expr, ConditionText: mi.cond.s, Used: cm.used,
			File: mi.pos.file, Line: mi.pos.line,
		})
	}
	set.Warnings = append(slices.Clone(l.warnings), c.warnings...)
	return set, c.errs.Err()
}

// Limits on what expansion may build. Macros that use macros twice, and lists that name lists
// twice, grow exponentially with their depth; Falco's own rules stay far below these (their
// largest expanded condition has about 1,300 nodes, their longest list about 100 items).
const (
	maxNodes = 100_000 // in an expanded condition
	maxItems = 100_000 // in an expanded list
)

// compiler holds the state of one Compile.
type compiler struct {
	l        *Loader
	lists    map[string]*compiledList
	macros   map[string]*compiledMacro
	errs     ErrorList
	warnings []Warning
}

type compiledList struct {
	values    []*condition.ValueExpr // nil until compiled
	compiling bool
	broken    bool // too long, or names a list that is: reported once, at the first
	used      bool
}

type compiledMacro struct {
	info   *macroInfo
	expr   condition.Expr
	size   int  // the number of nodes of expr, once expanded
	broken bool // its condition has errors, reported once at the macro
	used   bool
}

func (c *compiler) errorAt(pos position, ctx itemCtx, err error, format string, args ...any) {
	c.errs = append(c.errs, &Error{
		File: pos.file, Line: pos.line, Column: pos.col,
		Kind: ctx.kind, Name: ctx.name, Msg: fmt.Sprintf(format, args...), Err: err,
	})
}

func (c *compiler) warn(pos position, ctx itemCtx, format string, args ...any) {
	c.warnings = append(c.warnings, Warning{
		File: pos.file, Line: pos.line, Column: pos.col,
		Kind: ctx.kind, Name: ctx.name, Msg: fmt.Sprintf(format, args...),
	})
}

// list compiles a list: its items, with those that name a list visible to it replaced by
// that list's compiled items, recursively.
func (c *compiler) list(li *listInfo) *compiledList {
	if cl, ok := c.lists[li.name]; ok {
		return cl
	}
	cl := &compiledList{compiling: true}
	c.lists[li.name] = cl
	for _, it := range li.items {
		if len(cl.values) > maxItems || cl.broken {
			break
		}
		ref, ok := c.l.lists.get(it.value)
		if ok && ref.index < li.visibility {
			if cr := c.list(ref); !cr.compiling {
				cr.used = true
				cl.values = append(cl.values, cr.values...)
				cl.broken = cr.broken
				continue
			}
		}
		v, err := listValue(it.value)
		if err != nil {
			c.errorAt(it.pos, itemCtx{"list", li.name}, err, "invalid item %q: %v", it.value, err)
			continue
		}
		cl.values = append(cl.values, v)
	}
	if len(cl.values) > maxItems && !cl.broken {
		c.errorAt(li.pos, itemCtx{"list", li.name}, nil, "list has more than %d items once the lists it names are spliced in", maxItems)
		cl.broken = true
	}
	if cl.broken {
		cl.values = nil
	}
	cl.compiling = false
	return cl
}

// listValue reads a list item as Falco does when it pastes the item into a condition: an
// item that starts with a quote is a quoted string, one with a space is quoted as is, and
// anything else is a bare word. Falco's parser would stop a bare word at a parenthesis, a
// comma, '=' or a quote; such an item is taken whole, as if it had been quoted.
func listValue(item string) (*condition.ValueExpr, error) {
	switch {
	case strings.HasPrefix(item, `"`), strings.HasPrefix(item, `'`):
		s, err := condition.Unquote(item)
		return &condition.ValueExpr{Value: s, Quoted: true}, err
	case strings.Contains(item, " "):
		s, err := condition.Unquote(`"` + item + `"`)
		return &condition.ValueExpr{Value: s, Quoted: true}, err
	}
	v := &condition.ValueExpr{Value: item}
	v.Quoted = v.String() != item // String quotes what does not read back as a bare word
	return v, nil
}

// compileMacros parses every macro, then substitutes the macros each one uses, in order of
// definition, so that later macros use the expanded conditions of earlier ones.
func (c *compiler) compileMacros() {
	for _, mi := range c.l.macros.order {
		cm := &compiledMacro{info: mi}
		c.macros[mi.name] = cm
		ctx := itemCtx{"macro", mi.name}
		expr, ok := c.parse(mi.cond.s, mi.cond, ctx, "")
		if !ok {
			cm.broken = true
			continue
		}
		expr, ok = c.substituteLists(expr, mi.cond, ctx)
		cm.expr, cm.size, cm.broken = expr, size(expr), !ok
	}
	for _, mi := range c.l.macros.order {
		cm := c.macros[mi.name]
		if cm.broken {
			continue
		}
		visible := func(m *compiledMacro) bool { return m.info.index < mi.visibility }
		budget := maxNodes - size(cm.expr)
		expr, ok := c.resolve(cm.expr, mi.cond, itemCtx{"macro", mi.name}, visible, []string{mi.name}, &budget)
		cm.expr, cm.size, cm.broken = expr, maxNodes-budget, !ok
	}
}

// size returns the number of nodes of a tree.
func size(e condition.Expr) int {
	n := 0
	condition.Inspect(e, func(condition.Expr) bool { n++; return true })
	return n
}

// rule compiles a rule. It reports false if the rule has errors.
func (c *compiler) rule(ri *ruleInfo) (Rule, bool) {
	r := Rule{
		Name:                ri.name,
		Desc:                ri.desc,
		ConditionText:       ri.cond.s,
		Output:              ri.output,
		Priority:            ri.priority,
		Tags:                ri.tags,
		Source:              ri.source,
		Applicable:          ri.source == "syscall",
		Enabled:             ri.enabled,
		WarnEvttypes:        ri.warnEvttypes,
		SkipIfUnknownFilter: ri.skipIfUnknownFilter,
		Actions:             ri.actions,
		Prefilter:           ri.prefilter,
		File:                ri.pos.file,
		Line:                ri.pos.line,
	}
	ctx := itemCtx{"rule", ri.name}
	if !r.Applicable {
		c.warn(ri.pos, ctx, "Unknown source %s, skipping", ri.source)
		return r, true
	}
	expr, ok := c.parse(ri.cond.s, ri.cond, ctx, "")
	if !ok {
		return r, false
	}
	expr, ok = c.substituteLists(expr, ri.cond, ctx)
	if !ok {
		return r, false
	}
	nots := []condition.Expr{expr}
	for _, ex := range ri.exceptions {
		text, err := exceptionCondition(ex)
		if err != nil {
			c.errorAt(ex.pos, ctx, err, "exception %q: %v", ex.name, err)
			return r, false
		}
		if text == "" {
			continue
		}
		loc := fixed(ex.pos)
		e, ok := c.parse(text, loc, ctx, fmt.Sprintf("exception %q: ", ex.name))
		if !ok {
			return r, false
		}
		if e, ok = c.substituteLists(e, loc, ctx); !ok {
			return r, false
		}
		nots = append(nots, &condition.NotExpr{Child: e, Position: e.Pos()})
	}
	if len(nots) > 1 {
		expr = &condition.AndExpr{Children: nots, Position: expr.Pos()}
	}
	budget := maxNodes - size(expr)
	expr, ok = c.resolve(expr, ri.cond, ctx, func(*compiledMacro) bool { return true }, nil, &budget)
	if !ok {
		return r, false
	}
	r.Condition = expr
	return r, true
}

// parse parses a condition, reporting a syntax error at its place in the file.
func (c *compiler) parse(s string, loc locator, ctx itemCtx, prefix string) (condition.Expr, bool) {
	e, err := condition.Parse(s)
	if err != nil {
		var perr *condition.ParseError
		if !errors.As(err, &perr) {
			c.errorAt(loc.locate(0), ctx, err, "%s%v", prefix, err)
			return nil, false
		}
		// An error at the end of the condition is shown right after its last token, rather than
		// after the blanks that end it, which YAML puts on the next line.
		off := min(perr.Offset, len(strings.TrimRight(s, " \t\b\r\n")))
		c.errorAt(loc.locate(off), ctx, err, "%s%s", prefix, perr.Msg)
		return nil, false
	}
	return e, true
}

// substituteLists replaces list names by the lists' items: items of a ListExpr, and bare
// values on the right of an operator. After in, intersects and pmatch, a list name becomes the
// list. After any other operator, Falco's textual substitution only yields a valid condition
// if the list has one item, which then becomes the value.
func (c *compiler) substituteLists(e condition.Expr, loc locator, ctx itemCtx) (condition.Expr, bool) {
	ok := true
	lookup := func(v *condition.ValueExpr) (*compiledList, bool) {
		if v.Quoted {
			return nil, false
		}
		li, found := c.l.lists.get(v.Value)
		if !found {
			return nil, false
		}
		cl := c.list(li)
		cl.used = true
		return cl, true
	}
	// items returns the list's values, at the position of the name they replace.
	items := func(cl *compiledList, at condition.Pos) []*condition.ValueExpr {
		out := make([]*condition.ValueExpr, len(cl.values))
		for i, v := range cl.values {
			out[i] = &condition.ValueExpr{Value: v.Value, Quoted: v.Quoted, Position: at}
		}
		return out
	}
	out, _ := condition.Rewrite(e, func(n condition.Expr) (condition.Expr, error) {
		switch n := n.(type) {
		case *condition.ListExpr:
			var values []*condition.ValueExpr
			for _, v := range n.Values {
				cl, found := lookup(v)
				if !found {
					values = append(values, v)
				} else if cl.broken {
					c.brokenList(loc.locate(v.Position.Offset), ctx, v.Value)
					ok = false
				} else if len(values)+len(cl.values) <= maxItems {
					values = append(values, items(cl, v.Position)...)
				} else {
					c.errorAt(loc.locate(n.Position.Offset), ctx, nil, "list has more than %d items once the lists it names are spliced in", maxItems)
					ok = false
					break
				}
			}
			n.Values = values
		case *condition.BinaryCheckExpr:
			v, isValue := n.Right.(*condition.ValueExpr)
			if !isValue {
				break
			}
			cl, found := lookup(v)
			switch {
			case !found:
			case cl.broken:
				c.brokenList(loc.locate(v.Position.Offset), ctx, v.Value)
				ok = false
			case n.Op.TakesList():
				n.Right = &condition.ListExpr{Values: items(cl, v.Position), Position: v.Position}
			case len(cl.values) == 1:
				n.Right = items(cl, v.Position)[0]
			default:
				c.errorAt(loc.locate(v.Position.Offset), ctx, nil,
					"list '%s' has %d items and cannot be the operand of '%s'", v.Value, len(cl.values), n.Op)
				ok = false
			}
		}
		return n, nil
	})
	return out, ok
}

// brokenList reports the use of a list in error by a rule; a macro's use is not reported,
// as the list's own error and the rule's are enough.
func (c *compiler) brokenList(pos position, ctx itemCtx, name string) {
	if ctx.kind == "rule" {
		c.errorAt(pos, ctx, nil, "list '%s' has errors", name)
	}
}

// resolve replaces the names of the macros visible from a condition by their conditions,
// recursively. path holds the macros being expanded, to catch loops; budget is the number of
// nodes expansion may still add.
func (c *compiler) resolve(e condition.Expr, loc locator, ctx itemCtx, visible func(*compiledMacro) bool, path []string, budget *int) (condition.Expr, bool) {
	ok := true
	out, _ := condition.Rewrite(e, func(n condition.Expr) (condition.Expr, error) {
		id, isID := n.(*condition.IdentifierExpr)
		if !isID {
			return n, nil
		}
		m, found := c.macros[id.Name]
		switch {
		case !found || !visible(m):
			c.errorAt(loc.locate(id.Position.Offset), ctx, nil, "Undefined macro '%s' used in filter.", id.Name)
		case slices.Contains(path, id.Name):
			c.errorAt(loc.locate(id.Position.Offset), ctx, nil, "reference loop in macro '%s'", id.Name)
		case m.broken:
			if ctx.kind == "rule" { // the macro's own errors are reported at the macro
				c.errorAt(loc.locate(id.Position.Offset), ctx, nil, "macro '%s' has errors", id.Name)
			}
		case m.size > *budget:
			if *budget >= 0 { // report once
				c.errorAt(loc.locate(id.Position.Offset), ctx, nil,
					"condition has more than %d nodes once macros are expanded", maxNodes)
				*budget = -1
			}
		default:
			m.used = true
			*budget -= m.size
			sub, subOK := c.resolve(condition.Clone(m.expr), m.info.cond, itemCtx{"macro", id.Name}, visible, append(slices.Clip(path), id.Name), budget)
			if subOK {
				return sub, nil
			}
		}
		ok = false
		return n, nil
	})
	return out, ok
}

// exceptionCondition builds the condition that an exception adds, negated, to its rule,
// exactly as Falco's build_rule_exception_infos does; "" if the exception has no values.
//
//	fields: f, comps: in, values: [a, b]            (f in (a, b))
//	fields: [f, g], values: [[a, b], [c, [d, e]]]   (( f = a and g = b) or ( f = c and g in (d, e)))
func exceptionCondition(ex *exceptionInfo) (string, error) {
	var b strings.Builder
	if !ex.fields.isList {
		for i, v := range ex.values {
			if v.isList {
				return "", errors.New("Expected values array to contain a list of strings")
			}
			if i == 0 {
				fmt.Fprintf(&b, "(%s %s (", ex.fields.item, ex.comps.item)
			} else {
				b.WriteString(", ")
			}
			b.WriteString(quoteItem(v.item))
		}
		if b.Len() > 0 {
			b.WriteString("))")
		}
		return b.String(), nil
	}
	b.WriteString("(")
	for i, values := range ex.values {
		if len(ex.fields.items) != len(values.items) {
			return "", errors.New("Fields and values lists must have equal length")
		}
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("(")
		for k, field := range ex.fields.items {
			if k > 0 {
				b.WriteString(" and ")
			}
			comp, value := ex.comps.items[k].item, values.items[k]
			var operand string
			switch {
			case value.isList:
				quoted := make([]string, len(value.items))
				for j, v := range value.items {
					quoted[j] = quoteItem(v.item)
				}
				operand = "(" + strings.Join(quoted, ", ") + ")"
			case condition.Operator(comp).TakesList():
				operand = parenItem(value.item)
			default:
				operand = quoteItem(value.item)
			}
			fmt.Fprintf(&b, " %s %s %s", field.item, comp, operand)
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	if b.String() == "()" {
		return "", nil
	}
	return b.String(), nil
}

// quoteItem double-quotes a value with a space that is not quoted already, as Falco does
// (without escaping anything).
func quoteItem(s string) string {
	if strings.Contains(s, " ") && !strings.HasPrefix(s, `"`) && !strings.HasPrefix(s, `'`) {
		return `"` + s + `"`
	}
	return s
}

// parenItem parenthesises a value that is not already, as Falco does for the operand of a
// list operator.
func parenItem(s string) string {
	if !strings.HasPrefix(s, "(") {
		return "(" + s + ")"
	}
	return s
}
