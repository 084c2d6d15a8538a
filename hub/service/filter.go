package service

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
	"github.com/sysflux/sysflux/policy/field"
	"github.com/sysflux/sysflux/policy/rules"
	"github.com/sysflux/sysflux/policy/translate"
)

// A Falco filter is compiled as a rule of a rules file loaded after the files in force, so that
// it uses their macros and lists exactly as a rule would. The file is laid out so that a
// position in it maps back to the filter by subtracting filterLine lines and filterIndent
// columns.
const (
	filterFile   = "filter"
	filterRule   = "sysflux subscription filter"
	filterLine   = 5 // lines before the condition's first
	filterIndent = 4 // the indentation of the condition's lines
)

// filterError is a filter that does not compile: its problems, with their positions in the
// filter where known.
type filterError struct {
	errs []*policyv1.RulesError
	// overCost: the filter may cost more than the limit to evaluate.
	overCost bool
}

func (e *filterError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, x := range e.errs {
		msgs[i] = "filter: " + x.GetMessage()
		if x.GetLine() > 0 {
			msgs[i] = fmt.Sprintf("filter:%d:%d: %s", x.GetLine(), x.GetColumn(), x.GetMessage())
		}
	}
	return strings.Join(msgs, "\n")
}

func filterErrorf(line, col int, format string, args ...any) *filterError {
	return &filterError{errs: []*policyv1.RulesError{{
		File: filterFile, Line: int32(line), Column: int32(col), Message: fmt.Sprintf(format, args...),
	}}}
}

// recordFilter is a subscription's compiled filter and what it needs to evaluate records: the
// entities of each agent, read from the ring in order.
type recordFilter struct {
	set *engine.Set
	// types are the entity and header types the filter applies to (it names them with
	// sf.type); records of other such types pass it.
	types []sysflowv1.RecordType
	ev    *engine.Evaluator
	ents  map[string]*entity.Table
	dec   recordDecoder
	// undecodable counts records that could not be decoded, and so did not match.
	undecodable int64
}

// filterLimits bound the filters a service compiles.
type filterLimits struct {
	maxBytes int    // of the text
	maxCost  uint64 // of one evaluation (engine.MaxCost)
}

// compileFilter compiles a Subscribe, Query or Export request's filter, over the macros and
// lists of the rules in force and within the service's limits, and counts those it refuses.
func (s *Service) compileFilter(text string, lang hubv1.FilterLanguage) (*recordFilter, error) {
	f, err := s.filters.compile(text, lang, s.cfg.Policy, filterLimits{s.cfg.MaxFilterBytes, s.cfg.MaxFilterCost})
	if err != nil {
		s.counts.filtersRefused.Add(1)
		if fe, ok := errors.AsType[*filterError](err); ok && fe.overCost {
			s.counts.filtersOverCost.Add(1)
		}
	}
	return f, err
}

// compileFilter compiles a filter; it returns nil for an empty filter. files are the rules
// files in force, whose macros and lists a Falco filter may use. The error is a *filterError,
// but for an unknown language.
func compileFilter(text string, lang hubv1.FilterLanguage, files []engine.File, lim filterLimits) (*recordFilter, error) {
	if text == "" {
		return nil, nil
	}
	if len(text) > lim.maxBytes {
		return nil, filterErrorf(0, 0, "%d bytes long, over the limit of %d", len(text), lim.maxBytes)
	}
	// YAML reads any line break as a newline; so does the filter, for its positions to agree.
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	if err := checkText(text); err != nil {
		return nil, err
	}
	var (
		set *engine.Set
		err error
	)
	switch lang {
	case hubv1.FilterLanguage_FILTER_LANGUAGE_UNSPECIFIED, hubv1.FilterLanguage_FILTER_LANGUAGE_FALCO:
		set, err = compileFalco(text, files, lim.maxCost)
	case hubv1.FilterLanguage_FILTER_LANGUAGE_CEL:
		if set, err = engine.CompileCEL(filterRule, text, engine.MaxCost(lim.maxCost)); err != nil {
			err = celErrors(err)
		}
	default:
		return nil, fmt.Errorf("filter_language: unknown language %d", lang)
	}
	if err != nil {
		return nil, err
	}
	return newRecordFilter(set), nil
}

