// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"bytes"
	"sort"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// position is a place in a rules file.
type position struct {
	file      string
	line, col int
}

// source is the text of one loaded file.
type source struct {
	name  string
	data  []byte
	lines []int // offsets where lines start
}

func newSource(name string, data []byte) *source {
	s := &source{name: name, data: data, lines: []int{0}}
	for i, c := range data {
		if c == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	return s
}

// at returns the position of a node, as the YAML parser reports it.
func (s *source) at(n *yaml.Node) position {
	if n == nil {
		return position{file: s.name}
	}
	return position{file: s.name, line: n.Line, col: n.Column}
}

// offset returns the byte offset of a line and character column, as YAML counts them.
func (s *source) offset(line, col int) int {
	if line < 1 || line > len(s.lines) {
		return len(s.data)
	}
	off := s.lines[line-1]
	for ; col > 1 && off < len(s.data) && s.data[off] != '\n'; col-- {
		_, size := utf8.DecodeRune(s.data[off:])
		off += size
	}
	return off
}

// position returns the position of a byte offset.
func (s *source) position(off int) position {
	line := sort.Search(len(s.lines), func(i int) bool { return s.lines[i] > off }) // 1-based
	start := s.lines[line-1]
	return position{file: s.name, line: line, col: utf8.RuneCount(s.data[start:off]) + 1}
}

// locator maps byte offsets in a condition to positions in the files it came from.
type locator interface {
	locate(offset int) position
}

// fixed is a locator for text that does not appear in any file, such as the conditions built
// from a rule's exceptions: every offset is at the item it was built from.
type fixed position

func (f fixed) locate(int) position { return position(f) }

// scalar locates the offsets of a YAML scalar's value in its file. YAML folds lines, strips
// indentation and decodes escapes, so the value is aligned with the file's text: characters
// that are equal match, and whitespace on either side that does not is skipped.
type scalar struct {
	src     *source
	node    *yaml.Node
	offsets []int // offset in the file of each byte of the value, and of its end; computed once
}

func (s *scalar) locate(off int) position {
	if s.offsets == nil {
		s.offsets = s.align()
	}
	off = min(max(off, 0), len(s.offsets)-1)
	return s.src.position(s.offsets[off])
}

func (s *scalar) align() []int {
	data, v := s.src.data, s.node.Value
	j := s.src.offset(s.node.Line, s.node.Column)
	switch s.node.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle: // the value starts on the line after "|" or ">"
		if i := bytes.IndexByte(data[j:], '\n'); i >= 0 {
			j += i + 1
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		j++
	}
	offsets := make([]int, len(v)+1)
	for i := 0; i < len(v); {
		switch {
		case j >= len(data):
			offsets[i] = len(data)
			i++
		case v[i] == data[j]:
			offsets[i] = j
			i, j = i+1, j+1
		case isYAMLSpace(data[j]):
			j++
		case isYAMLSpace(v[i]):
			offsets[i] = j
			i++
		default: // an escape sequence, or a quote doubled in a single-quoted scalar
			j++
		}
	}
	offsets[len(v)] = min(j, len(data))
	return offsets
}

func isYAMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// text is a condition made of one or more scalars, joined by spaces when a macro or a rule is
// appended to.
type text struct {
	s     string
	parts []part
}

type part struct {
	start int // offset of the part in the text
	loc   locator
}

func newText(s string, loc locator) *text {
	return &text{s: s, parts: []part{{0, loc}}}
}

// append adds s after a space, as Falco appends conditions.
func (t *text) append(s string, loc locator) {
	t.s += " "
	t.parts = append(t.parts, part{len(t.s), loc})
	t.s += s
}

// clone returns a copy that appending to does not change t.
func (t *text) clone() *text {
	return &text{s: t.s, parts: append([]part(nil), t.parts...)}
}

func (t *text) locate(off int) position {
	i := sort.Search(len(t.parts), func(i int) bool { return t.parts[i].start > off }) - 1
	p := t.parts[max(i, 0)]
	return p.loc.locate(off - p.start)
}
