package field

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// JSON paths, as SysFlow's policies write them in sf.ke.message[items.0.namespace]: SysFlow's
// engine reads them with gjson (github.com/tidwall/gjson). The part of gjson's syntax supported
// here is its paths proper: keys separated by dots, a number indexing an array, # for an
// array's length (last only), and a backslash making the next character part of a key
// (a\.b is the key "a.b"). Wildcards, queries and modifiers are rejected.

// ParseJSONPath splits a JSON path into its keys, or says what it does not support.
func ParseJSONPath(p string) ([]string, error) {
	if p == "" {
		return nil, errors.New("empty JSON path")
	}
	var (
		keys []string
		key  strings.Builder
	)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 == len(p) {
				return nil, fmt.Errorf("JSON path %q ends with a backslash", p)
			}
			i++
			key.WriteByte(p[i])
		case '.':
			if key.Len() == 0 {
				return nil, fmt.Errorf("JSON path %q has an empty key", p)
			}
			keys = append(keys, key.String())
			key.Reset()
		case '*', '?', '|', '@', '!', '(', ')', '[', ']', '{', '}', '=', '<', '>', '%':
			return nil, fmt.Errorf("JSON path %q: %q (wildcards, queries, modifiers) is not supported; use keys, array indexes and #", p, c)
		default:
			key.WriteByte(c)
		}
	}
	if key.Len() == 0 {
		return nil, fmt.Errorf("JSON path %q has an empty key", p)
	}
	keys = append(keys, key.String())
	for i, k := range keys {
		if k == "#" && i != len(keys)-1 {
			return nil, fmt.Errorf("JSON path %q: # (an array's length) must come last", p)
		}
	}
	return keys, nil
}

// JSONPathValue returns the value at path in the JSON document doc as gjson's String gives
// it: a string's text, a number or boolean as written, "" for null, an object or array as
// compact JSON; and false when the document has nothing there (or is not JSON). What follows
// the document is ignored, as gjson ignores it: the messages of SysFlow's Kubernetes events
// end with a NUL byte.
func JSONPathValue(doc string, path []string) (string, bool) {
	var raw json.RawMessage
	if json.NewDecoder(strings.NewReader(doc)).Decode(&raw) != nil {
		return "", false
	}
	for _, k := range path {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			return "", false
		}
		switch raw[0] {
		case '{':
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &obj) != nil {
				return "", false
			}
			v, ok := obj[k]
			if !ok {
				return "", false
			}
			raw = v
		case '[':
			var arr []json.RawMessage
			if json.Unmarshal(raw, &arr) != nil {
				return "", false
			}
			if k == "#" {
				return strconv.Itoa(len(arr)), true
			}
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(arr) {
				return "", false
			}
			raw = arr[i]
		default:
			return "", false
		}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case 'n':
		return "", true
	case '{', '[':
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return "", false
		}
		return b.String(), true
	}
	if !json.Valid(raw) {
		return "", false
	}
	return string(raw), true
}