// newRecordFilter returns a filter evaluating the compiled filter set.
func newRecordFilter(set *engine.Set) *recordFilter {
	f := &recordFilter{set: set, ev: engine.NewEvaluator(), ents: map[string]*entity.Table{}}
	for _, t := range set.Rules()[0].Match.Types {
		if !isEvent(t) {
			f.types = append(f.types, t)
		}
	}
	return f
}

// filterCache keeps the compiled sets of recent filters, by text, language and version of the
// rules in force (whose macros and lists a filter uses): a query compiles its filter again
// for every page, and compiling a Falco filter loads every rules file. It is safe for
// concurrent use; sets are.
type filterCache struct {
	mu   sync.Mutex
	sets map[filterKey]*engine.Set
	keys []filterKey // in the order they were added
}

type filterKey struct {
	text    string
	lang    hubv1.FilterLanguage
	version int64
}

// maxCachedFilters bounds a filterCache.
const maxCachedFilters = 64

// compile returns the filter of text, compiling it unless a set for it is kept. A cache is
// used with one set of limits.
func (c *filterCache) compile(text string, lang hubv1.FilterLanguage, rules *engine.Active, lim filterLimits) (*recordFilter, error) {
	if text == "" {
		return nil, nil
	}
	var (
		files   []engine.File
		version int64
	)
	if rules != nil {
		files, version = rules.Files(), rules.Version()
	}
	key := filterKey{text, lang, version}
	c.mu.Lock()
	set := c.sets[key]
	c.mu.Unlock()
	if set != nil {
		return newRecordFilter(set), nil
	}
	f, err := compileFilter(text, lang, files, lim)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = make(map[filterKey]*engine.Set)
	}
	if _, ok := c.sets[key]; !ok {
		if len(c.keys) == maxCachedFilters {
			delete(c.sets, c.keys[0])
			c.keys = c.keys[1:]
		}
		c.sets[key] = f.set
		c.keys = append(c.keys, key)
	}
	return f, nil
}

// checkText refuses what a YAML file cannot hold: control characters other than tabs and line
// breaks, and text that is not UTF-8.
func checkText(text string) *filterError {
	line, lineStart := 1, 0
	for i, r := range text {
		if r == '\n' {
			line, lineStart = line+1, i+1
			continue
		}
		bad := ""
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(text[i:]); size == 1 {
				bad = "bytes that are not UTF-8"
			}
		case r == '\t':
		case unicode.IsControl(r) || r == 0xFEFF || r == 0xFFFE || r == 0xFFFF:
			bad = fmt.Sprintf("the control character %U", r)
		}
		if bad != "" {
			return filterErrorf(line, i-lineStart+1, "%s", bad)
		}
	}
	return nil
}

