package engine_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/internal/benchreport"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
)

// The policy evaluation benchmark: records per second that one core puts through the hub's
// policy loop (hub/policy.go: an entity goes into the agent's entity table, any other record is
// checked against the rules), with Falco's default rules (policy/defaults) over every record of
// one fixture trace, decoded once beforehand. It runs with the rule index and without it
// (Set.WithoutIndex: every compiled rule checked against every record). Machines are noisy, so
// each rate is printed next to a baseline measured in the same process just before it: decoding
// the same records from protobuf, which the hub does for each record before evaluating it.
// Nothing here asserts on time.
//
//	go test -run '^$' -bench '^BenchmarkEval' -cpu 1 ./policy/engine             # Go benchmarks
//	SYSFLUX_BENCH=1 go test -run '^TestEvalReport$' -count=1 -v ./policy/engine   # the report (make bench)
//
// SYSFLUX_BENCH_ROUNDS sets the rounds of the report (default 3), SYSFLUX_BENCH_SECONDS the least
// time each measurement runs (default 2).

// evalTrace is the trace the benchmark evaluates.
const evalTrace = fixtures + "/sysflow/traces/sfprocessor_k8s_small.sf"

// targetEvalRate is the records per second one core should evaluate with the index.
const targetEvalRate = 500_000

var (
	evalOnce  sync.Once
	evalRecs  []*sysflowv1.Record
	evalWire  [][]byte // evalRecs encoded, for the baseline
	evalRules *engine.Set
	evalErr   error
)

// evalInputs returns the records of evalTrace and the default rules, loaded once.
func evalInputs(tb testing.TB) ([]*sysflowv1.Record, [][]byte, *engine.Set) {
	tb.Helper()
	evalOnce.Do(func() {
		if evalRecs, evalErr = sfavro.ReadFile(evalTrace); evalErr != nil {
			return
		}
		stamp(evalRecs)
		for _, r := range evalRecs {
			b, err := proto.Marshal(r)
			if err != nil {
				evalErr = err
				return
			}
			evalWire = append(evalWire, b)
		}
		evalRules, evalErr = engine.Load(defaults.Files()...)
	})
	if evalErr != nil {
		tb.Fatalf("load the trace and the default rules: %v", evalErr)
	}
	return evalRecs, evalWire, evalRules
}

// stamp gives records the envelope an agent gives them. Rules read it: Falco's often end with
// "not evt.num = 0", and evt.num is the record's sequence number.
func stamp(recs []*sysflowv1.Record) {
	for i, r := range recs {
		r.NodeId, r.AgentId, r.Epoch, r.Seq = "bench-node", "bench-agent", 1, int64(i+1)
	}
}

// evalLoop is one agent's policy state, as the hub keeps it: an entity table and an evaluator.
type evalLoop struct {
	ents    *entity.Table
	ev      *engine.Evaluator
	matches map[string]int // by rule
	count   func(*engine.Rule)
}

func newEvalLoop() *evalLoop {
	l := &evalLoop{ents: entity.New(0), ev: engine.NewEvaluator(), matches: map[string]int{}}
	l.count = func(r *engine.Rule) { l.matches[r.Name]++ }
	return l
}

// step does what the hub does with one record, rendering no alert: it keeps an entity, or checks
// any other record against set. It reports whether rec was checked.
func (l *evalLoop) step(set *engine.Set, rec *sysflowv1.Record) bool {
	if l.ents.Put(rec) {
		return false
	}
	l.ev.Eval(set, rec, l.ents, l.count)
	return true
}

// pass puts every record through the loop once and returns how many were checked.
func (l *evalLoop) pass(set *engine.Set, recs []*sysflowv1.Record) int {
	n := 0
	for _, r := range recs {
		if l.step(set, r) {
			n++
		}
	}
	return n
}

