package engine_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sysflux/sysflux/policy/engine"
)

// An expression written in CEL is stopped when one evaluation costs too much, and only then:
// the cost of one evaluation does not carry over to the next, whatever the Evaluator evaluated
// in between.
func TestCompileCELCost(t *testing.T) {
	nums := make([]string, 100)
	for i := range nums {
		nums[i] = strconv.Itoa(i)
	}
	list := "[" + strings.Join(nums, ", ") + "]"
	// About 10,000 iterations: well under the limit once, well over it a hundred times.
	moderate, err := engine.CompileCEL("moderate", list+".all(x, "+list+".all(y, x + y >= 0)) && proc.name == \"python3\"")
	if err != nil {
		t.Fatal(err)
	}
	// About 1,000,000 iterations: over the limit.
	costly, err := engine.CompileCEL("costly", list+".all(x, "+list+".all(y, "+list+".all(z, x + y + z >= 0)))")
	if err != nil {
		t.Fatal(err)
	}
	falco, err := engine.Load(ruleFile(`proc.name = python3`))
	if err != nil {
		t.Fatal(err)
	}
	ents := semanticsWorld()
	rec := procEvent(300, opExec)
	ev := engine.NewEvaluator()
	for i := range 100 {
		for _, tc := range []struct {
			set  *engine.Set
			want bool
		}{{moderate, true}, {falco, true}, {costly, false}} {
			if tc.set == costly && i%25 != 0 {
				continue
			}
			matched := false
			ev.Eval(tc.set, rec, ents, func(*engine.Rule) { matched = true })
			if matched != tc.want {
				t.Fatalf("evaluation %d of %s: matched %v, want %v", i, tc.set.Rules()[0].Name, matched, tc.want)
			}
		}
	}
}
