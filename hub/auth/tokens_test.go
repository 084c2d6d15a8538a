package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/sysflux/sysflux/hub/auth"
)

// hashOf returns the hex SHA-256 of a token, as a tokens file holds it.
func hashOf(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

func TestParse(t *testing.T) {
	const file = `
tokens:
  - name: grafana
    sha256: ` + "\"" + "%s" + "\"" + `
    scopes: [read]
  - name: ci
    token: ci-token-0123456789
    scopes: [admin]
    rate: 2.5
  - name: batch
    sha256: BATCH
    scopes: [read, admin]
    rate: 100
    burst: 7
`
	data := strings.NewReplacer("%s", hashOf("grafana-token-0123456789"), "BATCH", hashOf("batch-token-0123456789")).Replace(file)
	got, err := auth.Parse("tokens.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name      string
		hash      string
		scopes    string
		rate      rate.Limit
		burst     int
		plaintext bool
	}{
		{"grafana", hashOf("grafana-token-0123456789"), "read", auth.DefaultRate, auth.DefaultBurst, false},
		{"ci", hashOf("ci-token-0123456789"), "admin", 2.5, 5, true},
		{"batch", hashOf("batch-token-0123456789"), "read,admin", 100, 7, false},
	}
	list := got.List()
	if len(list) != 3 {
		t.Fatalf("Parse: %d tokens, want 3", len(list))
	}
	for i, w := range want {
		g := list[i]
		var scopes []string
		for _, s := range g.Scopes {
			scopes = append(scopes, string(s))
		}
		if g.Name != w.name || hex.EncodeToString(g.Hash[:]) != w.hash || strings.Join(scopes, ",") != w.scopes ||
			g.Rate != w.rate || g.Burst != w.burst || g.Plaintext != w.plaintext {
			t.Errorf("token %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestParseErrors checks that every mistake in a tokens file is refused with the file, the line
// and the token it is about, and never shows a token. Two entries of one token are refused:
// the second would never match.
func TestParseErrors(t *testing.T) {
	h := hashOf("a-token-0123456789abc")
	tests := []struct {
		name, data string
		want       []string
	}{
		{"empty", "", []string{"f.yaml", "empty"}},
		{"not a mapping", "- a\n- b\n", []string{"f.yaml:1", "mapping"}},
		{"unknown top-level key", "tokenz: []\n", []string{"f.yaml:1", `unknown key "tokenz"`}},
		{"no tokens key", "{}\n", []string{"no tokens key"}},
		{"tokens not a list", "tokens: yes\n", []string{"f.yaml:1", "must be a list"}},
		{"empty list", "tokens: []\n", []string{"empty"}},
		{"entry not a mapping", "tokens:\n  - grafana\n", []string{"f.yaml:2", "token 1", "mapping"}},
		{"no name", "tokens:\n  - sha256: " + h + "\n    scopes: [read]\n", []string{"f.yaml:2", "no name"}},
		{"no secret", "tokens:\n  - name: a\n    scopes: [read]\n", []string{`"a"`, "no sha256"}},
		{"both secrets", "tokens:\n  - name: a\n    sha256: " + h + "\n    token: a-token-0123456789abc\n    scopes: [read]\n", []string{"not both"}},
		{"short token", "tokens:\n  - name: a\n    token: short\n    scopes: [read]\n", []string{"shorter than 16"}},
		{"bad hash", "tokens:\n  - name: a\n    sha256: abc\n    scopes: [read]\n", []string{"64 hexadecimal"}},
		{"no scopes", "tokens:\n  - name: a\n    sha256: " + h + "\n", []string{"no scopes"}},
		{"empty scopes", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: []\n", []string{"no scopes"}},
		{"scopes not a list", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: read\n", []string{"line 4", "must be a list"}},
		{"unknown scope", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [write]\n", []string{`unknown scope "write"`}},
		{"unknown key", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [read]\n    rates: 1\n", []string{"line 5", `unknown key "rates"`}},
		{"key twice", "tokens:\n  - name: a\n    name: b\n    sha256: " + h + "\n    scopes: [read]\n", []string{"line 3", "name given twice"}},
		{"zero rate", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [read]\n    rate: 0\n", []string{"rate 0 is not a positive number"}},
		{"negative rate", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [read]\n    rate: -1\n", []string{"rate -1"}},
		{"rate not a number", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [read]\n    rate: fast\n", []string{"line 5", "rate"}},
		{"zero burst", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [read]\n    burst: 0\n", []string{"burst 0"}},
		{"same name", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [read]\n  - name: a\n    token: another-token-0123456789\n    scopes: [read]\n", []string{"f.yaml:5", "already used on line 2"}},
		{"same token", "tokens:\n  - name: a\n    sha256: " + h + "\n    scopes: [read]\n  - name: b\n    token: a-token-0123456789abc\n    scopes: [admin]\n", []string{"f.yaml:5", `same token as "a"`}},
		{"not YAML", "tokens: [\n", []string{"f.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.Parse("f.yaml", []byte(tt.data))
			if err == nil {
				t.Fatalf("Parse(%q): no error", tt.data)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) = %q, want it to contain %q", tt.data, err, w)
				}
			}
			if strings.Contains(err.Error(), "a-token-0123456789abc") {
				t.Errorf("Parse error %q shows a token", err)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := auth.LoadFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadFile(%s) = %v, want an error naming the file", missing, err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadFile(2 MiB) = %v, want an error saying it is too large", err)
	}
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, []byte("tokens:\n  - name: a\n    sha256: "+hashOf("x")+"\n    scopes: [read]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tk, err := auth.LoadFile(ok); err != nil || len(tk.List()) != 1 {
		t.Errorf("LoadFile(%s) = %v, %v; want 1 token", ok, tk, err)
	}
}
