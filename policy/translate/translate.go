// Package translate turns a Falco condition, parsed and with its macros and lists expanded,
// into CEL source over the fields of package field, and works out which records the condition
// can match.
//
// The CEL it writes is meant to be read. Every Falco field is a CEL variable of the same name
// (proc.name, fd.sport); a field with an index is a list (proc.aname[2]) and one with a key a
// map (evt.arg["path"]). A few functions stand in for what CEL lacks: glob, pmatch, basename,
// b64dec, bcontains, bstartswith, innet (fd.net = 10.0.0.0/8 becomes innet(fd.net,
// ["10.0.0.0/8"]): one of the field's addresses is in one of the networks), jsonpath (the value
// at a JSON path, sf.ke.message[items.0.namespace]), containsany, and two that give Falco's
// treatment of missing values:
//
//   - In Falco a check on a field the event lacks is false; in CEL, reading a variable that has
//     no value is an error. For a condition without negations the two agree once the engine
//     takes an error as false (CEL's && and || absorb errors the way false would when the
//     other side decides). Under a negation they would not, so `not X` becomes `!holds(X)`,
//     where holds is true only when X is true, and false when X is false or an error.
//   - `f exists` becomes `present(f)`, true when f has a value.
//
// A field with an index used without one stands for all its values, as in Falco:
// `proc.aname = bash` (some ancestor is bash) becomes `ancestors(proc.aname).exists(x, x ==
// "bash")`, and, as libsinsp checks the ancestors one by one, `proc.aname != bash` holds when
// some ancestor is not bash. evt.type is such a list too (a flow stands for every system call
// it aggregates), and so are fd.ip and fd.port (both ends of a connection); for them != means
// that none of the values is the one given, as libsinsp's fd.ip and fd.port have it. Checks of
// evt.type (and sf.opflags) by =, != and in are written with CEL's `in` and its sets extension,
// `sets.intersects(evt.type, ["open", "openat"])`, which the engine runs as tests of the record's
// operation flags.
//
// SysFlow's policies use Falco's syntax over SysFlow's own fields (sf.*), with two differences
// that SysFlow's policy engine (sysflow-telemetry/sf-processor) gives them and that are kept
// for those fields: pmatch holds when one of the items is part of the value (containsany),
// where Falco's matches path prefixes; and a bare value naming an sf.* field stands for that
// field's value (sf.proc.exe != sf.pproc.exe), as val() would in Falco.
package translate

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/field"
)

