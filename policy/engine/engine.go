// Package engine runs Falco rules on SysFlow records. It compiles each rule's condition, through
// package translate, into a type-checked CEL program built once, indexes the rules by record
// type and operation flag so that a record is checked only against the rules that can match
// it, and fires every rule that matches (Falco's rule_matching: all).
//
// A Set is immutable and safe for concurrent use: the hub swaps a new one in atomically when
// the rules change. Evaluating a record needs an Evaluator, one per goroutine.
package engine

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/field"
	"github.com/sysflux/sysflux/policy/rules"
	"github.com/sysflux/sysflux/policy/translate"
)

// Status says whether a rule runs.
type Status int

// Rule statuses.
const (
	// Compiled rules run.
	Compiled Status = iota + 1
	// NotApplicable rules are valid but can match no SysFlow record: another source than
	// syscall, a field SysFlow does not carry, only system calls SysFlow does not record.
	NotApplicable
	// Disabled rules are switched off in the rules files (enabled: false).
	Disabled
)

func (s Status) String() string {
	switch s {
	case Compiled:
		return "compiled"
	case NotApplicable:
		return "not applicable"
	case Disabled:
		return "disabled"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Action is what a matching rule does; a rule may do several.
type Action uint8

// Actions.
const (
	// ActionAlert sends an alert (Falcosidekick, subscribers).
	ActionAlert Action = 1 << iota
	// ActionTag annotates the record with the rule's tags.
	ActionTag
	// ActionDrop filters the record out at the hub (and at agents that apply drop rules).
	ActionDrop
)

// Rule is a rule of a Set.
type Rule struct {
	rules.Rule
	Status Status
	// Reason says why a rule is not applicable.
	Reason string
	// CEL is the condition in CEL (compiled rules).
	CEL string
	// Match says which records the rule can match.
	Match   translate.Match
	Actions Action

	// Cost is the estimated worst-case cost of one evaluation of the condition, in CEL's cost
	// units, when it was compiled with a cost limit (MaxCost); zero otherwise.
	Cost uint64

	prog   cel.Program
	output *Output
	// costed: prog tracks its cost against a limit, in a frame of its own for each evaluation.
	costed bool
}

// Set is a compiled rule set.
type Set struct {
	rules    []*Rule
	warnings []string
	// byType[t] indexes the compiled rules that can match records of type t: anyFlag for rules
	// that match whatever the flags, byBit[b] for those that need flag bit b.
	byType map[sysflowv1.RecordType]*typeIndex
}

type typeIndex struct {
	anyFlag []int
	byBit   [32][]int
}

// RuleError is an error in one rule.
type RuleError struct {
	Rule string
	File string
	Line int
	Err  error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%s:%d: rule %q: %v", e.File, e.Line, e.Rule, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// File is a rules file given by content.
type File struct {
	Name string
	Data []byte
}

// Load loads rules files in order (later ones override and append to earlier ones) and
// compiles them. The error lists every problem, with file, line and rule; the Set is nil then.
func Load(files ...File) (*Set, error) {
	l := rules.NewLoader()
	var errs []error
	for _, f := range files {
		if err := l.Load(f.Name, f.Data); err != nil {
			errs = append(errs, err)
		}
	}
	rs, err := l.Compile()
	if err != nil {
		return nil, err // Compile reports the load errors too
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return Compile(rs)
}

// Compile compiles a rule set. Rules that cannot compile make an error listing all of them.
// Without options, a rule may cost anything to evaluate: the rules in force are the hub's
// administrators' to choose.
func Compile(rs *rules.RuleSet, opts ...Option) (*Set, error) {
	o := applyOptions(opts)
	env, err := Env()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	s := &Set{byType: map[sysflowv1.RecordType]*typeIndex{}}
	for _, w := range rs.Warnings {
		s.warnings = append(s.warnings, w.String())
	}
	var errs []error
	for _, rr := range rs.Rules {
		r := &Rule{Rule: rr, Actions: actionsOf(rr)}
		s.rules = append(s.rules, r)
		switch {
		case !rr.Applicable:
			r.Status, r.Reason = NotApplicable, "source "+rr.Source+" is not syscall"
			continue
		case !rr.Enabled:
			r.Status = Disabled
			continue
		}
		res, err := translate.Translate(rr.Condition)
		var na *translate.NotApplicableError
		switch {
		case errors.As(err, &na):
			r.Status, r.Reason = NotApplicable, na.Reason
			continue
		case err != nil:
			errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line, Err: err})
			continue
		}
		if n := utf8.RuneCountInString(res.CEL); n > maxCELChars {
			errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line,
				Err: fmt.Errorf("the condition is %d characters long in CEL once its macros and lists are expanded, over CEL's limit of %d", n, maxCELChars)})
			continue
		}
		ast, iss := env.Compile(res.CEL)
		if err := iss.Err(); err != nil {
			if msg := err.Error(); strings.Contains(msg, "recursion limit exceeded") || strings.Contains(msg, "recursion depth exceeded") {
				err = fmt.Errorf("the condition is nested too deeply for CEL once its macros and lists are expanded: %w", err)
			} else {
				err = fmt.Errorf("CEL %s: %w", abbrev(res.CEL, 1000), err)
			}
			errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line, Err: err})
			continue
		}
		if ast.OutputType() != cel.BoolType {
			errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line, Err: fmt.Errorf("CEL %s is %s, not bool", abbrev(res.CEL, 1000), ast.OutputType())})
			continue
		}
		popts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize), cel.CustomDecoratorV2(decorate)}
		if o.maxCost > 0 {
			c, err := checkCost(env, ast, res.CEL, o.maxCost)
			if err != nil {
				errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line, Err: err})
				continue
			}
			r.Cost, r.costed = c, true
		}
		prog, err := env.Program(ast, popts...)
		if err != nil {
			errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line, Err: err})
			continue
		}
		out, err := ParseOutput(rr.Output)
		if err != nil {
			errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line, Err: fmt.Errorf("output: %w", err)})
			continue
		}
		match, err := prefilter(res.Match, rr.Prefilter)
		if err != nil {
			errs = append(errs, &RuleError{Rule: rr.Name, File: rr.File, Line: rr.Line, Err: err})
			continue
		}
		if match.Types != nil && len(match.Types) == 0 {
			r.Status, r.Reason = NotApplicable, "its prefilter and its sf.type checks exclude every record type"
			continue
		}
		for _, w := range res.Warnings {
			s.warnings = append(s.warnings, fmt.Sprintf("%s:%d: rule %q: %s", rr.File, rr.Line, rr.Name, w))
		}
		r.Status, r.CEL, r.Match, r.prog, r.output = Compiled, res.CEL, match, prog, out
		s.index(len(s.rules)-1, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// actionsOf reads a rule's actions (SysFlow's policies name them; Falco rules always alert):
// alert, tag, drop. Others, such as SysFlow's custom action plugins, are ignored; a rule with
// none of the three alerts.
func actionsOf(r rules.Rule) Action {
	var a Action
	for _, x := range r.Actions {
		switch strings.ToLower(x) {
		case "alert":
			a |= ActionAlert
		case "tag":
			a |= ActionTag
		case "drop":
			a |= ActionDrop
		}
	}
	if a == 0 {
		a = ActionAlert
	}
	return a
}

// prefilter narrows m to the record types a SysFlow policy's prefilter lists.
func prefilter(m translate.Match, codes []string) (translate.Match, error) {
	if len(codes) == 0 {
		return m, nil
	}
	var types []sysflowv1.RecordType
	for _, c := range codes {
		t, ok := field.RecordTypeByCode(c)
		if !ok {
			return m, fmt.Errorf("prefilter: unknown record type %q (want PE, PF, FF, FE, NF, NE, KE, ...)", c)
		}
		if m.Types == nil || slices.Contains(m.Types, t) {
			types = append(types, t)
		}
	}
	if types == nil {
		types = []sysflowv1.RecordType{}
	}
	m.Types = types
	return m, nil
}

// eventTypes are the record types rules apply to unless they name others with sf.type.
var eventTypes = []sysflowv1.RecordType{
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT,
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW,
	sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW,
	sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT,
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW,
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT,
	sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT,
}

func (s *Set) index(i int, r *Rule) {
	types := r.Match.Types
	if types == nil {
		types = eventTypes
	}
	for _, t := range types {
		ti := s.byType[t]
		if ti == nil {
			ti = &typeIndex{}
			s.byType[t] = ti
		}
		if r.Match.AnyFlag {
			ti.anyFlag = append(ti.anyFlag, i)
			continue
		}
		for f := uint32(r.Match.Flags); f != 0; f &= f - 1 {
			b := bits.TrailingZeros32(f)
			ti.byBit[b] = append(ti.byBit[b], i)
		}
	}
}

// Rules returns the set's rules, in the order of their definition.
func (s *Set) Rules() []*Rule { return s.rules }

// Warnings returns the loader's warnings.
func (s *Set) Warnings() []string { return s.warnings }

// Counts returns how many rules the set has, and how many are compiled, not applicable and
// disabled.
func (s *Set) Counts() (total, compiled, notApplicable, disabled int) {
	for _, r := range s.rules {
		switch r.Status {
		case Compiled:
			compiled++
		case NotApplicable:
			notApplicable++
		case Disabled:
			disabled++
		}
	}
	return len(s.rules), compiled, notApplicable, disabled
}

// Summary is the one-line summary of Counts: "N rules: C compiled, S not applicable, D
// disabled".
func (s *Set) Summary() string {
	n, c, na, d := s.Counts()
	return fmt.Sprintf("%d rules: %d compiled, %d not applicable, %d disabled", n, c, na, d)
}

// Evaluator evaluates records against a Set. It is not safe for concurrent use.
type Evaluator struct {
	Event field.Event
	act   activation
	seen  []uint32 // per rule: the generation that last checked it
	gen   uint32
	cand  []int // the rules of the record's flags, and with those of any flags, kept for reuse
	all   []int
	// frame is the CEL execution frame of the programs that do not track their cost, made
	// once: they leave it as they found it.
	frame *interpreter.ExecutionFrame
	// stopped counts the evaluations stopped by their cost limit.
	stopped int64
}

// Stopped returns the number of evaluations that their cost limit stopped (MaxCost): each is
// of a rule that did not match its record because evaluating it cost too much.
func (e *Evaluator) Stopped() int64 { return e.stopped }

// NewEvaluator returns an Evaluator.
func NewEvaluator() *Evaluator {
	ev := &Evaluator{}
	ev.act = activation{
		ev:      &ev.Event,
		adapter: types.DefaultTypeAdapter,
		stamps:  make([]uint32, field.Count()),
		vals:    make([]ref.Val, field.Count()),
	}
	if env, err := Env(); err == nil {
		ev.act.adapter = env.CELTypeAdapter()
	}
	ev.frame, _ = interpreter.NewExecutionFrame(&ev.act) // never fails for an Activation
	return ev
}

// reset makes e evaluate rec, forgetting the values of the previous record.
func (e *Evaluator) reset(rec *sysflowv1.Record, ents field.Entities) {
	e.Event.Reset(rec, ents)
	e.act.gen++
	if e.act.gen == 0 { // wrapped: forget every stamp
		clear(e.act.stamps)
		e.act.gen = 1
	}
}

// Eval checks rec, whose references ents resolves, against the rules of s that can match it,
// and calls match for each rule that matches, in the order of the rules. The Event stays valid
// for match to render outputs with.
func (e *Evaluator) Eval(s *Set, rec *sysflowv1.Record, ents field.Entities, match func(*Rule)) {
	ti := s.byType[sfavro.TypeOf(rec)]
	if ti == nil {
		return
	}
	e.reset(rec, ents)
	if len(e.seen) < len(s.rules) {
		e.seen = make([]uint32, len(s.rules))
	}
	e.gen++
	if e.gen == 0 { // wrapped: forget every mark
		clear(e.seen)
		e.gen = 1
	}
	cand := e.cand[:0]
	if flags, ok := sfavro.OpFlags(rec); ok {
		for f := uint32(flags); f != 0; f &= f - 1 {
			for _, i := range ti.byBit[bits.TrailingZeros32(f)] {
				if e.seen[i] != e.gen {
					e.seen[i] = e.gen
					cand = append(cand, i)
				}
			}
		}
	}
	slices.Sort(cand)
	// Merge the rules that match any flags, keeping the rules' order.
	e.cand = cand
	all := cand
	switch {
	case len(cand) == 0:
		all = ti.anyFlag
	case len(ti.anyFlag) > 0:
		e.all = mergeSorted(e.all[:0], ti.anyFlag, cand)
		all = e.all
	}
	for _, i := range all {
		r := s.rules[i]
		var in any = e.frame
		if r.costed {
			in = &e.act
		}
		v, _, err := r.prog.Eval(in)
		if err == nil && v == types.True {
			match(r)
		} else if err != nil && r.costed && costExceeded(err) {
			e.stopped++
		}
	}
}

// CanMatch reports whether any rule of s can match a record of type t with these operation
// flags (hasFlags says whether records of its type carry any): when it cannot, Eval would call
// no rule, and the record need not be decoded.
func (s *Set) CanMatch(t sysflowv1.RecordType, flags int32, hasFlags bool) bool {
	ti := s.byType[t]
	if ti == nil {
		return false
	}
	if len(ti.anyFlag) > 0 {
		return true
	}
	if !hasFlags {
		return false
	}
	for f := uint32(flags); f != 0; f &= f - 1 {
		if len(ti.byBit[bits.TrailingZeros32(f)]) > 0 {
			return true
		}
	}
	return false
}

// mergeSorted appends the merge of the sorted a and b to out.
func mergeSorted(out, a, b []int) []int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// activation resolves CEL variables to field values of the current record. Programs planned
// by Compile read whole fields through value, which keeps each field's CEL value for the
// record; other reads resolve the field by name.
type activation struct {
	ev      *field.Event
	adapter types.Adapter
	gen     uint32    // the record's generation, from 1
	stamps  []uint32  // per field (Field.Index): the generation vals holds the value of
	vals    []ref.Val // per field: its CEL value, nil when the record has none
}

// value returns f's CEL value for the current record, nil when it has none.
func (a *activation) value(f *field.Field) ref.Val {
	i := f.Index()
	if a.stamps[i] == a.gen {
		return a.vals[i]
	}
	var v ref.Val
	switch f.Type {
	case field.String:
		if s, ok := f.StringValue(a.ev); ok {
			v = types.String(s)
		}
	case field.Int:
		if n, ok := f.IntValue(a.ev); ok {
			v = types.Int(n)
		}
	case field.Bool:
		if b, ok := f.BoolValue(a.ev); ok {
			v = types.Bool(b)
		}
	default:
		if x, ok := f.Value(a.ev); ok {
			v = a.adapter.NativeToValue(x)
		}
	}
	a.vals[i], a.stamps[i] = v, a.gen
	return v
}

func (a *activation) ResolveName(name string) (any, bool) {
	f, _, ok := field.Lookup(name)
	if !ok {
		return nil, false
	}
	return f.Value(a.ev)
}

func (a *activation) Parent() interpreter.Activation { return nil }
