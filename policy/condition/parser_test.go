// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sysflux/sysflux/policy/condition"
)

// Helpers that build trees with zero positions; compare them with ignorePos.

var ignorePos = cmp.Comparer(func(a, b condition.Pos) bool { return true })

func field(name string) *condition.FieldExpr { return &condition.FieldExpr{Field: name} }

func fieldArg(name, arg string) *condition.FieldExpr {
	return &condition.FieldExpr{Field: name, Arg: arg, HasArg: true}
}

func val(s string) *condition.ValueExpr    { return &condition.ValueExpr{Value: s} }
func quoted(s string) *condition.ValueExpr { return &condition.ValueExpr{Value: s, Quoted: true} }
func ident(s string) *condition.IdentifierExpr {
	return &condition.IdentifierExpr{Name: s}
}
func list(vs ...*condition.ValueExpr) *condition.ListExpr { return &condition.ListExpr{Values: vs} }
func and(cs ...condition.Expr) *condition.AndExpr         { return &condition.AndExpr{Children: cs} }
func or(cs ...condition.Expr) *condition.OrExpr           { return &condition.OrExpr{Children: cs} }
func not(c condition.Expr) *condition.NotExpr             { return &condition.NotExpr{Child: c} }

func check(l condition.Expr, op condition.Operator, r condition.Expr) *condition.BinaryCheckExpr {
	return &condition.BinaryCheckExpr{Left: l, Op: op, Right: r}
}

func unary(l condition.Expr, op condition.Operator) *condition.UnaryCheckExpr {
	return &condition.UnaryCheckExpr{Left: l, Op: op}
}

func transform(t condition.Transformer, v condition.Expr) *condition.FieldTransformerExpr {
	return &condition.FieldTransformerExpr{Transformer: t, Value: v}
}

func fieldValue(f *condition.FieldExpr) *condition.FieldValueExpr {
	return &condition.FieldValueExpr{Field: f}
}

// eq is "proc.name = v", the most common check.
func eq(v string) *condition.BinaryCheckExpr {
	return check(field("proc.name"), condition.OpEq, val(v))
}

type parseTest struct {
	name, in string
	want     condition.Expr
}

func runParseTests(t *testing.T, tests []parseTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := condition.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got, ignorePos); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			// Every tree prints as a condition that parses back to it.
			again, err := condition.Parse(got.String())
			if err != nil {
				t.Fatalf("Parse(%q), printed from Parse(%q): %v", got.String(), tt.in, err)
			}
			if !condition.Equal(got, again) {
				t.Errorf("Parse(%q) = %s, want %s", got.String(), again, got)
			}
		})
	}
}

func TestParseOperators(t *testing.T) {
	var tests []parseTest
	for _, op := range condition.Operators() {
		switch {
		case op.Unary():
			tests = append(tests, parseTest{string(op), "fd.name " + string(op), unary(field("fd.name"), op)})
		case op.Numeric():
			tests = append(tests, parseTest{string(op), "fd.num " + string(op) + " 3", check(field("fd.num"), op, val("3"))})
			// Symbols need no blanks around them.
			tests = append(tests, parseTest{string(op) + " tight", "fd.num" + string(op) + "3", check(field("fd.num"), op, val("3"))})
		case op.TakesList():
			tests = append(tests, parseTest{string(op), "fd.name " + string(op) + " (a, b)", check(field("fd.name"), op, list(val("a"), val("b")))})
			tests = append(tests, parseTest{string(op) + " tight", "fd.name " + string(op) + "(a,b)", check(field("fd.name"), op, list(val("a"), val("b")))})
		default:
			tests = append(tests, parseTest{string(op), "fd.name " + string(op) + " /etc", check(field("fd.name"), op, val("/etc"))})
		}
	}
	tests = append(tests,
		parseTest{"= tight", "fd.name=/etc", check(field("fd.name"), condition.OpEq, val("/etc"))},
		parseTest{"!= tight", "fd.name!=/etc", check(field("fd.name"), condition.OpNotEq, val("/etc"))},
		parseTest{"== tight", "fd.name==/etc", check(field("fd.name"), condition.OpEqEq, val("/etc"))},
		parseTest{"word operator after newline", "fd.name\ncontains\n/etc", check(field("fd.name"), condition.OpContains, val("/etc"))},
		parseTest{"list name", "proc.name in shell_binaries", check(field("proc.name"), condition.OpIn, val("shell_binaries"))},
		parseTest{"list name with underscore", "proc.name pmatch _edr_tools", check(field("proc.name"), condition.OpPMatch, val("_edr_tools"))},
		parseTest{"empty list", "proc.name in ()", check(field("proc.name"), condition.OpIn, &condition.ListExpr{})},
		parseTest{"list over lines", "proc.name in (\n  bash,\n  'zsh' ,\"sh\"\n)",
			check(field("proc.name"), condition.OpIn, list(val("bash"), quoted("zsh"), quoted("sh")))},
	)
	runParseTests(t, tests)
}

