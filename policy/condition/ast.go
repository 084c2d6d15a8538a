// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition

import "fmt"

// Pos is a position in the text of a condition.
type Pos struct {
	Offset int // byte offset, starting at 0
	Line   int // line number, starting at 1
	Column int // byte column in the line, starting at 1
}

// String returns "line:column".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// Expr is a node of a condition's syntax tree. Its concrete type is one of the pointer types
// of this package: *AndExpr, *OrExpr, *NotExpr, *IdentifierExpr, *ValueExpr, *ListExpr,
// *UnaryCheckExpr, *BinaryCheckExpr, *FieldExpr, *FieldTransformerExpr or *FieldValueExpr.
type Expr interface {
	// Pos returns where the node starts in the text it was parsed from.
	Pos() Pos
	// String returns the node in Falco syntax. Parsing the result gives the same tree, less
	// the positions.
	String() string

	expr()
}

// AndExpr is a conjunction: "a and b and c". It has at least two children.
type AndExpr struct {
	Children []Expr
	Position Pos
}

// OrExpr is a disjunction: "a or b or c". It has at least two children.
type OrExpr struct {
	Children []Expr
	Position Pos
}

// NotExpr is a negation: "not a".
type NotExpr struct {
	Child    Expr
	Position Pos
}

// IdentifierExpr is a bare name where a check is expected, as in "container and not shell":
// a reference to a macro, which the rules loader replaces with the macro's condition.
type IdentifierExpr struct {
	Name     string
	Position Pos
}

// ValueExpr is a literal on the right of an operator: a number, a bare word such as bash or
// /etc/shadow, or a quoted string (Quoted, Value unescaped). On the right of in, intersects
// and pmatch, a ValueExpr is the name of a list, as in "proc.name in shell_binaries".
type ValueExpr struct {
	Value    string
	Quoted   bool
	Position Pos
}

// ListExpr is a parenthesised list of values on the right of in, intersects or pmatch:
// (bash, "/bin/sh", 'zsh'). A bare item may name a list that the rules loader splices in.
type ListExpr struct {
	Values   []*ValueExpr
	Position Pos
}

// UnaryCheckExpr is a check with no right operand: "fd.name exists".
type UnaryCheckExpr struct {
	Left     Expr // *FieldExpr or *FieldTransformerExpr
	Op       Operator
	Position Pos
}

// BinaryCheckExpr is a comparison: "proc.name = bash", "fd.sport in (80, 443)".
type BinaryCheckExpr struct {
	Left Expr // *FieldExpr or *FieldTransformerExpr
	Op   Operator
	// Right is a *ValueExpr, a *ListExpr (list operators only), a *FieldValueExpr, or a
	// *FieldTransformerExpr, which compares against the transformed value of another field.
	Right    Expr
	Position Pos
}

// FieldExpr is a field, with its argument if it has one: fd.name, proc.aname[2],
// evt.arg[0], sf.ke.message[items.0.namespace]. A dotted argument (evt.arg.path) is not split
// from the name: which fields take one is for the field table to say.
type FieldExpr struct {
	Field    string
	Arg      string // the argument, unquoted; meaningful when HasArg
	HasArg   bool   // the field was written with brackets, as in fd.name[""]
	Position Pos
}

// FieldTransformerExpr applies a transformer to a field or to another transformer's result:
// tolower(fd.name), b64(toupper(proc.cmdline)).
type FieldTransformerExpr struct {
	Transformer Transformer
	Value       Expr // *FieldExpr or *FieldTransformerExpr
	Position    Pos
}

// FieldValueExpr is val(field) on the right of an operator: the check compares against the
// value of another field of the same event, as in "proc.name = val(proc.pname)".
type FieldValueExpr struct {
	Field    *FieldExpr
	Position Pos
}

// Pos implements Expr.
func (e *AndExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *OrExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *NotExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *IdentifierExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *ValueExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *ListExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *UnaryCheckExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *BinaryCheckExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *FieldExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *FieldTransformerExpr) Pos() Pos { return e.Position }

// Pos implements Expr.
func (e *FieldValueExpr) Pos() Pos { return e.Position }

