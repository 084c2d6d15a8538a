package engine

import (
	"sync/atomic"

	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/sysflux/sysflux/policy/field"
)

// What the engine changes in the programs CEL plans for translated conditions, so that they run
// faster on an Evaluator's records with the same results.

// decorate changes two things in a program's plan. Reads of a whole field (proc.name, not
// proc.aname[2]) take its value from the Evaluator's values of the record, by the field's index
// rather than by its name, and computed once per record. Checks of a list of names of the
// record's operation flags against constant names (`"open" in evt.type`,
// `sets.intersects(evt.type, ["open", "openat"])`, as package translate writes evt.type = open
// and evt.type in (...)) become a test of the record's flags against the flags those names stand
// for: the list need not be built, nor searched.
func decorate(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	if a, ok := i.(interpreter.InterpretableAttribute); ok {
		if _, done := i.(*fieldAttr); !done {
			if f := wholeField(a); f != nil {
				return &fieldAttr{InterpretableAttribute: a, f: f}, nil
			}
		}
		return i, nil
	}
	call, ok := i.(interpreter.InterpretableCall)
	if !ok {
		return i, nil
	}
	args := call.Args()
	if len(args) != 2 {
		return i, nil
	}
	var names, list interpreter.InterpretableV2
	switch call.OverloadID() {
	case overloads.InList: // name in list
		names, list = args[0], args[1]
	case "list_sets_intersects_list": // sets.intersects(list, names)
		list, names = args[0], args[1]
	default:
		return i, nil
	}
	f := flagsField(list)
	if f == nil {
		return i, nil
	}
	c, ok := names.(interpreter.InterpretableConst)
	if !ok {
		return i, nil
	}
	var mask int32
	switch v := c.Value().(type) {
	case types.String:
		if call.OverloadID() != overloads.InList {
			return i, nil
		}
		mask = f.FlagMask(string(v))
	case traits.Lister:
		if call.OverloadID() == overloads.InList {
			return i, nil
		}
		n, ok := v.Size().(types.Int)
		if !ok {
			return i, nil
		}
		for j := types.Int(0); j < n; j++ {
			s, ok := v.Get(j).(types.String)
			if !ok {
				return i, nil
			}
			mask |= f.FlagMask(string(s))
		}
	default:
		return i, nil
	}
	return &flagCheck{InterpretableCall: call, mask: mask}, nil
}

// flagsField returns the field i reads when it reads a whole field OfFlags (evt.type), and nil
// otherwise.
func flagsField(i interpreter.InterpretableV2) *field.Field {
	a, ok := i.(interpreter.InterpretableAttribute)
	if !ok {
		return nil
	}
	if f := wholeField(a); f != nil && f.OfFlags() {
		return f
	}
	return nil
}

// wholeField returns the field a reads when, as planned so far, it reads a whole field, and nil
// otherwise.
func wholeField(a interpreter.InterpretableAttribute) *field.Field {
	if fa, ok := a.(*fieldAttr); ok && fa.qualified {
		return nil
	}
	na, ok := a.Attr().(interpreter.NamespacedAttribute)
	if !ok || len(na.Qualifiers()) > 0 || len(na.CandidateVariableNames()) != 1 {
		return nil
	}
	f, arg, ok := field.Lookup(na.CandidateVariableNames()[0])
	if !ok || arg != "" {
		return nil
	}
	return f
}

// fieldAttr reads a whole field from the Evaluator's values of the record. Once the planner
// qualifies it (evt.arg["path"], proc.aname[2]), and in activations other than an Evaluator's,
// it is CEL's attribute it wraps.
type fieldAttr struct {
	interpreter.InterpretableAttribute
	f         *field.Field
	qualified bool
	// missing is CEL's error for the field when a record has no value, kept from the first
	// such record: an error labelled with its node, which nothing changes after.
	missing atomic.Value // ref.Val
}

// AddQualifier implements interpreter.InterpretableAttribute.
func (a *fieldAttr) AddQualifier(q interpreter.Qualifier) (interpreter.Attribute, error) {
	a.qualified = true
	return a.InterpretableAttribute.AddQualifier(q)
}

// Exec implements interpreter.InterpretableV2.
func (a *fieldAttr) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	if a.qualified {
		return a.InterpretableAttribute.Exec(frame)
	}
	act := activationOf(frame)
	if act == nil {
		return a.InterpretableAttribute.Exec(frame)
	}
	if v := act.value(a.f); v != nil {
		return v
	}
	if v, ok := a.missing.Load().(ref.Val); ok {
		return v
	}
	v := a.InterpretableAttribute.Exec(frame)
	if err, ok := v.(*types.Err); ok {
		a.missing.Store(ref.Val(err))
	}
	return v
}

// Eval implements interpreter.Interpretable.
func (a *fieldAttr) Eval(vars interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(vars, a.Exec)
}

// flagCheck is a check of a field OfFlags against constant names: true when the record's
// operation flags share a bit with mask. On records without operation flags, and in activations
// other than an Evaluator's, it is the call it replaces.
type flagCheck struct {
	interpreter.InterpretableCall
	mask int32
}

// Exec implements interpreter.InterpretableV2.
func (c *flagCheck) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	if a := activationOf(frame); a != nil {
		if flags, ok := a.ev.OpFlags(); ok {
			return types.Bool(flags&c.mask != 0)
		}
	}
	return c.InterpretableCall.Exec(frame) // the field has no value: the call's error
}

// Eval implements interpreter.Interpretable.
func (c *flagCheck) Eval(vars interpreter.Activation) ref.Val {
	return interpreter.EvalActivation(vars, c.Exec)
}

// activationOf returns the Evaluator's activation a frame evaluates in, or nil.
func activationOf(a interpreter.Activation) *activation {
	for n := 0; a != nil && n < 64; n++ {
		switch v := a.(type) {
		case *activation:
			return v
		case interface{ Unwrap() interpreter.Activation }: // frames, comprehensions' scopes
			a = v.Unwrap()
		default:
			a = a.Parent()
		}
	}
	return nil
}