func TestParsePrecedence(t *testing.T) {
	a, b, c := ident("a"), ident("b"), ident("c")
	runParseTests(t, []parseTest{
		{"identifier", "a", a},
		{"and binds tighter than or", "a or b and c", or(a, and(b, c))},
		{"and binds tighter than or, left", "a and b or c", or(and(a, b), c)},
		{"not binds tighter than and", "not a and b", and(not(a), b)},
		{"not binds tighter than or", "not a or b", or(not(a), b)},
		{"flat and", "a and b and c", and(a, b, c)},
		{"flat or", "a or b or c", or(a, b, c)},
		{"parentheses", "(a or b) and c", and(or(a, b), c)},
		{"parentheses keep nesting", "a or (b or c)", or(a, or(b, c))},
		{"parentheses after and", "a and(b or c)", and(a, or(b, c))},
		{"parentheses after or", "a or(b and c)", or(a, and(b, c))},
		{"not parentheses", "not (a and b)", not(and(a, b))},
		{"not( without blank", "not(a and b)", not(and(a, b))},
		{"double not", "not not a", a},
		{"triple not", "not not not a", not(a)},
		{"not not(", "not not(a)", a},
		{"nested parentheses", "((((a))))", a},
		{"blanks", " \t(a\r\nor\tb )\n", or(a, b)},
		{"checks", "proc.name = bash and not fd.name exists or evt.type in (open)",
			or(
				and(eq("bash"), not(unary(field("fd.name"), condition.OpExists))),
				check(field("evt.type"), condition.OpIn, list(val("open"))),
			)},
		{"keywords as values", "proc.name = and or proc.name = not",
			or(eq("and"), eq("not"))},
		{"identifier prefixed by not", "notify and nothing", and(ident("notify"), ident("nothing"))},
	})
}

func TestParseValues(t *testing.T) {
	runParseTests(t, []parseTest{
		{"path", "fd.name = /etc/shadow", check(field("fd.name"), condition.OpEq, val("/etc/shadow"))},
		{"glob pattern", "fd.name glob /home/*/.ssh/*", check(field("fd.name"), condition.OpGlob, val("/home/*/.ssh/*"))},
		{"negative number", "fd.num = -1", check(field("fd.num"), condition.OpEq, val("-1"))},
		{"number with exponent", "evt.count >= +1.5e-3", check(field("evt.count"), condition.OpGreaterEq, val("+1.5e-3"))},
		{"hex number", "evt.arg.flags > 0x1F", check(field("evt.arg.flags"), condition.OpGreater, val("0x1F"))},
		{"bare word with colon", "container.image.repository = docker.io/falco:latest",
			check(field("container.image.repository"), condition.OpEq, val("docker.io/falco:latest"))},
		{"direction", "evt.dir = <", check(field("evt.dir"), condition.OpEq, val("<"))},
		{"empty string", `proc.name = ""`, check(field("proc.name"), condition.OpEq, quoted(""))},
		{"single quotes", `fd.typechar='f'`, check(field("fd.typechar"), condition.OpEq, quoted("f"))},
		{"quoted with blanks", `proc.cmdline contains "sh -c 'ls'"`,
			check(field("proc.cmdline"), condition.OpContains, quoted("sh -c 'ls'"))},
		{"quoted in list", `proc.cmdline in ("a b", 'c,d', e)`,
			check(field("proc.cmdline"), condition.OpIn, list(quoted("a b"), quoted("c,d"), val("e")))},
	})
}

