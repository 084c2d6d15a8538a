// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition

import (
	"errors"
	"strings"
)

// Quote returns s as a double-quoted condition string. It escapes what libsinsp's
// escape_str escapes: backslash, double quote, \b, \f, \n, \r and \t.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Unquote interprets s, which must be one single- or double-quoted string and nothing else,
// as the condition parser does, and returns the string it denotes.
//
// The escapes are libsinsp's: \b \f \n \r \t \\ \/, \" inside double quotes and \' inside
// single quotes. For compatibility with old rules, libsinsp reads a backslash followed by a
// blank as a lone backslash, dropping the blank; so does Unquote. There are no hex escapes.
func Unquote(s string) (string, error) {
	end, err := quotedEnd(s, 0)
	if err != nil {
		return "", err
	}
	if end != len(s) {
		return "", errors.New("unexpected text after the closing quote")
	}
	return unescape(s[1:end-1], s[0])
}

// quotedEnd returns the offset just past the quoted string that starts at s[start], a quote.
func quotedEnd(s string, start int) (int, error) {
	if start >= len(s) || (s[start] != '"' && s[start] != '\'') {
		return 0, errors.New("expected a quoted string")
	}
	delim := s[start]
	for i := start + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped character never ends the string
		case delim:
			return i + 1, nil
		}
	}
	return 0, errors.New("unterminated quoted string")
}

// unescape decodes the escapes of the body of a string quoted with delim.
func unescape(body string, delim byte) (string, error) {
	if strings.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(body) {
			return "", errors.New("unterminated string escape sequence")
		}
		switch c = body[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case ' ', '\\':
			b.WriteByte('\\')
		case '/':
			b.WriteByte('/')
		case '"':
			if delim != '"' {
				return "", errors.New(`invalid \" escape in '-quoted string`)
			}
			b.WriteByte('"')
		case '\'':
			if delim != '\'' {
				return "", errors.New(`invalid \' escape in "-quoted string`)
			}
			b.WriteByte('\'')
		default:
			return "", errors.New(`unsupported string escape sequence: \` + string(c))
		}
	}
	return b.String(), nil
}
