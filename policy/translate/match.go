package translate

import (
	"slices"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/field"
)

// flagSet is a set of operation flags: any, or those in flags.
type flagSet struct {
	flags int32
	any   bool
}

func (a flagSet) and(b flagSet) flagSet {
	switch {
	case a.any:
		return b
	case b.any:
		return a
	}
	return flagSet{flags: a.flags & b.flags}
}

func (a flagSet) or(b flagSet) flagSet {
	if a.any || b.any {
		return flagSet{any: true}
	}
	return flagSet{flags: a.flags | b.flags}
}

// matchOf works out the operation flags a record needs for e to hold, from its evt.type and
// sf.opflags checks, as Falco works out the event types of a rule: a conjunction needs what
// every part needs, a disjunction what any part needs, and a negation may hold for any
// record.
func matchOf(e condition.Expr) flagSet {
	switch n := e.(type) {
	case *condition.AndExpr:
		s := flagSet{any: true}
		for _, c := range n.Children {
			s = s.and(matchOf(c))
		}
		return s
	case *condition.OrExpr:
		var s flagSet
		for _, c := range n.Children {
			s = s.or(matchOf(c))
		}
		return s
	case *condition.BinaryCheckExpr:
		f, ok := n.Left.(*condition.FieldExpr)
		if !ok {
			return flagSet{any: true}
		}
		var flagOf func(string) (int32, bool)
		switch f.Field {
		case "evt.type":
			flagOf = field.SyscallFlag
		case "sf.opflags":
			flagOf = field.OpFlagByName
		default:
			return flagSet{any: true}
		}
		var s flagSet
		for _, v := range checkValues(n) {
			fl, _ := flagOf(v)
			s.flags |= fl
		}
		if n.Op == condition.OpNotEq || len(checkValues(n)) == 0 {
			return flagSet{any: true}
		}
		return s
	}
	return flagSet{any: true}
}

// checkValues returns the values an equality or membership check compares against, or nil
// for other checks.
func checkValues(n *condition.BinaryCheckExpr) []string {
	switch n.Op {
	case condition.OpEq, condition.OpEqEq, condition.OpNotEq:
		if v, ok := n.Right.(*condition.ValueExpr); ok {
			return []string{v.Value}
		}
	case condition.OpIn, condition.OpIntersects:
		if l, ok := n.Right.(*condition.ListExpr); ok {
			vs := make([]string, len(l.Values))
			for i, v := range l.Values {
				vs[i] = v.Value
			}
			return vs
		}
	}
	return nil
}

// evtTypes lists the evt.type values e names, for messages.
func evtTypes(e condition.Expr) []string {
	var out []string
	condition.Inspect(e, func(n condition.Expr) bool {
		if c, ok := n.(*condition.BinaryCheckExpr); ok {
			if f, ok := c.Left.(*condition.FieldExpr); ok && f.Field == "evt.type" {
				for _, v := range checkValues(c) {
					if !slices.Contains(out, v) {
						out = append(out, v)
					}
				}
			}
		}
		return true
	})
	return out
}

// typesOf works out the record types e can match from its sf.type checks, like matchOf; nil
// means any event or flow.
func typesOf(e condition.Expr) []sysflowv1.RecordType {
	switch n := e.(type) {
	case *condition.AndExpr:
		var s []sysflowv1.RecordType
		for _, c := range n.Children {
			t := typesOf(c)
			switch {
			case t == nil:
			case s == nil:
				s = t
			default:
				s = slices.DeleteFunc(slices.Clone(s), func(x sysflowv1.RecordType) bool { return !slices.Contains(t, x) })
				if s == nil {
					s = []sysflowv1.RecordType{}
				}
			}
		}
		return s
	case *condition.OrExpr:
		var s []sysflowv1.RecordType
		for _, c := range n.Children {
			t := typesOf(c)
			if t == nil {
				return nil
			}
			for _, x := range t {
				if !slices.Contains(s, x) {
					s = append(s, x)
				}
			}
		}
		return s
	case *condition.BinaryCheckExpr:
		f, ok := n.Left.(*condition.FieldExpr)
		if !ok || f.Field != "sf.type" || n.Op == condition.OpNotEq {
			return nil
		}
		vs := checkValues(n)
		if vs == nil {
			return nil
		}
		s := []sysflowv1.RecordType{}
		for _, v := range vs {
			if t, ok := field.RecordTypeByCode(v); ok && !slices.Contains(s, t) {
				s = append(s, t)
			}
		}
		return s
	}
	return nil
}