func (*AndExpr) expr()              {}
func (*OrExpr) expr()               {}
func (*NotExpr) expr()              {}
func (*IdentifierExpr) expr()       {}
func (*ValueExpr) expr()            {}
func (*ListExpr) expr()             {}
func (*UnaryCheckExpr) expr()       {}
func (*BinaryCheckExpr) expr()      {}
func (*FieldExpr) expr()            {}
func (*FieldTransformerExpr) expr() {}
func (*FieldValueExpr) expr()       {}

// Operator is a check operator, spelled as in the condition ("=" and "==" are both kept).
type Operator string

// The operators, in the order libsinsp tries them.
const (
	OpExists      Operator = "exists"
	OpLessEq      Operator = "<="
	OpLess        Operator = "<"
	OpGreaterEq   Operator = ">="
	OpGreater     Operator = ">"
	OpEqEq        Operator = "=="
	OpEq          Operator = "="
	OpNotEq       Operator = "!="
	OpGlob        Operator = "glob"
	OpIGlob       Operator = "iglob"
	OpContains    Operator = "contains"
	OpIContains   Operator = "icontains"
	OpBContains   Operator = "bcontains"
	OpStartsWith  Operator = "startswith"
	OpBStartsWith Operator = "bstartswith"
	OpEndsWith    Operator = "endswith"
	OpRegex       Operator = "regex"
	OpIntersects  Operator = "intersects"
	OpIn          Operator = "in"
	OpPMatch      Operator = "pmatch"
)

// operatorClass says what an operator takes on its right.
type operatorClass int

const (
	unaryOp operatorClass = iota + 1 // nothing
	numOp                            // a number
	strOp                            // a string
	wordOp                           // a string; the operator is a word that a blank must follow
	listOp                           // a list or a list's name
)

// operators lists every operator in libsinsp's lexing order: a longer operator comes before
// any operator it starts with ("<=" before "<", "intersects" before "in").
var operators = []struct {
	op    Operator
	class operatorClass
}{
	{OpExists, unaryOp},
	{OpLessEq, numOp}, {OpLess, numOp}, {OpGreaterEq, numOp}, {OpGreater, numOp},
	{OpEqEq, strOp}, {OpEq, strOp}, {OpNotEq, strOp},
	{OpGlob, wordOp}, {OpIGlob, wordOp}, {OpContains, wordOp}, {OpIContains, wordOp},
	{OpBContains, wordOp}, {OpStartsWith, wordOp}, {OpBStartsWith, wordOp},
	{OpEndsWith, wordOp}, {OpRegex, wordOp},
	{OpIntersects, listOp}, {OpIn, listOp}, {OpPMatch, listOp},
}

func (o Operator) class() operatorClass {
	for _, d := range operators {
		if d.op == o {
			return d.class
		}
	}
	return 0
}

// Operators returns every operator, in the order libsinsp lists them.
func Operators() []Operator {
	ops := make([]Operator, len(operators))
	for i, d := range operators {
		ops[i] = d.op
	}
	return ops
}

// Valid reports whether o is one of the operators.
func (o Operator) Valid() bool { return o.class() != 0 }

// Unary reports whether o takes no right operand (exists).
func (o Operator) Unary() bool { return o.class() == unaryOp }

// Numeric reports whether o compares numbers (<, <=, >, >=).
func (o Operator) Numeric() bool { return o.class() == numOp }

// TakesList reports whether o takes a list on its right (in, intersects, pmatch).
func (o Operator) TakesList() bool { return o.class() == listOp }

// Transformer is the name of a field transformer.
type Transformer string

// The field transformers.
const (
	ToLower  Transformer = "tolower"
	ToUpper  Transformer = "toupper"
	B64      Transformer = "b64"
	Basename Transformer = "basename"
	Len      Transformer = "len"
)

// transformers is in libsinsp's order; val, which only takes a field, is parsed apart.
var transformers = []Transformer{ToLower, ToUpper, B64, Basename, Len}

// Valid reports whether t is one of the transformers.
func (t Transformer) Valid() bool {
	for _, v := range transformers {
		if v == t {
			return true
		}
	}
	return false
}