// Error is a condition that cannot be translated: a field that does not exist, a value of the
// wrong type, an operator a field does not take. Pos is where, in the text the node came from.
type Error struct {
	Pos condition.Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// NotApplicableError is a condition that is valid Falco but that no SysFlow record can match,
// because it needs a field SysFlow does not carry or only system calls SysFlow does not record.
type NotApplicableError struct {
	Reason string
}

func (e *NotApplicableError) Error() string { return e.Reason }

// Result is a translated condition.
type Result struct {
	// CEL is the condition in CEL.
	CEL string
	// Fields are the fields the condition uses, in order of first use.
	Fields []*field.Field
	// Match says which records the condition can match.
	Match Match
	// Warnings are about fields the condition uses that never have a value on SysFlow
	// records (field.Field.Missing): checks on them are false.
	Warnings []string
}

// Match says which records a condition can match: those of one of Types (all events and flows
// when Types is nil) whose operation flags share a bit with Flags (any flags, and records
// without flags, when AnyFlag).
type Match struct {
	Types   []sysflowv1.RecordType
	Flags   int32
	AnyFlag bool
}

// Translate translates a condition. Its errors are *Error (wrapped in a joined error when
// there are several) or *NotApplicableError.
func Translate(e condition.Expr) (*Result, error) {
	t := &translator{used: map[*field.Field]bool{}}
	src := t.expr(e, false)
	if len(t.errs) > 0 {
		return nil, errors.Join(t.errs...)
	}
	if t.notApplicable != "" {
		return nil, &NotApplicableError{Reason: t.notApplicable}
	}
	m := matchOf(e)
	if !m.any && m.flags == 0 {
		return nil, &NotApplicableError{Reason: "its evt.type values (" + strings.Join(evtTypes(e), ", ") + ") are system calls no SysFlow record stands for"}
	}
	types := typesOf(e)
	if types != nil && len(types) == 0 {
		return nil, &NotApplicableError{Reason: "its sf.type checks exclude every record type"}
	}
	res := &Result{CEL: src, Fields: t.fields, Match: Match{Types: types, Flags: m.flags, AnyFlag: m.any}}
	for _, f := range t.fields {
		if f.Missing != "" {
			res.Warnings = append(res.Warnings, "field "+f.Name+" never has a value ("+f.Missing+"): checks on it are false")
		}
	}
	if len(res.Warnings) > 0 && neverHolds(e) {
		res.Warnings = append(res.Warnings, "the condition cannot hold without those fields: the rule never matches")
	}
	return res, nil
}

type translator struct {
	errs          []error
	notApplicable string
	used          map[*field.Field]bool
	fields        []*field.Field
	vars          int // quantifier variables in use, for nesting
}

func (t *translator) errorf(pos condition.Pos, format string, args ...any) string {
	t.errs = append(t.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	return "false"
}

// expr returns the CEL of e; inner says whether it is an operand of a logical operator (and
// needs parentheses if it is one itself).
func (t *translator) expr(e condition.Expr, inner bool) string {
	switch n := e.(type) {
	case *condition.AndExpr:
		return t.logical(n.Children, " && ", inner)
	case *condition.OrExpr:
		return t.logical(n.Children, " || ", inner)
	case *condition.NotExpr:
		return "!holds(" + t.expr(n.Child, false) + ")"
	case *condition.UnaryCheckExpr:
		l := t.operand(n.Left)
		if l == nil {
			return "false"
		}
		return "present(" + l.src + ")"
	case *condition.BinaryCheckExpr:
		return t.check(n)
	case *condition.IdentifierExpr:
		return t.errorf(n.Position, "undefined macro %q", n.Name)
	}
	return t.errorf(e.Pos(), "unexpected %s where a check is expected", e)
}

func (t *translator) logical(children []condition.Expr, op string, inner bool) string {
	parts := make([]string, len(children))
	for i, c := range children {
		parts[i] = t.expr(c, true)
	}
	s := strings.Join(parts, op)
	if inner {
		return "(" + s + ")"
	}
	return s
}

// operand is a translated left or right side: its CEL, its type, and whether it stands for all
// the values of a list (a field with an index used without one).
type operand struct {
	src   string
	typ   field.Type
	all   bool // src is a list to quantify over
	xform []func(string) string
	// ancestors: src is a process's ancestors (proc.aname without an index), which libsinsp
	// checks one by one: the check holds when it holds for one of them, != included.
	ancestors bool
	// key and field: the key of a map field's value (evt.arg[request]).
	key   string
	field *field.Field
	// sysflow: the operand is one of SysFlow's own fields (sf.*), which take SysFlow's pmatch.
	sysflow bool
	// flags: the operand is a list of names of the record's operation flags (evt.type,
	// sf.opflags), checked with `in` and sets.intersects, which the engine runs as tests of the
	// flags' bits.
	flags bool
}

// apply returns the CEL of one value of o (x for a quantified list), transformed.
func (o *operand) apply(x string) string {
	for _, f := range o.xform {
		x = f(x)
	}
	return x
}

// operand translates a field, possibly transformed.
func (t *translator) operand(e condition.Expr) *operand {
	switch n := e.(type) {
	case *condition.FieldExpr:
		return t.fieldOperand(n)
	case *condition.FieldValueExpr:
		return t.fieldOperand(n.Field)
	case *condition.FieldTransformerExpr:
		o := t.operand(n.Value)
		if o == nil {
			return nil
		}
		if o.typ == field.IPNet {
			t.errorf(n.Position, "%s does not apply to %s, which is matched against networks", n.Transformer, n.Value)
			return nil
		}
		if o.typ.Elem() != field.String && !(n.Transformer == condition.Len && o.typ.Elem() != field.Bool) {
			t.errorf(n.Position, "%s applies to strings, and %s is %s", n.Transformer, n.Value, o.typ.Elem())
			return nil
		}
		switch n.Transformer {
		case condition.ToLower:
			o.xform = append(o.xform, func(s string) string { return s + ".lowerAscii()" })
		case condition.ToUpper:
			o.xform = append(o.xform, func(s string) string { return s + ".upperAscii()" })
		case condition.Basename:
			o.xform = append(o.xform, func(s string) string { return "basename(" + s + ")" })
		case condition.B64:
			o.xform = append(o.xform, func(s string) string { return "b64dec(" + s + ")" })
		case condition.Len:
			o.xform = append(o.xform, func(s string) string { return "size(" + s + ")" })
			o.typ = field.Int
			if o.all {
				o.typ = field.IntList
			}
		default:
			t.errorf(n.Position, "unknown transformer %s", n.Transformer)
			return nil
		}
		if !o.all {
			o.src = o.apply(o.src)
			o.xform = nil
		}
		return o
	}
	t.errorf(e.Pos(), "expected a field, found %s", e)
	return nil
}

func (t *translator) fieldOperand(n *condition.FieldExpr) *operand {
	o := t.resolveField(n)
	if o != nil {
		o.sysflow = strings.HasPrefix(n.Field, "sf.")
	}
	return o
}

// resolveField translates a field, without transformers.
func (t *translator) resolveField(n *condition.FieldExpr) *operand {
	f, arg, ok := field.Lookup(n.Field)
	if !ok {
		if why := field.WhyUnsupported(n.Field); why != "" {
			if t.notApplicable == "" {
				t.notApplicable = "field " + n.Field + ": " + why
			}
			return nil
		}
		t.errorf(n.Position, "unknown field %s", n.Field)
		return nil
	}
	if n.HasArg {
		if arg != "" {
			t.errorf(n.Position, "field %s has two arguments", n.Field)
			return nil
		}
		arg = n.Arg
	}
	hasArg := n.HasArg || arg != ""
	if !t.used[f] {
		t.used[f] = true
		t.fields = append(t.fields, f)
	}
	switch f.Arg {
	case field.NoArg:
		if hasArg {
			t.errorf(n.Position, "field %s takes no argument", f.Name)
			return nil
		}
		if f.Type == field.StringList || f.Type == field.IntList {
			return &operand{src: f.Name, typ: f.Type, all: true, flags: f.OfFlags()}
		}
		return &operand{src: f.Name, typ: f.Type}
	case field.PathArg:
		if !hasArg {
			return &operand{src: f.Name, typ: f.Type}
		}
		if err := field.CheckJSONPath(arg); err != nil {
			t.errorf(n.Position, "field %s: %v", f.Name, err)
			return nil
		}
		return &operand{src: "jsonpath(" + f.Name + ", " + strconv.Quote(arg) + ")", typ: f.Type}
	case field.IndexArg:
		if !hasArg {
			src := f.Name
			anc := isAncestors(f)
			if anc {
				src = "ancestors(" + f.Name + ")" // without an index: the ancestors, not the process
			}
			return &operand{src: src, typ: f.Type, all: true, ancestors: anc}
		}
		i, err := strconv.Atoi(arg)
		if err != nil || i < 0 {
			t.errorf(n.Position, "field %s takes a number as index, not %q", f.Name, arg)
			return nil
		}
		return &operand{src: f.Name + "[" + strconv.Itoa(i) + "]", typ: f.Type.Elem()}
	case field.KeyArg:
		if !hasArg {
			t.errorf(n.Position, "field %s needs an argument, as in %s[name] or %s.name", f.Name, f.Name, f.Name)
			return nil
		}
		return &operand{src: f.Name + "[" + strconv.Quote(arg) + "]", typ: f.Type.Elem(), key: arg, field: f}
	}
	return nil
}

// isAncestors reports whether f is one of the fields of a process and its ancestors
// (proc.aname, proc.apid, ...), which without an index stand for the ancestors.
func isAncestors(f *field.Field) bool {
	return f.Arg == field.IndexArg && (strings.HasPrefix(f.Name, "proc.a") || strings.HasPrefix(f.Name, "sf.proc.a"))
}

// check translates a binary check.
func (t *translator) check(n *condition.BinaryCheckExpr) string {
	l := t.operand(n.Left)
	if l == nil {
		return "false"
	}
	if l.typ == field.IPNet {
		return t.netCheck(n, l)
	}
	elem := l.typ.Elem()
	// The right side: a literal, a list, or another field.
	var rhs string
	right := n.Right
	if v, ok := right.(*condition.ValueExpr); ok {
		if f := sysflowFieldRef(v); f != nil {
			right = f
		}
	}
	switch r := right.(type) {
	case *condition.ValueExpr:
		v, ok := t.literal(l.value(r, n.Op), elem, n.Op)
		if !ok {
			return "false"
		}
		rhs = v
	case *condition.ListExpr:
		items := make([]string, len(r.Values))
		for i, v := range r.Values {
			s, ok := t.literal(l.value(v, n.Op), elem, n.Op)
			if !ok {
				return "false"
			}
			items[i] = s
		}
		rhs = "[" + strings.Join(items, ", ") + "]"
	case *condition.FieldValueExpr, *condition.FieldTransformerExpr:
		o := t.operand(r)
		if o == nil {
			return "false"
		}
		if o.all {
			return t.errorf(r.Pos(), "%s has several values and cannot be compared against", r)
		}
		if o.typ != elem {
			return t.errorf(r.Pos(), "%s is %s and %s is %s", n.Left, elem, r, o.typ)
		}
		rhs = o.src
	default:
		return t.errorf(n.Right.Pos(), "unexpected %s on the right of %s", n.Right, n.Op)
	}
	if _, isList := n.Right.(*condition.ListExpr); isList != n.Op.TakesList() {
		if n.Op.TakesList() {
			return t.errorf(n.Right.Pos(), "%s takes a list", n.Op)
		}
		return t.errorf(n.Right.Pos(), "%s does not take a list", n.Op)
	}
	cmp, err := compare(n.Op, elem, rhs)
	if err != "" {
		return t.errorf(n.Position, "%s: %s", n.Left, err)
	}
	if n.Op == condition.OpPMatch && l.sysflow {
		// SysFlow's pmatch: one of the items is part of the value.
		cmp = func(x string) string { return "containsany(" + x + ", " + rhs + ")" }
	}
	if !l.all {
		return cmp(l.src)
	}
	if l.flags && len(l.xform) == 0 {
		// The same checks as below, written so that the engine can run them on the flags.
		switch n.Op {
		case condition.OpEq, condition.OpEqEq:
			return rhs + " in " + l.src
		case condition.OpNotEq:
			return "!(" + rhs + " in " + l.src + ")"
		case condition.OpIn, condition.OpIntersects:
			return "sets.intersects(" + l.src + ", " + rhs + ")"
		}
	}
	x := t.quantVar()
	defer func() { t.vars-- }()
	if n.Op == condition.OpNotEq && !l.ancestors {
		// "none of the values is v" (for the ancestors, libsinsp's "one of them is not v"
		// follows below)
		eq, _ := compare(condition.OpEq, elem, rhs)
		return "!" + l.src + ".exists(" + x + ", " + eq(l.apply(x)) + ")"
	}
	if (n.Op == condition.OpEq || n.Op == condition.OpEqEq) && len(l.xform) == 0 {
		return rhs + " in " + l.src
	}
	return l.src + ".exists(" + x + ", " + cmp(l.apply(x)) + ")"
}

// sysflowFieldRef returns the field that a bare value on the right of a check names, when
// it names one of SysFlow's own fields (sf.pproc.exe in "sf.proc.exe != sf.pproc.exe"):
// SysFlow's policy engine compares with that field's value, where Falco would need
// val(sf.pproc.exe). Other values, and quoted ones, are literals.
func sysflowFieldRef(v *condition.ValueExpr) *condition.FieldValueExpr {
	if v.Quoted || !strings.HasPrefix(v.Value, "sf.") {
		return nil
	}
	if _, _, ok := field.Lookup(v.Value); !ok {
		return nil
	}
	return &condition.FieldValueExpr{Field: &condition.FieldExpr{Field: v.Value, Position: v.Position}, Position: v.Position}
}

// value returns the value a check compares o with: v, or for a ptrace's request
// (evt.arg.request) compared by number, the request's name, as records carry it.
func (o *operand) value(v *condition.ValueExpr, op condition.Operator) *condition.ValueExpr {
	if o.field == nil || o.field.Name != "evt.arg" || o.key != "request" || len(o.xform) > 0 {
		return v
	}
	switch op {
	case condition.OpEq, condition.OpEqEq, condition.OpNotEq, condition.OpIn, condition.OpIntersects:
		if name, ok := field.PtraceRequestName(v.Value); ok {
			c := *v
			c.Value = name
			return &c
		}
	}
	return v
}

// netCheck translates a check of a field matched against networks (fd.net): = and in hold
// when one of its addresses is in one of the networks, != when none is.
func (t *translator) netCheck(n *condition.BinaryCheckExpr, l *operand) string {
	var vals []*condition.ValueExpr
	switch r := n.Right.(type) {
	case *condition.ValueExpr:
		vals = []*condition.ValueExpr{r}
	case *condition.ListExpr:
		vals = r.Values
	default:
		return t.errorf(n.Right.Pos(), "%s is matched against networks written as 10.0.0.0/8, not against %s", n.Left, n.Right)
	}
	switch n.Op {
	case condition.OpEq, condition.OpEqEq, condition.OpNotEq:
		if _, ok := n.Right.(*condition.ValueExpr); !ok {
			return t.errorf(n.Right.Pos(), "%s does not take a list", n.Op)
		}
	case condition.OpIn, condition.OpIntersects:
		if _, ok := n.Right.(*condition.ListExpr); !ok {
			return t.errorf(n.Right.Pos(), "%s takes a list", n.Op)
		}
	default:
		return t.errorf(n.Position, "%s: %s does not apply to networks; use =, != or in", n.Left, n.Op)
	}
	nets := make([]string, len(vals))
	for i, v := range vals {
		p, err := parseNet(v.Value)
		if err != nil {
			return t.errorf(v.Position, "%s takes networks such as 10.0.0.0/8 or fd00::/8, not %q", n.Left, v.Value)
		}
		nets[i] = strconv.Quote(p.String())
	}
	cel := "innet(" + l.src + ", [" + strings.Join(nets, ", ") + "])"
	if n.Op == condition.OpNotEq {
		return "!" + cel
	}
	return cel
}

// parseNet parses a network in CIDR notation, or a single address (a network of one).
func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (t *translator) quantVar() string {
	t.vars++
	if t.vars == 1 {
		return "x"
	}
	return "x" + strconv.Itoa(t.vars)
}

// literal returns the CEL literal of a value compared to a field of type typ by op.
func (t *translator) literal(v *condition.ValueExpr, typ field.Type, op condition.Operator) (string, bool) {
	switch {
	case op == condition.OpBContains || op == condition.OpBStartsWith:
		if _, err := hexBytes(v.Value); err != nil {
			t.errorf(v.Position, "%s takes hexadecimal bytes, not %q", op, v.Value)
			return "", false
		}
		return strconv.Quote(strings.ToLower(v.Value)), true
	case typ == field.Int:
		n, err := strconv.ParseInt(v.Value, 0, 64)
		if err != nil {
			t.errorf(v.Position, "expected a number, not %q", v.Value)
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	case typ == field.Bool:
		b, err := strconv.ParseBool(v.Value)
		if err != nil {
			t.errorf(v.Position, "expected true or false, not %q", v.Value)
			return "", false
		}
		return strconv.FormatBool(b), true
	}
	s := v.Value
	if op == condition.OpIContains || op == condition.OpIGlob {
		s = strings.ToLower(s)
	}
	return strconv.Quote(s), true
}

// compare returns a function writing the CEL of "x op rhs" for a value of type typ, or why op
// does not apply.
func compare(op condition.Operator, typ field.Type, rhs string) (func(x string) string, string) {
	bin := func(cop string) func(string) string {
		return func(x string) string { return x + " " + cop + " " + rhs }
	}
	call := func(name string) func(string) string {
		return func(x string) string { return name + "(" + x + ", " + rhs + ")" }
	}
	method := func(name string, lower bool) func(string) string {
		return func(x string) string {
			if lower {
				x += ".lowerAscii()"
			}
			return x + "." + name + "(" + rhs + ")"
		}
	}
	isStr := typ == field.String
	switch op {
	case condition.OpEq, condition.OpEqEq:
		return bin("=="), ""
	case condition.OpNotEq:
		return bin("!="), ""
	case condition.OpLess, condition.OpLessEq, condition.OpGreater, condition.OpGreaterEq:
		if typ == field.Bool {
			return nil, string(op) + " does not apply to booleans"
		}
		return bin(string(op)), ""
	case condition.OpIn, condition.OpIntersects:
		return bin("in"), ""
	}
	if !isStr {
		return nil, fmt.Sprintf("%s applies to strings, and the field is %s", op, typ)
	}
	switch op {
	case condition.OpContains:
		return method("contains", false), ""
	case condition.OpIContains:
		return method("contains", true), ""
	case condition.OpStartsWith:
		return method("startsWith", false), ""
	case condition.OpEndsWith:
		return method("endsWith", false), ""
	case condition.OpGlob:
		return call("glob"), ""
	case condition.OpIGlob:
		return func(x string) string { return "glob(" + x + ".lowerAscii(), " + rhs + ")" }, ""
	case condition.OpRegex:
		// Falco's regex matches the whole value.
		pat, err := strconv.Unquote(rhs)
		if err != nil {
			return nil, "bad pattern"
		}
		if _, err := regexp.Compile(pat); err != nil {
			return nil, "bad regular expression: " + err.Error()
		}
		anchored := strconv.Quote("^(?:" + pat + ")$")
		return func(x string) string { return x + ".matches(" + anchored + ")" }, ""
	case condition.OpPMatch:
		return call("pmatch"), ""
	case condition.OpBContains:
		return call("bcontains"), ""
	case condition.OpBStartsWith:
		return call("bstartswith"), ""
	}
	return nil, "unknown operator " + string(op)
}

// hexBytes decodes Falco's hexadecimal byte strings.
func hexBytes(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, errors.New("odd length")
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		b, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		out[i] = byte(b)
	}
	return out, nil
}

// neverHolds reports whether e is false on every record because of the checks on fields that
// never have a value (field.Field.Missing): such a check is false, its negation true.
func neverHolds(e condition.Expr) bool {
	return truthOf(e) == isFalse
}

type truth int

const (
	unknown truth = iota
	isFalse
	isTrue
)

func truthOf(e condition.Expr) truth {
	switch n := e.(type) {
	case *condition.AndExpr:
		all := isTrue
		for _, c := range n.Children {
			switch truthOf(c) {
			case isFalse:
				return isFalse
			case unknown:
				all = unknown
			}
		}
		return all
	case *condition.OrExpr:
		all := isFalse
		for _, c := range n.Children {
			switch truthOf(c) {
			case isTrue:
				return isTrue
			case unknown:
				all = unknown
			}
		}
		return all
	case *condition.NotExpr:
		switch truthOf(n.Child) {
		case isFalse:
			return isTrue
		case isTrue:
			return isFalse
		}
	case *condition.UnaryCheckExpr:
		if missingField(n.Left) {
			return isFalse
		}
	case *condition.BinaryCheckExpr:
		if missingField(n.Left) || missingField(n.Right) {
			return isFalse
		}
	}
	return unknown
}

// missingField reports whether e is a field (possibly transformed) that never has a value.
func missingField(e condition.Expr) bool {
	switch n := e.(type) {
	case *condition.FieldExpr:
		f, _, ok := field.Lookup(n.Field)
		return ok && f.Missing != ""
	case *condition.FieldValueExpr:
		return missingField(n.Field)
	case *condition.FieldTransformerExpr:
		return missingField(n.Value)
	}
	return false
}
