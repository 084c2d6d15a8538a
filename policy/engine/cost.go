package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"

	"github.com/sysflux/sysflux/policy/field"
)

// What evaluating a condition on one record may cost, and the limits on it.
//
// CEL prices an evaluation in cost units: one for each variable read and each call, plus, for
// calls whose work grows with their operands, a tenth of a unit per byte a string function
// scans (contains: a tenth of one length times a tenth of the other), one per item searched in
// a list (a constant list is a set, but is priced as a list), and for a comprehension (exists,
// all, map) the cost of its body times the number of values. costModels prices the functions
// package translate writes, and reprices three of CEL's so that a unit is about the same time
// whatever the expression: regular expressions and glob, measured, and string equality, whose
// tracking by the runtime limit counts both strings. Measured on one core, a unit takes 2 to 5
// ns.
//
// The estimate is CEL's static worst case over the sizes below for the values of fields.

const (
	// CostValueBytes is the size the cost estimate gives every string a field holds (and each
	// item of a list or map field): PATH_MAX. A record with longer values costs more than the
	// estimate; the runtime limit stops it.
	CostValueBytes = 4096
	// CostListLen is the number of values the cost estimate gives a list or map field: a
	// process's lineage is cut at 64 (package field), a record's operation flags are fewer than
	// 32, a connection has two ends.
	CostListLen = 64
)

// Option changes how conditions compile.
type Option func(*options)

type options struct {
	maxCost uint64
}

// MaxCost bounds what evaluating one condition on one record may cost, in CEL's cost units.
// A condition whose estimated worst-case cost is over limit does not compile (a *CostError).
// An expression written in CEL (CompileCEL) is also stopped when one evaluation costs more
// than limit all the same, on a record with values longer than the estimate assumes
// (CostValueBytes): the rule does not match the record, and the Evaluator counts it
// (Evaluator.Stopped). A Falco condition is not tracked as it runs, which would double the
// time it takes: it has no comprehension but over a process's ancestors, which are at most
// 64, so what it costs beyond the estimate grows only with the length of the values. Zero
// means no limit.
func MaxCost(limit uint64) Option {
	return func(o *options) { o.maxCost = limit }
}

func applyOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// CostError is a condition that may cost more than the limit to evaluate on one record.
type CostError struct {
	// Cost is the estimated worst-case cost of one evaluation; Limit is the limit it is over.
	Cost, Limit uint64
	// Part, when set, is the smallest part of the condition, in CEL, that alone may cost more
	// than Limit; PartCost is what it may cost and Line and Column (from 1) where it starts in
	// the CEL text.
	Part         string
	PartCost     uint64
	Line, Column int
	// Spread: the condition is made of parts (joined by &&, || or !), none of which costs more
	// than Limit alone.
	Spread bool
}

func (e *CostError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the cost of evaluating it on one record is %s, over the limit of %s (CEL's worst-case estimate, with values of up to %d bytes and lists of up to %d)",
		FormatCost(e.Cost), FormatCost(e.Limit), CostValueBytes, CostListLen)
	switch {
	case e.Part != "":
		fmt.Fprintf(&b, "; that of this part alone is %s: %s", FormatCost(e.PartCost), abbrev(e.Part, 160))
	case e.Spread:
		b.WriteString("; no one part costs that much alone, but all together")
	}
	return b.String()
}

// FormatCost writes a cost with its digits grouped by three, or "unbounded" for one CEL
// cannot bound.
func FormatCost(c uint64) string {
	if c == math.MaxUint64 {
		return "unbounded"
	}
	s := fmt.Sprint(c)
	// Group the digits by three, for the eye.
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// abbrev cuts s to about n bytes.
func abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// fieldSizes is the cost estimator's view of the fields: their values' sizes.
type fieldSizes struct{}

var (
	valueSize = cost.RangedSizeEstimate(0, CostValueBytes)
	listLen   = cost.RangedSizeEstimate(0, CostListLen)
	intSize   = cost.FixedSizeEstimate(1)
)

// EstimateSize implements cost.Estimator.
func (fieldSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) == 0 || len(p) > 2 {
		return nil
	}
	f, _, ok := field.Lookup(p[0])
	if !ok {
		return nil
	}
	var sz cost.SizeEstimate
	if len(p) == 2 { // an item, key or value of a list or map field
		sz = valueSize
		if f.Type == field.IntList {
			sz = intSize
		}
		return &sz
	}
	switch f.Type {
	case field.String:
		sz = valueSize
	case field.StringList, field.IPNet:
		sz = cost.ListSizeEstimate(listLen, valueSize)
	case field.IntList:
		sz = cost.ListSizeEstimate(listLen, intSize)
	case field.StringMap:
		sz = cost.MapSizeEstimate(listLen, valueSize, valueSize)
	default:
		return nil // ints and bools: CEL knows their size
	}
	return &sz
}