// BenchmarkEval measures the hub's policy loop over the trace with the default rules, with and
// without the rule index. One op is one record of the trace, entity or not; run it with -cpu 1
// for one core.
func BenchmarkEval(b *testing.B) {
	recs, _, set := evalInputs(b)
	for _, mode := range []struct {
		name string
		set  *engine.Set
	}{{"index", set}, {"no-index", set.WithoutIndex()}} {
		b.Run(mode.name, func(b *testing.B) {
			l := newEvalLoop()
			l.pass(mode.set, recs) // fill the entity table, as a running hub has it
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				l.step(mode.set, recs[i%len(recs)])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkDecode is the baseline: proto.Unmarshal of the trace's records into one reused
// message, as the hub decodes each record before evaluating it. One op is one record.
func BenchmarkDecode(b *testing.B) {
	_, wire, _ := evalInputs(b)
	var rec sysflowv1.Record
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.Reset()
		if err := proto.Unmarshal(wire[i%len(wire)], &rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// evalSample is one measurement: records put through the loop (or decoded) per second, and
// those checked against the rules per second.
type evalSample struct {
	rate, checked float64
}

// measure runs whole passes of f over the trace until min has elapsed, on one core
// (GOMAXPROCS 1, so the garbage collector shares it), from a collected heap, and returns the
// rates. f returns the records it checked.
func measure(min time.Duration, records int, f func() int) evalSample {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.GC()
	var n, checked int
	start := time.Now()
	for time.Since(start) < min {
		checked += f()
		n += records
	}
	s := time.Since(start).Seconds()
	return evalSample{float64(n) / s, float64(checked) / s}
}

// TestEvalReport prints, over several rounds and as medians, the records per second one core
// puts through the hub's policy loop with the default rules, with the rule index and without
// it, next to the baseline (decoding the same records) measured just before, and their ratios.
// It fails when the two modes fire different rules, never on speed. It runs only with
// SYSFLUX_BENCH=1 (make bench).
func TestEvalReport(t *testing.T) {
	if os.Getenv("SYSFLUX_BENCH") != "1" {
		t.Skip("set SYSFLUX_BENCH=1 to run the policy evaluation report")
	}
	rounds := benchreport.EnvInt(t, "SYSFLUX_BENCH_ROUNDS", 3)
	min := time.Duration(benchreport.EnvInt(t, "SYSFLUX_BENCH_SECONDS", 2)) * time.Second
	recs, wire, set := evalInputs(t)
	noIndex := set.WithoutIndex()

	// What each mode checks: the same records; the rules each record is checked against.
	checked, perRecIndex := 0, 0
	for _, r := range recs {
		switch sfavro.TypeOf(r) {
		case sysflowv1.RecordType_RECORD_TYPE_PROCESS, sysflowv1.RecordType_RECORD_TYPE_FILE,
			sysflowv1.RecordType_RECORD_TYPE_CONTAINER, sysflowv1.RecordType_RECORD_TYPE_POD:
			continue
		}
		checked++
		perRecIndex += candidates(set, r)
	}
	_, compiled, _, _ := set.Counts()

	var rec sysflowv1.Record
	decode := func() int {
		for _, b := range wire {
			rec.Reset()
			if err := proto.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
		}
		return len(wire)
	}
	loops := map[string]*evalLoop{}
	run := func(name string, s *engine.Set) func() int {
		return func() int {
			l := loops[name]
			if l == nil {
				l = newEvalLoop()
				loops[name] = l
			}
			return l.pass(s, recs)
		}
	}
	// One pass of each first, uncounted: it fills the entity tables and checks that both modes
	// fire the same rules the same number of times.
	run("index", set)()
	run("no-index", noIndex)()
	if a, b := loops["index"].matches, loops["no-index"].matches; !maps.Equal(a, b) {
		t.Fatalf("the index loses or adds matches:\nwith index    %v\nwithout index %v", a, b)
	}
	firstPass := loops["index"].matches
	loops["index"].matches, loops["no-index"].matches = map[string]int{}, map[string]int{}

	type row struct{ base, index, noIndex evalSample }
	var rows []row
	var out strings.Builder
	fmt.Fprintf(&out, "trace %s: %d records, %d checked against the rules (the others are entities); %s\n",
		evalTrace[strings.LastIndex(evalTrace, "/")+1:], len(recs), checked, set.Summary())
	fmt.Fprintf(&out, "rules checked per record: %.1f with the index, %d without; matches per pass: %s\n",
		float64(perRecIndex)/float64(checked), compiled, formatMatches(firstPass))
	fmt.Fprintf(&out, "one core: GOMAXPROCS 1 while measuring (of %d CPUs), one goroutine; at least %v per measurement\n",
		runtime.NumCPU(), min)
	fmt.Fprintf(&out, "records/s: every record of the trace through the hub's loop (entity table or rules), no alert rendered\n")
	fmt.Fprintf(&out, "baseline/s: proto.Unmarshal of the same records; ratios: rate over the baseline measured just before\n")
	w := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "round\tbaseline/s\tindex records/s\tchecked/s\t×baseline\tno-index records/s\tchecked/s\t×baseline\tindex/no-index\t≥500k/s\t")
	printRow := func(round string, r row) {
		fmt.Fprintf(w, "%s\t%.0f\t%.0f\t%.0f\t%.2f\t%.0f\t%.0f\t%.3f\t%.1f\t%s\t\n", round, r.base.rate,
			r.index.rate, r.index.checked, r.index.rate/r.base.rate,
			r.noIndex.rate, r.noIndex.checked, r.noIndex.rate/r.base.rate,
			r.index.rate/r.noIndex.rate, benchreport.YesNo(r.index.rate >= targetEvalRate))
	}
	for round := 1; round <= rounds; round++ {
		var r row
		r.base = measure(min, len(recs), decode)
		r.index = measure(min, len(recs), run("index", set))
		r.noIndex = measure(min, len(recs), run("no-index", noIndex))
		rows = append(rows, r)
		printRow(strconv.Itoa(round), r)
	}
	pick := func(f func(row) float64) float64 {
		v := make([]float64, len(rows))
		for i, r := range rows {
			v[i] = f(r)
		}
		slices.Sort(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	printRow("median", row{
		base:    evalSample{rate: pick(func(r row) float64 { return r.base.rate })},
		index:   evalSample{pick(func(r row) float64 { return r.index.rate }), pick(func(r row) float64 { return r.index.checked })},
		noIndex: evalSample{pick(func(r row) float64 { return r.noIndex.rate }), pick(func(r row) float64 { return r.noIndex.checked })},
	})
	w.Flush()
	fmt.Print(out.String())
}

// candidates returns how many of set's compiled rules the index checks rec against: those
// whose Match admits rec's type and shares a flag bit with it, or takes any flags.
func candidates(set *engine.Set, rec *sysflowv1.Record) int {
	typ := sfavro.TypeOf(rec)
	flags, _ := sfavro.OpFlags(rec)
	n := 0
	for _, r := range set.Rules() {
		if r.Status != engine.Compiled {
			continue
		}
		m := r.Match
		if m.Types == nil && typ == sysflowv1.RecordType_RECORD_TYPE_HEADER || m.Types != nil && !slices.Contains(m.Types, typ) {
			continue
		}
		if m.AnyFlag || m.Flags&flags != 0 {
			n++
		}
	}
	return n
}

func formatMatches(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%q %d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// The index fires the same rules as checking every rule against every record, over every
// fixture trace, with Falco's default and incubating rules.
func TestWithoutIndexAgrees(t *testing.T) {
	sets := map[string]*engine.Set{}
	_, _, sets["default"] = evalInputs(t)
	inc, err := engine.Load(file(t, "falco-rules/falco_rules.yaml"), file(t, "falco-rules/falco-incubating_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sets["default+incubating"] = inc
	for _, tr := range traces(t) {
		recs, err := sfavro.ReadFile(tr)
		if err != nil {
			t.Fatal(err)
		}
		stamp(recs)
		for name, set := range sets {
			with, without := newEvalLoop(), newEvalLoop()
			with.pass(set, recs)
			without.pass(set.WithoutIndex(), recs)
			if !maps.Equal(with.matches, without.matches) {
				t.Errorf("%s, %s rules: with the index %v, without %v", filepath.Base(tr), name, with.matches, without.matches)
			}
		}
	}
}

// Evaluators on several goroutines share a Set (as the hub's agents do) and fire what one
// alone fires. Run with -race, this checks what compiled programs keep across records.
func TestConcurrentEvaluators(t *testing.T) {
	set, err := engine.Load(file(t, "falco-rules/falco_rules.yaml"), file(t, "falco-rules/falco-incubating_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*sysflowv1.Record
	for _, tr := range traces(t) {
		rs, err := sfavro.ReadFile(tr)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	stamp(recs)
	alone := newEvalLoop()
	alone.pass(set, recs)
	if len(alone.matches) == 0 {
		t.Fatal("no rule fires on the traces: nothing to compare")
	}
	loops := make([]*evalLoop, 4)
	var wg sync.WaitGroup
	for i := range loops {
		loops[i] = newEvalLoop()
		wg.Go(func() { loops[i].pass(set, recs) })
	}
	wg.Wait()
	for i, l := range loops {
		if !maps.Equal(l.matches, alone.matches) {
			t.Errorf("goroutine %d fired %v, one alone %v", i, l.matches, alone.matches)
		}
	}
}
