package engine

import (
	"encoding/base64"
	"encoding/hex"
	"net/netip"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"

	"github.com/sysflux/sysflux/policy/field"
)

var (
	envOnce sync.Once
	env     *cel.Env
	envErr  error
)

// Env returns the CEL environment conditions compile in: every field of package field as a
// variable, and the functions package translate writes.
func Env() (*cel.Env, error) {
	envOnce.Do(func() { env, envErr = newEnv() })
	return env, envErr
}

func celType(t field.Type) *cel.Type {
	switch t {
	case field.String:
		return cel.StringType
	case field.Int:
		return cel.IntType
	case field.Bool:
		return cel.BoolType
	case field.StringList:
		return cel.ListType(cel.StringType)
	case field.IntList:
		return cel.ListType(cel.IntType)
	case field.StringMap:
		return cel.MapType(cel.StringType, cel.StringType)
	case field.IPNet:
		return cel.ListType(cel.StringType)
	}
	return cel.DynType
}

func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{ext.Strings(), ext.Sets(), cel.CrossTypeNumericComparisons(true), cel.CostModel(costModels()...)}
	for _, f := range field.All() {
		opts = append(opts, cel.Variable(f.Name, celType(f.Type)))
	}
	listOf := cel.ListType(cel.TypeParamType("T"))
	opts = append(opts,
		// holds(x): x when it is a bool, false when it is an error (a missing field).
		cel.Function("holds", cel.Overload("holds_bool", []*cel.Type{cel.BoolType}, cel.BoolType,
			cel.OverloadIsNonStrict(), cel.UnaryBinding(func(v ref.Val) ref.Val {
				if b, ok := v.(types.Bool); ok {
					return b
				}
				return types.False
			}))),
		// present(x): whether x has a value.
		cel.Function("present", cel.Overload("present_dyn", []*cel.Type{cel.DynType}, cel.BoolType,
			cel.OverloadIsNonStrict(), cel.UnaryBinding(func(v ref.Val) ref.Val {
				return types.Bool(!types.IsUnknownOrError(v))
			}))),
		// ancestors(l): l without its first element (the process itself).
		cel.Function("ancestors", cel.Overload("ancestors_list", []*cel.Type{listOf}, listOf,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				l := v.(traits.Lister)
				n := int(l.Size().(types.Int))
				if n <= 1 {
					return types.NewDynamicList(types.DefaultTypeAdapter, []ref.Val{})
				}
				out := make([]ref.Val, 0, n-1)
				for i := 1; i < n; i++ {
					out = append(out, l.Get(types.Int(i)))
				}
				return types.NewDynamicList(types.DefaultTypeAdapter, out)
			}))),
		cel.Function("glob", cel.Overload("glob_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(func(s, pat ref.Val) ref.Val {
				return types.Bool(Glob(string(pat.(types.String)), string(s.(types.String))))
			}))),
		cel.Function("pmatch", cel.Overload("pmatch_string_list", []*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
			cel.BinaryBinding(func(s, l ref.Val) ref.Val {
				p := string(s.(types.String))
				it := l.(traits.Lister).Iterator()
				for it.HasNext() == types.True {
					if PathPrefix(string(it.Next().(types.String)), p) {
						return types.True
					}
				}
				return types.False
			}))),
		// containsany(s, l): whether one of the strings of l is part of s (SysFlow's pmatch).
		cel.Function("containsany", cel.Overload("containsany_string_list", []*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
			cel.BinaryBinding(func(s, l ref.Val) ref.Val {
				str := string(s.(types.String))
				it := l.(traits.Lister).Iterator()
				for it.HasNext() == types.True {
					if strings.Contains(str, string(it.Next().(types.String))) {
						return types.True
					}
				}
				return types.False
			}))),
		// innet(addrs, nets): whether one of the addresses is in one of the networks (CIDR).
		cel.Function("innet", cel.Overload("innet_list_list", []*cel.Type{cel.ListType(cel.StringType), cel.ListType(cel.StringType)}, cel.BoolType,
			cel.BinaryBinding(func(addrs, nets ref.Val) ref.Val {
				as, ns := addrs.(traits.Lister), nets.(traits.Lister)
				for i := types.Int(0); i < as.Size().(types.Int); i++ {
					a, err := netip.ParseAddr(string(as.Get(i).(types.String)))
					if err != nil {
						continue
					}
					for j := types.Int(0); j < ns.Size().(types.Int); j++ {
						p, err := netip.ParsePrefix(string(ns.Get(j).(types.String)))
						if err == nil && p.Contains(a) {
							return types.True
						}
					}
				}
				return types.False
			}))),
		// jsonpath(doc, path): the value at a JSON path in a JSON document; an error (no value)
		// when there is none.
		cel.Function("jsonpath", cel.Overload("jsonpath_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.StringType,
			cel.BinaryBinding(func(doc, p ref.Val) ref.Val {
				jp := string(p.(types.String))
				if err := field.CheckJSONPath(jp); err != nil {
					return types.NewErr("%v", err)
				}
				v, ok := field.JSONPathValue(string(doc.(types.String)), jp)
				if !ok {
					return types.NewErr("no value at JSON path %s", p)
				}
				return types.String(v)
			}))),
		cel.Function("basename", cel.Overload("basename_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(s ref.Val) ref.Val {
				p := string(s.(types.String))
				if p == "" {
					return types.String("")
				}
				return types.String(path.Base(p))
			}))),
		cel.Function("b64dec", cel.Overload("b64dec_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(s ref.Val) ref.Val {
				b, err := base64.StdEncoding.DecodeString(string(s.(types.String)))
				if err != nil {
					return types.String(s.(types.String)) // Falco leaves values that are not base64 as they are
				}
				return types.String(b)
			}))),
		cel.Function("bcontains", cel.Overload("bcontains_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(func(s, h ref.Val) ref.Val {
				b, _ := hex.DecodeString(string(h.(types.String)))
				return types.Bool(strings.Contains(string(s.(types.String)), string(b)))
			}))),
		cel.Function("bstartswith", cel.Overload("bstartswith_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
			cel.BinaryBinding(func(s, h ref.Val) ref.Val {
				b, _ := hex.DecodeString(string(h.(types.String)))
				return types.Bool(strings.HasPrefix(string(s.(types.String)), string(b)))
			}))),
	)
	return cel.NewEnv(opts...)
}