// EstimateCallCost implements cost.Estimator: the functions are priced by costModels.
func (fieldSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// costModels price the functions of Env that CEL's library does not, for the estimate and for
// the runtime limit alike.
func costModels() []cost.OverloadModel {
	scan := cost.StringScan
	return []cost.OverloadModel{
		// fnmatch: every position of the name for every chunk of the pattern, after rewriting
		// both; measured, five times a search's price (contains) for the same lengths.
		cost.Overload("glob_string_string",
			cost.EvalCost(cost.Sum(cost.Const(1), cost.Arg(0), cost.Arg(1), cost.Mul(cost.Scale(cost.Arg(0), 0.5), scan(cost.Arg(1)))))),
		// Regular expressions: CEL's price, times ten, which is what Go's take, measured
		// against a search (contains) of the same lengths.
		cost.Overload(overloads.Matches,
			cost.EvalCost(cost.Mul(cost.Sum(cost.Arg(0), cost.Const(1)), cost.Scale(cost.Arg(1), cost.RegexStringLengthCostFactor)))),
		cost.MemberOverload(overloads.MatchesString,
			cost.EvalCost(cost.Mul(cost.Sum(cost.Target(), cost.Const(1)), cost.Scale(cost.Arg(0), cost.RegexStringLengthCostFactor)))),
		// A prefix test of the path for each item.
		cost.Overload("pmatch_string_list",
			cost.EvalCost(cost.Sum(cost.Const(1), cost.Mul(cost.Length(cost.Arg(1)), cost.Sum(cost.Const(1), scan(cost.ArgElem(1))))))),
		// A search of the string for each item.
		cost.Overload("containsany_string_list",
			cost.EvalCost(cost.Sum(cost.Const(1), cost.Mul(cost.Length(cost.Arg(1)), cost.Sum(cost.Const(1), cost.Mul(scan(cost.Arg(0)), scan(cost.ArgElem(1)))))))),
		// Every network parsed for every address.
		cost.Overload("innet_list_list",
			cost.EvalCost(cost.Sum(cost.Const(1), cost.Length(cost.Arg(0)), cost.Mul(cost.Length(cost.Arg(0)), cost.Length(cost.Arg(1)))))),
		// The document parsed, at about a unit a byte.
		cost.Overload("jsonpath_string_string",
			cost.EvalCost(cost.Sum(cost.Const(1), cost.Arg(0), scan(cost.Arg(1)))),
			cost.ResultSize(cost.AtMost(cost.Arg(0)))),
		cost.Overload("basename_string",
			cost.EvalCost(cost.Sum(cost.Const(1), scan(cost.Arg(0)))),
			cost.ResultSize(cost.AtMost(cost.Arg(0)))),
		cost.Overload("b64dec_string",
			cost.EvalCost(cost.Sum(cost.Const(1), scan(cost.Arg(0)))),
			cost.ResultSize(cost.AtMost(cost.Arg(0)))),
		cost.Overload("bcontains_string_string",
			cost.EvalCost(cost.Sum(cost.Const(1), scan(cost.Arg(1)), cost.Mul(scan(cost.Arg(0)), scan(cost.Arg(1)))))),
		cost.Overload("bstartswith_string_string",
			cost.EvalCost(cost.Sum(cost.Const(1), scan(cost.Arg(1))))),
		// Equality of strings is quick, but the runtime limit's tracking of it counts both
		// strings' characters: price that.
		cost.Overload(overloads.Equals, cost.EvalCost(cost.Sum(cost.Const(1), scan(cost.Sum(cost.Arg(0), cost.Arg(1)))))),
		cost.Overload(overloads.NotEquals, cost.EvalCost(cost.Sum(cost.Const(1), scan(cost.Sum(cost.Arg(0), cost.Arg(1)))))),
		// A copy of the list, less its first value.
		cost.Overload("ancestors_list",
			cost.EvalCost(cost.Sum(cost.Const(1+cost.ListCreateBaseCost), cost.Length(cost.Arg(0)))),
			cost.ResultSize(cost.Arg(0))),
	}
}

// estimateCost returns the worst-case cost of one evaluation of a checked expression.
func estimateCost(env *cel.Env, ast *cel.Ast) (uint64, error) {
	c, err := env.EstimateCost(ast, fieldSizes{})
	if err != nil {
		return 0, fmt.Errorf("estimate the cost: %w", err)
	}
	return c.Max, nil
}

// checkCost returns the estimated cost of ast, compiled from src, and a *CostError if it is
// over limit.
func checkCost(env *cel.Env, ast *cel.Ast, src string, limit uint64) (uint64, error) {
	c, err := estimateCost(env, ast)
	if err != nil {
		return 0, err
	}
	if c <= limit {
		return c, nil
	}
	ce := &CostError{Cost: c, Limit: limit}
	costliestPart(env, src, ce)
	return c, ce
}

// maxCostParts bounds the parts costliestPart estimates.
const maxCostParts = 256

var (
	explainOnce sync.Once
	explainEnv  *cel.Env
)

// costliestPart looks for the smallest part of src that alone costs more than the limit, going
// down through chains of && and ||, and through ! and holds, and sets it in ce; or sets
// ce.Spread if src is made of parts none of which costs too much alone. It parses src again in
// an environment that keeps the macros as written (exists, all), to write the parts as CEL.
func costliestPart(env *cel.Env, src string, ce *CostError) {
	explainOnce.Do(func() { explainEnv, _ = env.Extend(cel.EnableMacroCallTracking()) })
	if explainEnv == nil {
		return
	}
	ast, iss := explainEnv.Parse(src) // parsed, it keeps every name where it is written
	if iss.Err() != nil {
		return
	}
	info := ast.NativeRep().SourceInfo()
	root := ast.NativeRep().Expr()
	node := root
	var part string
	var partCost uint64
	for budget := maxCostParts; ; {
		operands := parts(node, nil)
		if len(operands) == 0 || len(operands) > budget {
			break
		}
		budget -= len(operands)
		var next celast.Expr
		for _, op := range operands {
			text, c, ok := subCost(env, op, info)
			if ok && c > ce.Limit && (next == nil || c > partCost) {
				next, part, partCost = op, text, c
			}
		}
		if next == nil {
			ce.Spread = node == root
			break
		}
		node = next
	}
	if part == "" {
		return
	}
	ce.Part, ce.PartCost = part, partCost
	// Where the part starts: its leftmost node.
	start := int32(-1)
	celast.PreOrderVisit(node, celast.NewExprVisitor(func(e celast.Expr) {
		if r, ok := info.GetOffsetRange(e.ID()); ok && (start < 0 || r.Start < start) {
			start = r.Start
		}
	}))
	if start >= 0 {
		loc := info.GetLocationByOffset(start)
		ce.Line, ce.Column = loc.Line(), loc.Column()+1
	}
}

// parts appends to out the parts e is made of: the operands of a chain of && or of ||, the
// operand of ! or holds; none for other expressions.
func parts(e celast.Expr, out []celast.Expr) []celast.Expr {
	if e.Kind() != celast.CallKind {
		return out
	}
	call := e.AsCall()
	switch fn := call.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		for _, a := range call.Args() {
			if a.Kind() == celast.CallKind && a.AsCall().FunctionName() == fn {
				out = parts(a, out)
			} else {
				out = append(out, a)
			}
		}
	case operators.LogicalNot, "holds":
		out = append(out, call.Args()...)
	}
	return out
}

// subCost returns a part of an expression, written as CEL, and its estimated cost.
func subCost(env *cel.Env, e celast.Expr, info *celast.SourceInfo) (string, uint64, bool) {
	src, err := parser.Unparse(e, info)
	if err != nil {
		return "", 0, false
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return "", 0, false
	}
	c, err := estimateCost(env, ast)
	if err != nil {
		return "", 0, false
	}
	return src, c, true
}

// costExceeded reports whether err is an evaluation stopped by its cost limit.
func costExceeded(err error) bool {
	var ce interpreter.EvalCancelledError
	return errors.As(err, &ce) && ce.Cause == interpreter.CostLimitExceeded
}
