package field

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// JSON paths, as SysFlow's policies write them in sf.ke.message[items.0.namespace], are
// gjson paths (github.com/tidwall/gjson), and gjson reads them here as it does in SysFlow's
// engine: keys, array indexes, # (an array's length, or each of its elements), wildcards,
// queries such as items.#(namespace=="robot-shop").name, multipaths, literals and modifiers.
// See gjson's SYNTAX.md.

// CheckJSONPath returns an error for a JSON path that gjson cannot use: gjson itself has no
// such check, and silently finds nothing at a malformed path. Rejected are an empty path, an
// empty key (as in a..b or a.), a trailing backslash, an unclosed string, and brackets,
// parentheses or braces that do not pair up (an unclosed query, for instance). A key that
// holds one of "()[]{} literally escapes it with a backslash, which gjson reads the same way.
func CheckJSONPath(p string) error {
	if p == "" {
		return errors.New("empty JSON path")
	}
	var open []byte // the brackets not closed yet, innermost last
	key := 0        // where the current key starts, outside brackets
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 == len(p) {
				return fmt.Errorf("JSON path %q ends with a backslash", p)
			}
			i++
		case '"':
			end := closingQuote(p, i+1)
			if end < 0 {
				return fmt.Errorf("JSON path %q has an unclosed string", p)
			}
			i = end
		case '(', '[', '{':
			open = append(open, c)
		case ')', ']', '}':
			if len(open) == 0 || open[len(open)-1] != opening(c) {
				return fmt.Errorf("JSON path %q has an unpaired %q", p, c)
			}
			open = open[:len(open)-1]
		case '.', '|':
			if len(open) > 0 {
				break
			}
			if i == key {
				return fmt.Errorf("JSON path %q has an empty key", p)
			}
			key = i + 1
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("JSON path %q has an unclosed %q", p, open[len(open)-1])
	}
	if key == len(p) {
		return fmt.Errorf("JSON path %q has an empty key", p)
	}
	return nil
}

// closingQuote returns the index of the quote closing a string that starts at i, or -1.
func closingQuote(p string, i int) int {
	for ; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func opening(c byte) byte {
	switch c {
	case ')':
		return '('
	case ']':
		return '['
	}
	return '{'
}

// JSONPathValue returns the value at path p in the JSON document doc as gjson's String gives
// it, which is what SysFlow's engine compares: a string's text, a number or boolean as
// written, "" for null, an object or array as it is written in doc (or as gjson builds it, for
// # over elements, queries with #, and multipaths); and false when gjson finds nothing there. The messages of SysFlow's Kubernetes events end with a newline and a
// NUL byte; they are dropped, so that modifiers reading the whole document (@this, @valid)
// see only the JSON.
func JSONPathValue(doc, p string) (string, bool) {
	r := gjson.Get(strings.TrimRight(doc, "\x00 \t\r\n"), p)
	if !r.Exists() {
		return "", false
	}
	return r.String(), true
}
