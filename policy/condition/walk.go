// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition

import "slices"

// Inspect traverses the tree rooted at e depth-first, left to right, calling f for each node.
// If f returns false, Inspect skips the node's children.
func Inspect(e Expr, f func(Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	for _, c := range children(e) {
		Inspect(c, f)
	}
}

// children returns the direct children of e, in order.
func children(e Expr) []Expr {
	switch e := e.(type) {
	case *AndExpr:
		return e.Children
	case *OrExpr:
		return e.Children
	case *NotExpr:
		return []Expr{e.Child}
	case *ListExpr:
		c := make([]Expr, len(e.Values))
		for i, v := range e.Values {
			c[i] = v
		}
		return c
	case *UnaryCheckExpr:
		return []Expr{e.Left}
	case *BinaryCheckExpr:
		return []Expr{e.Left, e.Right}
	case *FieldTransformerExpr:
		return []Expr{e.Value}
	case *FieldValueExpr:
		return []Expr{e.Field}
	}
	return nil
}

// Rewrite returns the tree rooted at e with every node replaced by what f returns for it. It
// works bottom-up: f sees a node after its children have been rewritten, in a copy of the node
// that holds the rewritten children, so f may change that copy or return another node. The
// tree rooted at e is not modified. Rewrite stops at the first error f returns.
//
// f must keep the tree well-formed: a ListExpr's items are *ValueExpr, a FieldValueExpr's
// field a *FieldExpr.
func Rewrite(e Expr, f func(Expr) (Expr, error)) (Expr, error) {
	if e == nil {
		return nil, nil
	}
	var err error
	rewrite := func(c Expr) Expr {
		if err != nil {
			return c
		}
		var r Expr
		r, err = Rewrite(c, f)
		return r
	}
	switch e := e.(type) {
	case *AndExpr:
		n := *e
		n.Children = mapExprs(e.Children, rewrite)
		return finish(&n, err, f)
	case *OrExpr:
		n := *e
		n.Children = mapExprs(e.Children, rewrite)
		return finish(&n, err, f)
	case *NotExpr:
		n := *e
		n.Child = rewrite(e.Child)
		return finish(&n, err, f)
	case *IdentifierExpr:
		n := *e
		return f(&n)
	case *ValueExpr:
		n := *e
		return f(&n)
	case *ListExpr:
		n := *e
		n.Values = make([]*ValueExpr, len(e.Values))
		for i, v := range e.Values {
			n.Values[i], _ = rewrite(v).(*ValueExpr)
		}
		return finish(&n, err, f)
	case *UnaryCheckExpr:
		n := *e
		n.Left = rewrite(e.Left)
		return finish(&n, err, f)
	case *BinaryCheckExpr:
		n := *e
		n.Left = rewrite(e.Left)
		n.Right = rewrite(e.Right)
		return finish(&n, err, f)
	case *FieldExpr:
		n := *e
		return f(&n)
	case *FieldTransformerExpr:
		n := *e
		n.Value = rewrite(e.Value)
		return finish(&n, err, f)
	case *FieldValueExpr:
		n := *e
		n.Field, _ = rewrite(e.Field).(*FieldExpr)
		return finish(&n, err, f)
	}
	return f(e)
}

func mapExprs(es []Expr, f func(Expr) Expr) []Expr {
	out := make([]Expr, len(es))
	for i, c := range es {
		out[i] = f(c)
	}
	return out
}

func finish(n Expr, err error, f func(Expr) (Expr, error)) (Expr, error) {
	if err != nil {
		return nil, err
	}
	return f(n)
}

// Clone returns a deep copy of the tree rooted at e.
func Clone(e Expr) Expr {
	c, _ := Rewrite(e, func(n Expr) (Expr, error) { return n, nil })
	return c
}

// Equal reports whether two trees are the same but for the positions of their nodes.
func Equal(a, b Expr) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch a := a.(type) {
	case *AndExpr:
		b, ok := b.(*AndExpr)
		return ok && slices.EqualFunc(a.Children, b.Children, Equal)
	case *OrExpr:
		b, ok := b.(*OrExpr)
		return ok && slices.EqualFunc(a.Children, b.Children, Equal)
	case *NotExpr:
		b, ok := b.(*NotExpr)
		return ok && Equal(a.Child, b.Child)
	case *IdentifierExpr:
		b, ok := b.(*IdentifierExpr)
		return ok && a.Name == b.Name
	case *ValueExpr:
		b, ok := b.(*ValueExpr)
		return ok && a.Value == b.Value && a.Quoted == b.Quoted
	case *ListExpr:
		b, ok := b.(*ListExpr)
		return ok && slices.EqualFunc(a.Values, b.Values, func(x, y *ValueExpr) bool { return Equal(x, y) })
	case *UnaryCheckExpr:
		b, ok := b.(*UnaryCheckExpr)
		return ok && a.Op == b.Op && Equal(a.Left, b.Left)
	case *BinaryCheckExpr:
		b, ok := b.(*BinaryCheckExpr)
		return ok && a.Op == b.Op && Equal(a.Left, b.Left) && Equal(a.Right, b.Right)
	case *FieldExpr:
		b, ok := b.(*FieldExpr)
		return ok && a.Field == b.Field && a.Arg == b.Arg && a.HasArg == b.HasArg
	case *FieldTransformerExpr:
		b, ok := b.(*FieldTransformerExpr)
		return ok && a.Transformer == b.Transformer && Equal(a.Value, b.Value)
	case *FieldValueExpr:
		b, ok := b.(*FieldValueExpr)
		return ok && Equal(a.Field, b.Field)
	}
	return false
}
