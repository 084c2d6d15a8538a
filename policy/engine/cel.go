package engine

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/rules"
	"github.com/sysflux/sysflux/policy/translate"
)

// celCostLimit bounds the cost of one evaluation of an expression written in CEL directly,
// compiled without MaxCost: translated conditions cost a few hundred at most, while CEL's
// comprehensions can be made to cost without bound.
const celCostLimit = 1_000_000

// maxCELChars is CEL's limit on the length of an expression, in characters
// (cel.ParserExpressionSizeLimit's default).
const maxCELChars = 100_000

// CELError is an expression that does not compile: CEL's issues, each at its line and column.
type CELError struct {
	Issues *cel.Issues
}

// Error returns CEL's report: each issue with its line and column, and the line it is on.
func (e *CELError) Error() string { return e.Issues.String() }

// CompileCEL compiles a CEL expression over the variables of Env (every field, as Falco
// conditions translate to) into a Set of one rule, named name, that applies to every event and
// flow whatever its operation flags. It is for conditions written in CEL rather than in Falco's
// syntax, such as a subscription's filter. An expression that does not compile gives a
// *CELError.
//
// With MaxCost, an expression that may cost more does not compile (a *CostError), and the
// limit stops evaluations; without it, evaluations are stopped at a cost of 1,000,000.
func CompileCEL(name, src string, opts ...Option) (*Set, error) {
	o := applyOptions(opts)
	if src == "" {
		return nil, errors.New("empty expression")
	}
	env, err := Env()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, &CELError{Issues: iss}
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("the expression is %s, not bool", ast.OutputType())
	}
	limit, estimate := uint64(celCostLimit), uint64(0)
	if o.maxCost > 0 {
		limit = o.maxCost
		if estimate, err = checkCost(env, ast, src, limit); err != nil {
			return nil, err
		}
	}
	prog, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CustomDecoratorV2(decorate), cel.CostLimit(limit))
	if err != nil {
		return nil, err
	}
	r := &Rule{
		Rule:    rules.Rule{Name: name, Source: "syscall", Applicable: true, Enabled: true},
		Status:  Compiled,
		CEL:     src,
		Match:   translate.Match{AnyFlag: true},
		Actions: ActionAlert,
		Cost:    estimate,
		prog:    prog,
		costed:  true,
	}
	s := &Set{rules: []*Rule{r}, byType: map[sysflowv1.RecordType]*typeIndex{}}
	s.index(0, r)
	return s, nil
}
