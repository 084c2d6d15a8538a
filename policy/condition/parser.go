// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition

import (
	"fmt"
	"strings"
)

// MaxDepth bounds the parser's recursion, as the limit Falco's rule loader gives libsinsp's
// parser. Each level of parentheses costs a few levels of recursion.
const MaxDepth = 1000

// ParseError is a syntax error in a condition, at the position where the parser stopped.
type ParseError struct {
	Pos        // where the parser stopped, in the condition's text
	Msg string // what it expected, in libsinsp's words
}

// Error returns "line:column: message".
func (e *ParseError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg) }

// Parse parses a Falco condition. Macros and lists are left as they are written: bare names
// where a check is expected become *IdentifierExpr, list names are *ValueExpr items.
//
// A failure is a *ParseError.
func Parse(text string) (Expr, error) {
	p := &parser{src: text, pos: Pos{Line: 1, Column: 1}}
	if text == "" {
		return nil, p.errorf("filter input string is empty")
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.pos.Offset != len(p.src) {
		return nil, p.errorf("unexpected token after '%s', expecting 'or', 'and'", p.last)
	}
	return e, nil
}

// parser is a recursive-descent parser for libsinsp's filter grammar. Like libsinsp's, it
// lexes as it goes: what a token is depends on where the parser is (a bare word is a value
// after "=", a macro name where a check is expected).
type parser struct {
	src   string
	pos   Pos    // the cursor
	last  string // the last token read, for error messages
	depth int
}

func (p *parser) errorf(format string, args ...any) *ParseError {
	return &ParseError{Pos: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth >= MaxDepth {
		return p.errorf("exceeded max depth limit of %d", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// rest returns the input from the cursor on.
func (p *parser) rest() string { return p.src[p.pos.Offset:] }

// advance moves the cursor n bytes forward, counting lines. A "\r\n" pair is one line break.
func (p *parser) advance(n int) {
	for _, c := range []byte(p.src[p.pos.Offset : p.pos.Offset+n]) {
		p.pos.Offset++
		switch {
		case c == '\n', c == '\r' && !strings.HasPrefix(p.rest(), "\n"):
			p.pos.Line++
			p.pos.Column = 1
		default:
			p.pos.Column++
		}
	}
}

// take consumes the next n bytes as a token.
func (p *parser) take(n int) string {
	p.last = p.src[p.pos.Offset : p.pos.Offset+n]
	p.advance(n)
	return p.last
}

// lit consumes s if the input continues with it.
func (p *parser) lit(s string) bool {
	if !strings.HasPrefix(p.rest(), s) {
		return false
	}
	p.take(len(s))
	return true
}

// blank consumes the blanks libsinsp skips between tokens and reports whether there were any.
func (p *parser) blank() bool {
	n := 0
	for n < len(p.rest()) && isBlank(p.rest()[n]) {
		n++
	}
	p.advance(n)
	return n > 0
}

// quoted consumes a quoted string, if one starts at the cursor, and returns its value.
func (p *parser) quoted() (value string, ok bool, err error) {
	rest := p.rest()
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return "", false, nil
	}
	end, err := quotedEnd(rest, 0)
	if err != nil {
		return "", false, p.errorf("%v", err)
	}
	value, err = unescape(rest[1:end-1], rest[0])
	if err != nil {
		return "", false, p.errorf("%v", err)
	}
	p.advance(end)
	p.last = value
	return value, true, nil
}

// transformer consumes a transformer's name and its opening parenthesis.
func (p *parser) transformer() (Transformer, bool) {
	for _, t := range transformers {
		if p.lit(string(t) + "(") {
			return t, true
		}
	}
	return "", false
}

// operator consumes a check operator. Word operators (contains, glob...) must be followed by
// a blank; symbols and the list operators need not be.
func (p *parser) operator() (Operator, operatorClass, bool) {
	rest := p.rest()
	for _, d := range operators {
		s := string(d.op)
		if !strings.HasPrefix(rest, s) {
			continue
		}
		if d.class == wordOp && (len(rest) == len(s) || !isBlank(rest[len(s)])) {
			continue
		}
		p.take(len(s))
		return d.op, d.class, true
	}
	return "", 0, false
}

// parseOr parses OrExpr ::= AndExpr ('or' (' ' AndExpr | '(' Expr ')'))*.
func (p *parser) parseOr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	pos := p.pos
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	children := []Expr{first}
	p.blank()
	for p.lit("or") {
		var child Expr
		switch {
		case p.blank():
			child, err = p.parseAnd()
		case p.lit("("):
			child, err = p.parseEmbedded()
		default:
			return nil, p.errorf("expected blank or '(' after 'or'")
		}
		if err != nil {
			return nil, err
		}
		children = append(children, child)
		p.blank()
	}
	if len(children) == 1 {
		return first, nil
	}
	return &OrExpr{Children: children, Position: pos}, nil
}

// parseAnd parses AndExpr ::= NotExpr ('and' (' ' NotExpr | '(' Expr ')'))*.
func (p *parser) parseAnd() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	pos := p.pos
	first, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	children := []Expr{first}
	p.blank()
	for p.lit("and") {
		var child Expr
		switch {
		case p.blank():
			child, err = p.parseNot()
		case p.lit("("):
			child, err = p.parseEmbedded()
		default:
			return nil, p.errorf("expected blank or '(' after 'and'")
		}
		if err != nil {
			return nil, err
		}
		children = append(children, child)
		p.blank()
	}
	if len(children) == 1 {
		return first, nil
	}
	return &AndExpr{Children: children, Position: pos}, nil
}

// parseNot parses NotExpr ::= ('not' blank)* ('not(' Expr ')' | Check). Each "not" flips the
// negation, so "not not a" is a.
func (p *parser) parseNot() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	pos := p.pos
	negate := false
	for n := notBlankLen(p.rest()); n > 0; n = notBlankLen(p.rest()) {
		p.take(n)
		negate = !negate
	}
	var child Expr
	var err error
	if p.lit("not(") {
		negate = !negate
		child, err = p.parseEmbedded()
	} else {
		child, err = p.parseCheck()
	}
	if err != nil {
		return nil, err
	}
	if negate {
		return &NotExpr{Child: child, Position: pos}, nil
	}
	return child, nil
}

// parseEmbedded parses the rest of a parenthesised expression, after its "(".
func (p *parser) parseEmbedded() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	child, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.blank()
	if !p.lit(")") {
		return nil, p.errorf("expected a ')' token")
	}
	return child, nil
}