func TestParseEscapes(t *testing.T) {
	q := func(s string) condition.Expr { return check(field("proc.name"), condition.OpEq, quoted(s)) }
	runParseTests(t, []parseTest{
		{"escaped double quote", `proc.name = "a\"b"`, q(`a"b`)},
		{"escaped single quote", `proc.name = 'a\'b'`, q(`a'b`)},
		{"other quote is plain", `proc.name = 'a"b'`, q(`a"b`)},
		{"backslash", `proc.name = "a\\b"`, q(`a\b`)},
		{"trailing backslash", `proc.name = "a\\" or proc.name = b`, or(q(`a\`), eq("b"))},
		{"control characters", `proc.name = "\b\f\n\r\t"`, q("\b\f\n\r\t")},
		{"slash", `proc.name = "\/bin"`, q("/bin")},
		{"backslash blank", `proc.name = "a\ b"`, q(`a\b`)},
		{"raw line break", "proc.name = 'a\nb'", q("a\nb")},
	})
}

func TestParseFields(t *testing.T) {
	runParseTests(t, []parseTest{
		{"numeric argument", "proc.aname[2] = bash", check(fieldArg("proc.aname", "2"), condition.OpEq, val("bash"))},
		{"argument index", "evt.arg[0] exists", unary(fieldArg("evt.arg", "0"), condition.OpExists)},
		{"dotted field", "evt.arg.path startswith /tmp", check(field("evt.arg.path"), condition.OpStartsWith, val("/tmp"))},
		{"path argument", "sf.ke.message[items.0.namespace] = 'robot-shop'",
			check(fieldArg("sf.ke.message", "items.0.namespace"), condition.OpEq, quoted("robot-shop"))},
		{"quoted argument", `k8s.pod.label["app name"] = x`, check(fieldArg("k8s.pod.label", "app name"), condition.OpEq, val("x"))},
		{"single-quoted argument", `proc.env['HOME'] = /root`, check(fieldArg("proc.env", "HOME"), condition.OpEq, val("/root"))},
		{"empty argument", `proc.env[""] exists`, unary(fieldArg("proc.env", ""), condition.OpExists)},
		{"underscores and digits", "k8s_audit.v1.x_y = 1", check(field("k8s_audit.v1.x_y"), condition.OpEq, val("1"))},
	})
}

func TestParseTransformers(t *testing.T) {
	fd := field("fd.name")
	runParseTests(t, []parseTest{
		{"tolower", "tolower(fd.name) = /etc", check(transform(condition.ToLower, fd), condition.OpEq, val("/etc"))},
		{"toupper", "toupper(fd.name) contains ETC", check(transform(condition.ToUpper, fd), condition.OpContains, val("ETC"))},
		{"b64", "b64(evt.arg.data) startswith abc", check(transform(condition.B64, field("evt.arg.data")), condition.OpStartsWith, val("abc"))},
		{"basename", "basename(proc.exepath) in (sh, bash)",
			check(transform(condition.Basename, field("proc.exepath")), condition.OpIn, list(val("sh"), val("bash")))},
		{"len", "len(proc.args) > 100", check(transform(condition.Len, field("proc.args")), condition.OpGreater, val("100"))},
		{"nested", "tolower(basename( fd.name )) exists", unary(transform(condition.ToLower, transform(condition.Basename, fd)), condition.OpExists)},
		{"argument inside", "toupper(proc.aname[1]) = BASH", check(transform(condition.ToUpper, fieldArg("proc.aname", "1")), condition.OpEq, val("BASH"))},
		{"right side", "fd.name = tolower(fd.directory)", check(fd, condition.OpEq, transform(condition.ToLower, field("fd.directory")))},
		{"right side of list operator", "fd.name in toupper(fd.directory)", check(fd, condition.OpIn, transform(condition.ToUpper, field("fd.directory")))},
		{"right side of number operator", "len(fd.name) > len(fd.directory)",
			check(transform(condition.Len, fd), condition.OpGreater, transform(condition.Len, field("fd.directory")))},
		{"val", "proc.name = val(proc.pname)", check(field("proc.name"), condition.OpEq, fieldValue(field("proc.pname")))},
		{"val with blanks and argument", "proc.aname[2] != val( proc.aname[3] )",
			check(fieldArg("proc.aname", "2"), condition.OpNotEq, fieldValue(fieldArg("proc.aname", "3")))},
		{"val after number operator", "fd.num >= val(evt.arg.fd)", check(field("fd.num"), condition.OpGreaterEq, fieldValue(field("evt.arg.fd")))},
		{"val after list operator", "proc.name in val(proc.pname)", check(field("proc.name"), condition.OpIn, fieldValue(field("proc.pname")))},
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in  string
		line, col int
		msg       string
	}{
		{"empty", "", 1, 1, "filter input string is empty"},
		{"blank", " ", 1, 2, "expected a '(' token, a field check, or an identifier"},
		{"no operator", "proc.name", 1, 10, "expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'"},
		{"unknown operator", "proc.name like bash", 1, 11, "expected a valid check operator"},
		{"word operator without blank", "proc.name contains", 1, 11, "expected a valid check operator"},
		{"no value", "proc.name =", 1, 12, "expected a string value or a field with a valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len'"},
		{"not a number", "fd.num > abc", 1, 10, "expected a number value or a field with a valid transformer"},
		{"not a list", "proc.name in 'a'", 1, 14, "expected a list, an identifier, or a field with a valid transformer"},
		{"unclosed list", "proc.name in (a, b", 1, 19, "expected a ')' token"},
		{"trailing comma", "proc.name in (a,)", 1, 17, "expected a string value"},
		{"leading comma", "proc.name in (,a)", 1, 15, "expected a ')' token"},
		{"unclosed parenthesis", "(a and b", 1, 9, "expected a ')' token"},
		{"trailing token", "a b", 1, 3, "unexpected token after 'a', expecting 'or', 'and'"},
		{"trailing token after value", "proc.name = bash)", 1, 17, "unexpected token after 'bash', expecting 'or', 'and'"},
		{"and without blank", "a andb", 1, 6, "expected blank or '(' after 'and'"},
		{"or without blank", "a orb", 1, 5, "expected blank or '(' after 'or'"},
		{"dangling and", "a and", 1, 6, "expected blank or '(' after 'and'"},
		{"dangling and blank", "a and ", 1, 7, "expected a '(' token, a field check, or an identifier"},
		{"operator first", "= bash", 1, 1, "expected a '(' token, a field check, or an identifier"},
		{"uppercase keyword", "a AND b", 1, 3, "unexpected token after 'a', expecting 'or', 'and'"},
		{"empty argument brackets", "proc.aname[] = x", 1, 12, "expected a valid field argument: a quoted string or a bare string"},
		{"unclosed argument", "proc.aname[2 = x", 1, 13, "expected a ']' token"},
		{"transformer of identifier", "tolower(name) = x", 1, 9, "expected a field or a nested valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len'"},
		{"unclosed transformer", "tolower(fd.name = x", 1, 17, "expected a ')' token closing the transformer"},
		{"val of identifier", "proc.name = val(name)", 1, 17, "expected a field within 'val' transformer"},
		{"val unclosed", "proc.name = val(proc.pname", 1, 27, "expected a ')' token closing the transformer"},
		{"val on the left", "val(proc.name) = x", 1, 4, "unexpected token after 'val', expecting 'or', 'and'"},
		{"unterminated string", `proc.name = "bash`, 1, 13, "unterminated quoted string"},
		{"bad escape", `proc.name = "\x41"`, 1, 13, `unsupported string escape sequence: \x`},
		{"double quote escaped in single quotes", `proc.name = 'a\"'`, 1, 13, `invalid \" escape in '-quoted string`},
		{"single quote escaped in double quotes", `proc.name = "a\'"`, 1, 13, `invalid \' escape in "-quoted string`},
		{"bad escape in list", `proc.name in (a, "\q")`, 1, 18, `unsupported string escape sequence: \q`},
		{"position on a later line", "proc.name = bash and\n  (fd.name exists or\n   fd.num >)", 3, 12, "expected a number value"},
		{"CRLF is one line break", "a and\r\nb c", 2, 3, "unexpected token after 'b'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := condition.Parse(tt.in)
			var perr *condition.ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) = %v, %v; want a *ParseError", tt.in, got, err)
			}
			if perr.Line != tt.line || perr.Column != tt.col || !strings.HasPrefix(perr.Msg, tt.msg) {
				t.Errorf("Parse(%q) error = %d:%d: %q, want %d:%d: %q", tt.in, perr.Line, perr.Column, perr.Msg, tt.line, tt.col, tt.msg)
			}
			if want := lineStart(tt.in, perr.Line) + perr.Column - 1; perr.Offset != want {
				t.Errorf("Parse(%q) error offset = %d, want %d (line %d, column %d)", tt.in, perr.Offset, want, perr.Line, perr.Column)
			}
			if want := fmt.Sprintf("%d:%d: %s", perr.Line, perr.Column, perr.Msg); err.Error() != want {
				t.Errorf("Parse(%q) error = %q, want %q", tt.in, err.Error(), want)
			}
		})
	}
}

// lineStart returns the offset where a line starts, counting "\r\n", "\r" and "\n" as breaks.
func lineStart(s string, line int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexAny(s[off:], "\r\n")
		if i < 0 {
			return len(s)
		}
		off += i + 1
		if s[off-1] == '\r' && off < len(s) && s[off] == '\n' {
			off++
		}
	}
	return off
}