// Glob reports whether name matches the shell pattern pat, as Falco's glob operator does
// (fnmatch(3) without flags): * and ? match any character, / included, and a bracket
// expression is negated by ! or ^.
func Glob(pat, name string) bool {
	// filepath.Match stops * at /; Falco's glob (fnmatch without FNM_PATHNAME) does not.
	ok, err := filepath.Match(strings.ReplaceAll(fnmatchNegation(pat), "/", "\x00"), strings.ReplaceAll(name, "/", "\x00"))
	return err == nil && ok
}

// fnmatchNegation rewrites fnmatch's negated bracket expressions, [!...], as filepath.Match
// writes them, [^...].
func fnmatchNegation(pat string) string {
	if !strings.Contains(pat, "[!") {
		return pat
	}
	b := []byte(pat)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // an escaped character
		case '[':
			j := i + 1
			if j < len(b) && b[j] == '!' {
				b[j] = '^'
			}
			if j < len(b) && b[j] == '^' {
				j++
			}
			// Skip to the end of the bracket expression (a ] first in it is part of it).
			if j < len(b) && b[j] == ']' {
				j++
			}
			for j < len(b) && b[j] != ']' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		}
	}
	return string(b)
}

// PathPrefix reports whether path is prefix or lies under it, as Falco's pmatch does: /etc
// matches /etc and /etc/passwd, not /etcd.
func PathPrefix(prefix, p string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return strings.HasPrefix(p, "/")
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}
