package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/entity"
)

const planFixtures = "../../../shared/fixtures"

// The programs Compile plans (with decorate) give what CEL's own plan of the same CEL gives, value
// or error, for every compiled rule of Falco's default and incubating files and for checks of
// evt.type and sf.opflags written by hand, on every record of the fixture traces and on records
// with unusual operation flags or none.
func TestDecorateAgrees(t *testing.T) {
	var files []File
	for _, name := range []string{"falco-rules/falco_rules.yaml", "falco-rules/falco-incubating_rules.yaml"} {
		data, err := os.ReadFile(filepath.Join(planFixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: name, Data: data})
	}
	set, err := Load(files...)
	if err != nil {
		t.Fatal(err)
	}
	srcs := []string{
		`"open" in evt.type`,
		`!("execve" in evt.type)`,
		`!holds("connect" in evt.type)`,
		`"nosuchcall" in evt.type`,
		`sets.intersects(evt.type, ["open", "connect", "nosuchcall"])`,
		`sets.intersects(evt.type, [])`,
		`!holds(sets.intersects(evt.type, ["clone", "exit"]))`,
		`present(evt.type) && "clone" in evt.type`,
		`"EXEC" in sf.opflags`,
		`"exec" in sf.opflags`,
		`sets.intersects(sf.opflags, ["OPEN", "1073741824"])`,
		`!("CLOSE" in sf.opflags)`,
		`evt.type.exists(x, x == "open") && sets.intersects(evt.type, ["read"])`,
		`evt.type.exists(x, x == proc.name || "open" in evt.type)`,
		`[proc.name, fd.name].exists(x, x.startsWith("/") && [fd.name].exists(y, y == x))`,
		`proc.aname[2] == "bash" || size(proc.aname) > 3`,
		`evt.arg["path"].startsWith("/etc") || evt.arg.size() > 2`,
		`present(proc.pname) && !holds(proc.pname == "sshd")`,
		`!holds(fd.sport > 1024) || user.uid == 0 || proc.tty != 0`,
		`thread.cap_effective.contains("CAP_SYS_ADMIN") || container.privileged`,
		`size(evt.type) > 3 && evt.type[0] == "open"`,
	}
	for _, r := range set.Rules() {
		if r.Status == Compiled {
			srcs = append(srcs, r.CEL)
		}
	}
	env, err := Env()
	if err != nil {
		t.Fatal(err)
	}
	replaced := 0
	count := func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		if _, ok := i.(*flagCheck); ok {
			replaced++
		}
		return i, nil
	}
	type pair struct {
		src         string
		plain, fast cel.Program
	}
	var progs []pair
	for _, src := range srcs {
		ast, iss := env.Compile(src)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", src, iss.Err())
		}
		plain, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			t.Fatal(err)
		}
		fast, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CustomDecoratorV2(decorate), cel.CustomDecoratorV2(count))
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, pair{src, plain, fast})
	}
	if replaced < len(srcs) {
		t.Fatalf("decorate replaced %d checks in %d programs", replaced, len(srcs))
	}

	var recs []*sysflowv1.Record
	traces, _ := filepath.Glob(filepath.Join(planFixtures, "sysflow/traces/*.sf"))
	if len(traces) == 0 {
		t.Fatal("no traces")
	}
	for _, tr := range traces {
		rs, err := sfavro.ReadFile(tr)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	for _, flags := range []int32{0, 1 << 30, -1 << 31, -1, 128 | 1<<29} {
		recs = append(recs,
			&sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{OpFlags: flags}}},
			&sysflowv1.Record{Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{OpFlags: flags}}})
	}
	recs = append(recs, &sysflowv1.Record{Rec: &sysflowv1.Record_K8SEvent{K8SEvent: &sysflowv1.K8SEvent{Message: "{}"}}})

	ents := entity.New(0)
	ev := NewEvaluator()
	outcome := func(v ref.Val) string {
		if types.IsError(v) {
			return "error"
		}
		return fmt.Sprint(v.Value())
	}
	for _, rec := range recs {
		ents.Put(rec)
		ev.reset(rec, ents)
		for _, p := range progs {
			want, _, _ := p.plain.Eval(&ev.act)
			got, _, _ := p.fast.Eval(&ev.act)
			if outcome(got) != outcome(want) {
				flags, ok := sfavro.OpFlags(rec)
				t.Fatalf("%s on a %s with flags %d (%v): %s, CEL's plan gives %s", p.src, sfavro.TypeOf(rec), flags, ok, outcome(got), outcome(want))
			}
		}
	}
}