// parseCheck parses Check ::= '(' Expr ')' | Field Condition | Transformer Condition |
// Identifier.
func (p *parser) parseCheck() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	pos := p.pos
	if p.lit("(") {
		return p.parseEmbedded()
	}
	if n := fieldNameLen(p.rest()); n > 0 {
		left, err := p.parseFieldRest(p.take(n), pos)
		if err != nil {
			return nil, err
		}
		return p.parseCondition(left, pos)
	}
	if t, ok := p.transformer(); ok {
		left, err := p.parseTransformerRest(t, pos)
		if err != nil {
			return nil, err
		}
		return p.parseCondition(left, pos)
	}
	if n := identifierLen(p.rest()); n > 0 {
		return &IdentifierExpr{Name: p.take(n), Position: pos}, nil
	}
	return nil, p.errorf("expected a '(' token, a field check, or an identifier")
}

// parseFieldRest parses a field's optional argument: Field ::= FieldName ('[' FieldArg ']')?.
func (p *parser) parseFieldRest(name string, pos Pos) (*FieldExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	f := &FieldExpr{Field: name, Position: pos}
	if !p.lit("[") {
		return f, nil
	}
	f.HasArg = true
	arg, ok, err := p.quoted()
	switch {
	case err != nil:
		return nil, err
	case ok:
		f.Arg = arg
	case fieldArgLen(p.rest()) > 0:
		f.Arg = p.take(fieldArgLen(p.rest()))
	default:
		return nil, p.errorf("expected a valid field argument: a quoted string or a bare string")
	}
	if !p.lit("]") {
		return nil, p.errorf("expected a ']' token")
	}
	return f, nil
}

// parseTransformerRest parses the argument of a transformer and its closing parenthesis, after
// "name(": a field or another transformer.
func (p *parser) parseTransformerRest(t Transformer, pos Pos) (*FieldTransformerExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	argPos := p.pos
	var value Expr
	var err error
	if inner, ok := p.transformer(); ok {
		value, err = p.parseTransformerRest(inner, argPos)
	} else if n := fieldNameLen(p.rest()); n > 0 {
		value, err = p.parseFieldRest(p.take(n), argPos)
	} else {
		return nil, p.errorf("expected a field or a nested valid transformer: %s", transformerList)
	}
	if err != nil {
		return nil, err
	}
	p.blank()
	if !p.lit(")") {
		return nil, p.errorf("expected a ')' token closing the transformer")
	}
	return &FieldTransformerExpr{Transformer: t, Value: value, Position: pos}, nil
}

