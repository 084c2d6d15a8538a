// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition

import "strings"

// String implements Expr.
func (e *AndExpr) String() string { return format(e) }

// String implements Expr.
func (e *OrExpr) String() string { return format(e) }

// String implements Expr.
func (e *NotExpr) String() string { return format(e) }

// String implements Expr.
func (e *IdentifierExpr) String() string { return format(e) }

// String implements Expr. A ValueExpr prints as the right operand of a string operator does.
func (e *ValueExpr) String() string { return format(e) }

// String implements Expr.
func (e *ListExpr) String() string { return format(e) }

// String implements Expr.
func (e *UnaryCheckExpr) String() string { return format(e) }

// String implements Expr.
func (e *BinaryCheckExpr) String() string { return format(e) }

// String implements Expr.
func (e *FieldExpr) String() string { return format(e) }

// String implements Expr.
func (e *FieldTransformerExpr) String() string { return format(e) }

// String implements Expr.
func (e *FieldValueExpr) String() string { return format(e) }

func format(e Expr) string {
	var p printer
	p.expr(e)
	return p.String()
}

// printer writes a tree in Falco syntax with as few parentheses as keep its shape: an and
// inside an or needs none, an or inside an and does. Values are written bare when the parser
// would read them back as the same bare word, and double-quoted otherwise.
type printer struct {
	strings.Builder
}

func (p *printer) expr(e Expr) {
	switch e := e.(type) {
	case *OrExpr:
		for i, c := range e.Children {
			if i > 0 {
				p.WriteString(" or ")
			}
			_, nested := c.(*OrExpr)
			p.operand(c, nested)
		}
	case *AndExpr:
		for i, c := range e.Children {
			if i > 0 {
				p.WriteString(" and ")
			}
			p.operand(c, isLogical(c))
		}
	case *NotExpr:
		p.WriteString("not ")
		_, double := e.Child.(*NotExpr) // "not not a" would read as a
		p.operand(e.Child, double || isLogical(e.Child))
	case *IdentifierExpr:
		p.WriteString(e.Name)
	case *ValueExpr:
		p.value(e, strOp)
	case *ListExpr:
		p.WriteByte('(')
		for i, v := range e.Values {
			if i > 0 {
				p.WriteString(", ")
			}
			p.value(v, strOp)
		}
		p.WriteByte(')')
	case *UnaryCheckExpr:
		p.expr(e.Left)
		p.WriteByte(' ')
		p.WriteString(string(e.Op))
	case *BinaryCheckExpr:
		p.expr(e.Left)
		p.WriteByte(' ')
		p.WriteString(string(e.Op))
		p.WriteByte(' ')
		if v, ok := e.Right.(*ValueExpr); ok {
			p.value(v, e.Op.class())
		} else {
			p.expr(e.Right)
		}
	case *FieldExpr:
		p.WriteString(e.Field)
		if e.HasArg {
			p.WriteByte('[')
			if e.Arg != "" && fieldArgLen(e.Arg) == len(e.Arg) {
				p.WriteString(e.Arg)
			} else {
				p.WriteString(Quote(e.Arg))
			}
			p.WriteByte(']')
		}
	case *FieldTransformerExpr:
		p.WriteString(string(e.Transformer))
		p.WriteByte('(')
		p.expr(e.Value)
		p.WriteByte(')')
	case *FieldValueExpr:
		p.WriteString("val(")
		p.expr(e.Field)
		p.WriteByte(')')
	}
}

func (p *printer) operand(e Expr, parens bool) {
	if parens {
		p.WriteByte('(')
	}
	p.expr(e)
	if parens {
		p.WriteByte(')')
	}
}

// value writes a value as the right operand of an operator of the given class: a list
// operator reads a bare word as a list's name, a numeric one only reads numbers.
func (p *printer) value(v *ValueExpr, class operatorClass) {
	var bare bool
	switch class {
	case numOp:
		bare = !v.Quoted && v.Value != "" &&
			(hexNumberLen(v.Value) == len(v.Value) || numberLen(v.Value) == len(v.Value))
	case listOp:
		bare = !v.Quoted && v.Value != "" && identifierLen(v.Value) == len(v.Value)
	default:
		bare = !v.Quoted && v.Value != "" && bareStringLen(v.Value) == len(v.Value)
	}
	if bare {
		p.WriteString(v.Value)
	} else {
		p.WriteString(Quote(v.Value))
	}
}

func isLogical(e Expr) bool {
	switch e.(type) {
	case *AndExpr, *OrExpr:
		return true
	}
	return false
}
