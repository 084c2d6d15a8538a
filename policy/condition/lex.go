// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package condition

// The token matchers below each return the length of the longest token of their kind at the
// start of s, or 0. They implement libsinsp's regular expressions (POSIX, leftmost-longest):
//
//	Identifier       [a-zA-Z_][a-zA-Z0-9_]*   (libsinsp: no leading '_'; see the package doc)
//	FieldName        [a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+
//	FieldArgBareStr  [^][\"'[:space:]]+
//	HexNumber        0[xX][0-9a-fA-F]+
//	Number           [+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?
//	BareStr          [^()\"'[:space:]=,]+
//	NotBlank         not[[:space:]]+

// isBlank reports whether libsinsp skips c between tokens. Note that this set differs from
// POSIX [:space:], which the regular expressions use.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\b' || c == '\r' || c == '\n'
}

// isSpace reports whether c is in POSIX [:space:].
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isWordChar(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }

func identifierLen(s string) int {
	if s == "" || !(isLetter(s[0]) || s[0] == '_') {
		return 0
	}
	n := 1
	for n < len(s) && isWordChar(s[n]) {
		n++
	}
	return n
}

// segmentEnd returns the end of the name segment starting at s[i], or -1 if none does.
func segmentEnd(s string, i int) int {
	if i >= len(s) || !isLetter(s[i]) {
		return -1
	}
	i++
	for i < len(s) && isWordChar(s[i]) {
		i++
	}
	return i
}

func fieldNameLen(s string) int {
	end := segmentEnd(s, 0)
	if end < 0 {
		return 0
	}
	dotted := false
	for end < len(s) && s[end] == '.' {
		next := segmentEnd(s, end+1)
		if next < 0 {
			break
		}
		end, dotted = next, true
	}
	if !dotted {
		return 0
	}
	return end
}

func fieldArgLen(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if c == '[' || c == ']' || c == '"' || c == '\'' || isSpace(c) {
			break
		}
		n++
	}
	return n
}

func hexNumberLen(s string) int {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !isHexDigit(s[2]) {
		return 0
	}
	n := 3
	for n < len(s) && isHexDigit(s[n]) {
		n++
	}
	return n
}

func numberLen(s string) int {
	n := 0
	if n < len(s) && (s[n] == '+' || s[n] == '-') {
		n++
	}
	digits := n
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n == digits {
		return 0
	}
	if n < len(s) && s[n] == '.' {
		n++
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	if n+2 < len(s) && (s[n] == 'e' || s[n] == 'E') && (s[n+1] == '+' || s[n+1] == '-') && isDigit(s[n+2]) {
		n += 3
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	return n
}

func bareStringLen(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if c == '(' || c == ')' || c == '"' || c == '\'' || c == '=' || c == ',' || isSpace(c) {
			break
		}
		n++
	}
	return n
}

func notBlankLen(s string) int {
	if len(s) < 4 || s[:3] != "not" || !isSpace(s[3]) {
		return 0
	}
	n := 4
	for n < len(s) && isSpace(s[n]) {
		n++
	}
	return n
}