// compileFalco compiles a Falco condition with the macros and lists of files, refusing one
// that may cost more than maxCost to evaluate.
func compileFalco(text string, files []engine.File, maxCost uint64) (*engine.Set, error) {
	// The parser's own position for syntax errors, in the filter's terms.
	if _, err := condition.Parse(text); err != nil {
		var perr *condition.ParseError
		if errors.As(err, &perr) {
			return nil, filterErrorf(perr.Line, perr.Column, "%s", perr.Msg)
		}
		return nil, filterErrorf(0, 0, "%v", err)
	}
	l := rules.NewLoader()
	for _, f := range files {
		_ = l.Load(f.Name, f.Data) // they are in force, so they load; Compile reports errors again anyway
	}
	var doc strings.Builder
	fmt.Fprintf(&doc, "- rule: %s\n  desc: subscription filter\n  output: subscription filter\n  priority: DEBUG\n  condition: |%d-\n", filterRule, filterIndent-2)
	for ln := range strings.SplitSeq(text, "\n") {
		doc.WriteString(strings.Repeat(" ", filterIndent))
		doc.WriteString(ln)
		doc.WriteByte('\n')
	}
	_ = l.Load(filterFile, []byte(doc.String()))
	rs, err := l.Compile()
	// A rule with errors is left out of the rule set: then the errors say why.
	i := slices.IndexFunc(rs.Rules, func(r rules.Rule) bool { return r.Name == filterRule && r.File == filterFile })
	if i < 0 || rs.Rules[i].Condition == nil {
		return nil, loaderErrors(text, err)
	}
	set, err := engine.Compile(&rules.RuleSet{Rules: []rules.Rule{rs.Rules[i]}}, engine.MaxCost(maxCost))
	if err != nil {
		return nil, compileErrors(err)
	}
	if c := set.Rules()[0]; c.Status != engine.Compiled {
		return nil, filterErrorf(0, 0, "can match no SysFlow record: %s", c.Reason)
	}
	return set, nil
}

// costError returns a filter's error for an engine.CostError. In a Falco filter the part that
// costs too much is named as it translates to CEL; in a CEL filter it is at its position.
func costError(ce *engine.CostError, cel bool) *filterError {
	msg := fmt.Sprintf("too costly: the cost of evaluating it on one record is %s, over the limit of %s (CEL's worst-case estimate, with values of up to %d bytes and lists of up to %d)",
		engine.FormatCost(ce.Cost), engine.FormatCost(ce.Limit), engine.CostValueBytes, engine.CostListLen)
	x := &policyv1.RulesError{File: filterFile}
	switch {
	case ce.Part == "":
		if ce.Spread {
			msg += "; no one part of it costs that much alone, but all together"
		}
	case cel:
		msg += fmt.Sprintf("; that of this part alone is %s: %s", engine.FormatCost(ce.PartCost), abbrev(ce.Part, 200))
		x.Line, x.Column = int32(ce.Line), int32(ce.Column)
	default:
		msg += fmt.Sprintf("; that of this part alone, translated to CEL, is %s: %s", engine.FormatCost(ce.PartCost), abbrev(ce.Part, 200))
	}
	x.Message = msg
	return &filterError{errs: []*policyv1.RulesError{x}, overCost: true}
}

// abbrev cuts s to about n bytes, at a character's start.
func abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// celErrors returns CEL's errors at their positions.
func celErrors(err error) error {
	if ce, ok := errors.AsType[*engine.CostError](err); ok {
		return costError(ce, true)
	}
	fe := &filterError{}
	var ce *engine.CELError
	if errors.As(err, &ce) {
		for _, e := range ce.Issues.Errors() {
			x := &policyv1.RulesError{File: filterFile, Message: e.Message}
			// CEL gives some errors (in macros' arguments) no position: line 1, column -1.
			if e.Location.Line() > 0 && e.Location.Column() >= 0 {
				x.Line, x.Column = int32(e.Location.Line()), int32(e.Location.Column()+1)
			}
			fe.errs = append(fe.errs, x)
		}
	}
	if len(fe.errs) == 0 {
		fe.errs = append(fe.errs, &policyv1.RulesError{File: filterFile, Message: err.Error()})
	}
	return fe
}

// loaderErrors returns the loader's errors about the filter, at their positions in it.
func loaderErrors(text string, err error) error {
	fe := &filterError{}
	var list rules.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			if e.File != filterFile {
				continue
			}
			x := &policyv1.RulesError{File: filterFile, Message: e.Msg}
			if line := e.Line - filterLine; line >= 1 && e.Column > filterIndent {
				x.Line, x.Column = int32(line), int32(byteColumn(text, line, e.Column-filterIndent))
			}
			fe.errs = append(fe.errs, x)
		}
	}
	if len(fe.errs) == 0 {
		fe.errs = append(fe.errs, &policyv1.RulesError{File: filterFile, Message: fmt.Sprintf("does not compile: %v", err)})
	}
	return fe
}