func TestParseDepth(t *testing.T) {
	deep := strings.Repeat("(", 150) + "a" + strings.Repeat(")", 150)
	if _, err := condition.Parse(deep); err != nil {
		t.Errorf("Parse(150 parentheses): %v", err)
	}
	tooDeep := strings.Repeat("(", condition.MaxDepth) + "a" + strings.Repeat(")", condition.MaxDepth)
	_, err := condition.Parse(tooDeep)
	var perr *condition.ParseError
	if !errors.As(err, &perr) || perr.Msg != fmt.Sprintf("exceeded max depth limit of %d", condition.MaxDepth) {
		t.Errorf("Parse(%d parentheses) = %v, want the depth limit error", condition.MaxDepth, err)
	}
}

func TestParsePositions(t *testing.T) {
	in := "a and\n  not proc.aname[1] in (x, \"y\")"
	got, err := condition.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	pos := func(off, line, col int) condition.Pos { return condition.Pos{Offset: off, Line: line, Column: col} }
	want := &condition.AndExpr{Position: pos(0, 1, 1), Children: []condition.Expr{
		&condition.IdentifierExpr{Name: "a", Position: pos(0, 1, 1)},
		&condition.NotExpr{Position: pos(8, 2, 3), Child: &condition.BinaryCheckExpr{
			Position: pos(12, 2, 7),
			Left:     &condition.FieldExpr{Field: "proc.aname", Arg: "1", HasArg: true, Position: pos(12, 2, 7)},
			Op:       condition.OpIn,
			Right: &condition.ListExpr{Position: pos(29, 2, 24), Values: []*condition.ValueExpr{
				{Value: "x", Position: pos(30, 2, 25)},
				{Value: "y", Quoted: true, Position: pos(33, 2, 28)},
			}},
		}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse(%q) mismatch (-want +got):\n%s", in, diff)
	}
}
