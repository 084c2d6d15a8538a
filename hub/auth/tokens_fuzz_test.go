package auth_test

import (
	"strings"
	"testing"

	"github.com/sysflux/sysflux/hub/auth"
)

// FuzzParse checks that Parse never panics, and that what it accepts is well formed: named,
// scoped and rate-limited tokens with distinct names and hashes. Committed regressions are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("tokens:\n  - name: a\n    sha256: " + hashOf("x") + "\n    scopes: [read]\n"))
	f.Add([]byte("tokens:\n  - name: ci\n    token: ci-token-0123456789\n    scopes: [admin, read]\n    rate: 0.5\n    burst: 3\n"))
	f.Add([]byte("tokens: [{name: a, sha256: " + hashOf("y") + ", scopes: [admin]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := auth.Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		names := map[string]bool{}
		hashes := map[[32]byte]bool{}
		for _, tok := range tk.List() {
			if tok.Name == "" || names[tok.Name] || hashes[tok.Hash] {
				t.Fatalf("token %+v: empty or repeated name or hash", tok)
			}
			names[tok.Name], hashes[tok.Hash] = true, true
			if len(tok.Scopes) == 0 || !(tok.Rate > 0) || tok.Burst < 1 {
				t.Fatalf("token %q: scopes %v, rate %v, burst %d", tok.Name, tok.Scopes, tok.Rate, tok.Burst)
			}
			for _, s := range tok.Scopes {
				if s != auth.Read && s != auth.Admin {
					t.Fatalf("token %q: scope %q", tok.Name, s)
				}
			}
		}
	})
}