// byteColumn turns a column in characters of a line of text into a column in bytes, as the
// condition parser counts them.
func byteColumn(text string, line, col int) int {
	lines := strings.Split(text, "\n")
	if line > len(lines) {
		return col
	}
	s := lines[line-1]
	off := 0
	for n := 1; n < col && off < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[off:])
		off += size
	}
	return off + 1
}

// compileErrors returns the errors of engine.Compile: translation errors carry their
// positions, in the filter's text or in that of a macro it uses.
func compileErrors(err error) error {
	fe := &filterError{}
	var walk func(error)
	walk = func(err error) {
		var te *translate.Error
		var re *engine.RuleError
		var ce *engine.CostError
		switch {
		case errors.As(err, &ce):
			x := costError(ce, false)
			fe.errs, fe.overCost = append(fe.errs, x.errs...), true
		case errors.As(err, &re) && re.Err != err:
			walk(re.Err)
		case isJoined(err):
			for _, x := range err.(interface{ Unwrap() []error }).Unwrap() {
				walk(x)
			}
		case errors.As(err, &te):
			fe.errs = append(fe.errs, &policyv1.RulesError{File: filterFile, Line: int32(te.Pos.Line), Column: int32(te.Pos.Column), Message: te.Msg})
		default:
			fe.errs = append(fe.errs, &policyv1.RulesError{File: filterFile, Message: err.Error()})
		}
	}
	walk(err)
	return fe
}

func isJoined(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

// isEvent reports whether records of type t are events or flows, which a filter always
// applies to, rather than entities or headers, which pass it unless it names their type.
func isEvent(t sysflowv1.RecordType) bool {
	switch t {
	case sysflowv1.RecordType_RECORD_TYPE_HEADER, sysflowv1.RecordType_RECORD_TYPE_CONTAINER,
		sysflowv1.RecordType_RECORD_TYPE_PROCESS, sysflowv1.RecordType_RECORD_TYPE_FILE,
		sysflowv1.RecordType_RECORD_TYPE_POD:
		return false
	}
	return true
}

// observe keeps the entity e holds, if it is one, for the records that follow; whether or not
// the subscriber receives it.
func (f *recordFilter) observe(e *ring.Entry) {
	if isEvent(e.Type) || e.Type == sysflowv1.RecordType_RECORD_TYPE_HEADER {
		return
	}
	var rec sysflowv1.Record // the table keeps what it points to
	if err := ring.Decode(e.Raw, &rec); err != nil {
		f.undecodable++
		return
	}
	f.table(e.AgentID).Put(&rec)
}

func (f *recordFilter) table(agentID string) *entity.Table {
	t := f.ents[agentID]
	if t == nil {
		t = entity.New(0)
		f.ents[agentID] = t
	}
	return t
}

// match reports whether e passes the filter.
func (f *recordFilter) match(e *ring.Entry) bool {
	return f.eval(e.Type, e.OpFlags, e.Raw, envelope{e.NodeID, e.AgentID, e.Epoch, e.Seq}, f.table(e.AgentID))
}

// eval reports whether a record of type t with these operation flags, encoded as raw, passes
// the filter, with its references resolved by ents.
func (f *recordFilter) eval(t sysflowv1.RecordType, flags int32, raw []byte, env envelope, ents field.Entities) bool {
	if !isEvent(t) && !slices.Contains(f.types, t) {
		return true
	}
	if !f.set.CanMatch(t, flags, ring.HasOpFlags(t)) {
		return false
	}
	rec, err := f.dec.decode(t, raw, env)
	if err != nil {
		f.undecodable++
		return false
	}
	matched := false
	f.ev.Eval(f.set, rec, ents, func(*engine.Rule) { matched = true })
	return matched
}
