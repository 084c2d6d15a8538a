// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package condition parses the conditions of Falco rules and macros into syntax trees, and
// prints trees back as conditions.
//
// The grammar is libsinsp's (falcosecurity/libs, userspace/libsinsp/filter/parser.cpp), and
// so is the tree (ast.h): the rules loader (package policy/rules) substitutes macros and lists
// on it, and the translator to CEL reads it. Pure: no I/O, no field table. Whether a field
// exists, takes an argument, or can be compared with an operator is for later stages to say.
//
//	Expr        ::= OrExpr
//	OrExpr      ::= AndExpr ('or' (blank AndExpr | '(' Expr ')'))*
//	AndExpr     ::= NotExpr ('and' (blank NotExpr | '(' Expr ')'))*
//	NotExpr     ::= ('not' blank)* ('not(' Expr ')' | Check)
//	Check       ::= '(' Expr ')' | Field Condition | Transformer Condition | Identifier
//	Transformer ::= ('tolower(' | 'toupper(' | 'b64(' | 'basename(' | 'len(') (Transformer | Field) ')'
//	Condition   ::= 'exists'
//	              | NumOperator (Number | ValOrTransformer)
//	              | StrOperator (String | ValOrTransformer)
//	              | ListOperator ('(' (String (',' String)*)? ')' | Identifier | ValOrTransformer)
//	ValOrTransformer ::= 'val(' Field ')' | Transformer
//	Field       ::= FieldName ('[' (QuotedStr | FieldArgBareStr) ']')?
//	String      ::= QuotedStr | BareStr
//
// with the operators
//
//	exists
//	<= < >= >
//	== = != glob iglob contains icontains bcontains startswith bstartswith endswith regex
//	intersects in pmatch
//
// "or" binds loosest, then "and", then "not"; keywords and operators are lowercase and
// case-sensitive. Operators that are words must be followed by a blank; the list operators need
// not be, so "fd.name in(a, b)" parses. A run of "not"s toggles: "not not a" is a. Values may be
// bare words (proc.name = bash, fd.name startswith /etc/) or quoted with single or double quotes
// and libsinsp's escapes (see Unquote). Numbers are decimal, with an optional sign, fraction and
// signed exponent, or hexadecimal (0x1F). Blanks between tokens are space, tab, \b, \r and \n.
//
// # Differences from libsinsp
//
// The parser accepts everything libsinsp does and builds the same tree, with these
// deliberate exceptions:
//
//   - Identifiers (macro names, list names after "in") may start with '_', as the macros of
//     SysFlow's policies do (_heartbeat); libsinsp requires a letter.
//   - A backslash always escapes the next character when finding the end of a quoted string,
//     so "C:\\" ends where it seems to; libsinsp only looks at the previous character and
//     reads on past that quote.
//   - A bad escape or unterminated quote inside a list is reported as such rather than as a
//     missing ')'.
//   - "\r\n" is one line break, not two, when counting lines.
//   - The join transformer and transformer lists of the newest libsinsp are not supported.
//   - Positions: a node's position is where its first token starts; libsinsp sometimes records
//     the blanks before it.
//
// The tree is libsinsp's with two refinements: a ValueExpr records whether it was quoted (only
// a bare word can name a list), and val(field) is a FieldValueExpr rather than a transformer
// named "val".
package condition
