package field_test

import (
	"testing"

	"github.com/sysflux/sysflux/policy/field"
)

// Values at JSON paths are those gjson's String gives, which SysFlow's policy engine compares.
func TestJSONPathValue(t *testing.T) {
	const doc = `{"kind":"Pod","items":[{"name":"user-1","namespace":"robot-shop","hostIP":null,
		"ready":true,"restarts":3,"labels":{"app":"user","a.b":"dotted"},"ports":[8080, 9090]}],"empty":[]}`
	for _, tc := range []struct {
		path string
		want string
		ok   bool
	}{
		{"kind", "Pod", true},
		{"items.0.namespace", "robot-shop", true},
		{"items.0.ready", "true", true},
		{"items.0.restarts", "3", true},
		{"items.0.hostIP", "", true}, // null
		{"items.0.labels", `{"app":"user","a.b":"dotted"}`, true},
		{"items.0.ports", `[8080,9090]`, true},
		{"items.0.ports.1", "9090", true},
		{"items.0.labels.a\\.b", "dotted", true},
		{"items.#", "1", true},
		{"empty.#", "0", true},
		{"items.1.namespace", "", false},
		{"items.x", "", false},
		{"kind.x", "", false},
		{"nothing", "", false},
		{"items.-1", "", false},
	} {
		keys, err := field.ParseJSONPath(tc.path)
		if err != nil {
			t.Fatalf("ParseJSONPath(%q): %v", tc.path, err)
		}
		got, ok := field.JSONPathValue(doc, keys)
		if got != tc.want || ok != tc.ok {
			t.Errorf("JSONPathValue(%s) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := field.JSONPathValue("not json", []string{"a"}); ok {
		t.Error("a value in a document that is not JSON")
	}
	// What follows the document is ignored, as gjson ignores it.
	if got, ok := field.JSONPathValue("{\"a\":{\"b\":1}}\x00\n", []string{"a", "b"}); got != "1" || !ok {
		t.Errorf("value in a document followed by a NUL: %q, %v", got, ok)
	}
}

func TestParseJSONPathErrors(t *testing.T) {
	for _, p := range []string{"", "a.", ".a", "a..b", "a\\", "items.*.name", "a?", "a|b", "@this", "items.#(name=x)", "a.#.b"} {
		if keys, err := field.ParseJSONPath(p); err == nil {
			t.Errorf("ParseJSONPath(%q) = %q, want an error", p, keys)
		}
	}
}
