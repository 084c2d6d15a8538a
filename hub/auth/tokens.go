package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"
)

// Scope is what a token may do.
type Scope string

// The scopes. Admin implies Read.
const (
	Read  Scope = "read"
	Admin Scope = "admin"
)

// Default rate limits of a token whose entry sets none.
const (
	// DefaultRate is the calls per second a token may make (a stream counts once, when it
	// opens).
	DefaultRate = 20
	// DefaultBurst is the calls a token may make at once above its rate.
	DefaultBurst = 40
)

// MinTokenLength is the shortest plaintext token a tokens file may hold.
const MinTokenLength = 16

// maxFileBytes bounds a tokens file.
const maxFileBytes = 1 << 20

// Token is one entry of a tokens file.
type Token struct {
	// Name identifies the token in logs; it is not secret.
	Name string
	// Hash is the SHA-256 of the token.
	Hash [sha256.Size]byte
	// Scopes are what the token may do.
	Scopes []Scope
	// Rate and Burst limit the token's calls.
	Rate  rate.Limit
	Burst int
	// Plaintext is set when the file holds the token itself rather than its hash.
	Plaintext bool
}

// has reports whether t allows s; admin implies read.
func (t *Token) has(s Scope) bool {
	for _, g := range t.Scopes {
		if g == s || g == Admin {
			return true
		}
	}
	return false
}

// Tokens are the tokens of a tokens file.
type Tokens struct {
	list []Token
}

// List returns the tokens, in file order.
func (t *Tokens) List() []Token { return t.list }

// LoadFile reads and parses a tokens file.
func LoadFile(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("tokens file %s: larger than %d bytes", path, maxFileBytes)
	}
	return Parse(path, data)
}

// Parse parses a tokens file's content; name names it in errors. The file is YAML:
//
//	tokens:
//	  - name: grafana          # shown in logs
//	    sha256: 9f86d0...      # hex SHA-256 of the token (or token: the token itself)
//	    scopes: [read]         # read, admin
//	    rate: 5                # calls per second (default 20)
//	    burst: 10              # calls at once above the rate (default 40)
func Parse(name string, data []byte) (*Tokens, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: no tokens: the file is empty", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must be a mapping with a tokens list", name, root.Line)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "tokens" {
			return nil, fmt.Errorf("%s:%d: unknown key %q (want tokens)", name, k.Line, k.Value)
		}
		if list != nil {
			return nil, fmt.Errorf("%s:%d: tokens given twice", name, k.Line)
		}
		list = v
	}
	if list == nil {
		return nil, fmt.Errorf("%s: no tokens key", name)
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: tokens must be a list", name, list.Line)
	}
	if len(list.Content) == 0 {
		return nil, fmt.Errorf("%s:%d: the tokens list is empty", name, list.Line)
	}
	t := &Tokens{}
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]string{}
	for i, n := range list.Content {
		tok, err := parseEntry(n)
		switch {
		case err != nil && tok.Name != "":
			return nil, fmt.Errorf("%s:%d: token %q: %w", name, n.Line, tok.Name, err)
		case err != nil:
			return nil, fmt.Errorf("%s:%d: token %d: %w", name, n.Line, i+1, err)
		}
		if l, ok := names[tok.Name]; ok {
			return nil, fmt.Errorf("%s:%d: token %q: name already used on line %d", name, n.Line, tok.Name, l)
		}
		names[tok.Name] = n.Line
		if other, ok := hashes[tok.Hash]; ok {
			return nil, fmt.Errorf("%s:%d: token %q: same token as %q", name, n.Line, tok.Name, other)
		}
		hashes[tok.Hash] = tok.Name
		t.list = append(t.list, tok)
	}
	return t, nil
}

// parseEntry parses one entry of the tokens list.
func parseEntry(n *yaml.Node) (Token, error) {
	if n.Kind != yaml.MappingNode {
		return Token{}, errors.New("must be a mapping with name, sha256 or token, and scopes")
	}
	var (
		tok          Token
		plain, hash  string
		hasPlain     bool
		hasHash      bool
		scopes       []string
		rateV        *float64
		burstV       *int
		seen         = map[string]bool{}
		nameGiven    bool
		scopesGiven  bool
		decodeScalar = func(k, v *yaml.Node, out any) error {
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s must be a single value", v.Line, k.Value)
			}
			if err := v.Decode(out); err != nil {
				return fmt.Errorf("line %d: %s: %w", v.Line, k.Value, err)
			}
			return nil
		}
	)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return tok, fmt.Errorf("line %d: %s given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			err = decodeScalar(k, v, &tok.Name)
			nameGiven = true
		case "token":
			err = decodeScalar(k, v, &plain)
			hasPlain = true
		case "sha256":
			err = decodeScalar(k, v, &hash)
			hasHash = true
		case "scopes":
			if v.Kind != yaml.SequenceNode {
				return tok, fmt.Errorf("line %d: scopes must be a list, e.g. [read]", v.Line)
			}
			err = v.Decode(&scopes)
			scopesGiven = true
		case "rate":
			rateV = new(float64)
			err = decodeScalar(k, v, rateV)
		case "burst":
			burstV = new(int)
			err = decodeScalar(k, v, burstV)
		default:
			return tok, fmt.Errorf("line %d: unknown key %q (want name, token, sha256, scopes, rate, burst)", k.Line, k.Value)
		}
		if err != nil {
			return tok, err
		}
	}
	tok.Name = strings.TrimSpace(tok.Name)
	switch {
	case !nameGiven || tok.Name == "":
		return Token{}, errors.New("no name")
	case strings.ContainsFunc(tok.Name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return Token{}, fmt.Errorf("name %q has control characters", tok.Name)
	case hasPlain && hasHash:
		return tok, errors.New("give sha256 or token, not both")
	case !hasPlain && !hasHash:
		return tok, errors.New("no sha256 (nor token)")
	case !scopesGiven || len(scopes) == 0:
		return tok, errors.New("no scopes (want read or admin)")
	}
	if hasPlain {
		if len(plain) < MinTokenLength {
			return tok, fmt.Errorf("token shorter than %d characters", MinTokenLength)
		}
		tok.Hash = sha256.Sum256([]byte(plain))
		tok.Plaintext = true
	} else {
		b, err := hex.DecodeString(strings.TrimSpace(hash))
		if err != nil || len(b) != sha256.Size {
			return tok, errors.New("sha256 is not 64 hexadecimal digits")
		}
		copy(tok.Hash[:], b)
	}
	for _, s := range scopes {
		switch Scope(s) {
		case Read, Admin:
			tok.Scopes = append(tok.Scopes, Scope(s))
		default:
			return tok, fmt.Errorf("unknown scope %q (want read or admin)", s)
		}
	}
	tok.Rate, tok.Burst = DefaultRate, DefaultBurst
	if rateV != nil {
		if !(*rateV > 0) || math.IsInf(*rateV, 0) {
			return tok, fmt.Errorf("rate %v is not a positive number of calls per second", *rateV)
		}
		tok.Rate = rate.Limit(*rateV)
		if burstV == nil {
			tok.Burst = max(1, int(math.Min(math.Ceil(2**rateV), 1e6)))
		}
	}
	if burstV != nil {
		if *burstV < 1 {
			return tok, fmt.Errorf("burst %d is not positive", *burstV)
		}
		tok.Burst = *burstV
	}
	return tok, nil
}