// parseCondition parses what follows a check's left operand: an operator and, unless it is
// unary, the right operand.
func (p *parser) parseCondition(left Expr, pos Pos) (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	op, class, ok := p.operator()
	if !ok {
		return nil, p.errorf("expected a valid check operator: one of %s", operatorList)
	}
	var right Expr
	var err error
	switch class {
	case unaryOp:
		return &UnaryCheckExpr{Left: left, Op: op, Position: pos}, nil
	case numOp:
		right, err = p.parseNumValue()
	case strOp, wordOp:
		right, err = p.parseStrValue()
	case listOp:
		right, err = p.parseListValue()
	}
	if err != nil {
		return nil, err
	}
	return &BinaryCheckExpr{Left: left, Op: op, Right: right, Position: pos}, nil
}

// parseNumValue parses the right operand of a numeric operator.
func (p *parser) parseNumValue() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	pos := p.pos
	if e, err := p.tryTransformerOrVal(); e != nil || err != nil {
		return e, err
	}
	n := hexNumberLen(p.rest())
	if n == 0 {
		n = numberLen(p.rest())
	}
	if n > 0 {
		return &ValueExpr{Value: p.take(n), Position: pos}, nil
	}
	return nil, p.errorf("expected a number value or a field with a valid transformer: %s", transformerList)
}

// parseStrValue parses the right operand of a string operator.
func (p *parser) parseStrValue() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	if e, err := p.tryTransformerOrVal(); e != nil || err != nil {
		return e, err
	}
	v, err := p.parseString()
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, p.errorf("expected a string value or a field with a valid transformer: %s", transformerList)
	}
	return v, nil
}

// parseString parses StrValue ::= QuotedStr | BareStr, if one starts at the cursor. It returns
// nil, nil if none does.
func (p *parser) parseString() (*ValueExpr, error) {
	p.blank()
	pos := p.pos
	if s, ok, err := p.quoted(); err != nil {
		return nil, err
	} else if ok {
		return &ValueExpr{Value: s, Quoted: true, Position: pos}, nil
	}
	if n := bareStringLen(p.rest()); n > 0 {
		return &ValueExpr{Value: p.take(n), Position: pos}, nil
	}
	return nil, nil
}

// parseListValue parses the right operand of a list operator: ListValue ::= '(' (StrValue
// (',' StrValue)*)? ')' | Identifier, or a transformed or val() field.
func (p *parser) parseListValue() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	pos := p.pos
	if p.lit("(") {
		list := &ListExpr{Position: pos}
		// As in libsinsp, a list that does not start with a string must be empty.
		v, err := p.parseString()
		if err != nil {
			return nil, err
		}
		if v != nil {
			list.Values = append(list.Values, v)
			p.blank()
			for p.lit(",") {
				v, err := p.parseString()
				if err != nil {
					return nil, err
				}
				if v == nil {
					return nil, p.errorf("expected a string value")
				}
				list.Values = append(list.Values, v)
				p.blank()
			}
		}
		if !p.lit(")") {
			return nil, p.errorf("expected a ')' token")
		}
		return list, nil
	}
	if e, err := p.tryTransformerOrVal(); e != nil || err != nil {
		return e, err
	}
	if n := identifierLen(p.rest()); n > 0 {
		return &ValueExpr{Value: p.take(n), Position: pos}, nil
	}
	return nil, p.errorf("expected a list, an identifier, or a field with a valid transformer: %s", transformerList)
}

// tryTransformerOrVal parses val(field) or a transformer, if one starts at the cursor. It
// returns nil, nil if neither does.
func (p *parser) tryTransformerOrVal() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.blank()
	pos := p.pos
	if p.lit("val(") {
		p.blank()
		fieldPos := p.pos
		n := fieldNameLen(p.rest())
		if n == 0 {
			return nil, p.errorf("expected a field within 'val' transformer")
		}
		f, err := p.parseFieldRest(p.take(n), fieldPos)
		if err != nil {
			return nil, err
		}
		p.blank()
		if !p.lit(")") {
			return nil, p.errorf("expected a ')' token closing the transformer")
		}
		return &FieldValueExpr{Field: f, Position: pos}, nil
	}
	if t, ok := p.transformer(); ok {
		e, err := p.parseTransformerRest(t, pos)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
	return nil, nil
}

// Lists of names for error messages, formatted as libsinsp formats them.
var (
	operatorList    = quotedList(Operators())
	transformerList = quotedList(append([]Transformer{"val"}, transformers...))
)

func quotedList[S ~string](names []S) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + string(n) + "'"
	}
	return strings.Join(quoted, ", ")
}
