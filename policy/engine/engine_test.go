package engine_test

import (
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
	"github.com/sysflux/sysflux/policy/field"
)

const fixtures = "../../../shared/fixtures"

func traces(t *testing.T) []string {
	t.Helper()
	ps, err := filepath.Glob(filepath.Join(fixtures, "sysflow/traces/*.sf"))
	if err != nil || len(ps) == 0 {
		t.Fatalf("no traces in %s: %v", fixtures, err)
	}
	return ps
}

const testRules = `
- list: shells
  items: [bash, sh, dash]
- macro: spawned_process
  condition: evt.type in (execve, execveat) and evt.dir = <
- rule: Shell spawned
  desc: a shell runs
  condition: spawned_process and proc.name in (shells)
  output: "Shell spawned (user=%user.name parent=%proc.pname cmdline=%proc.cmdline gparent=%proc.aname[2] missing=%fd.name)"
  priority: WARNING
  tags: [shell, mitre_execution]
- rule: Etc opened for writing
  desc: a file under /etc opened for writing
  condition: evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.name startswith /etc/
  output: "%proc.name wrote %fd.name"
  priority: error
- rule: Not a shell
  desc: negation over a field the record may lack
  condition: evt.type = connect and not proc.pname in (shells)
  output: "%proc.name connected to %fd.rip:%fd.rport"
  priority: notice
`

// Each rule fires on exactly the records an independent scan of the traces finds, written
// against the records directly, without the field table or CEL.
func TestEvalTraces(t *testing.T) {
	set, err := engine.Load(engine.File{Name: "test.yaml", Data: []byte(testRules)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range traces(t) {
		recs, err := sfavro.ReadFile(tr)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		want := map[string]int{}
		ents := entity.New(0)
		ev := engine.NewEvaluator()
		procs := map[[2]int64]*sysflowv1.Process{}
		files := map[string]*sysflowv1.File{}
		isShell := func(p *sysflowv1.Process) bool {
			n := path.Base(p.GetExe())
			return n == "bash" || n == "sh" || n == "dash"
		}
		for _, r := range recs {
			// The oracle.
			switch x := r.GetRec().(type) {
			case *sysflowv1.Record_Process:
				procs[[2]int64{x.Process.GetOid().GetCreateTs(), x.Process.GetOid().GetHpid()}] = x.Process
			case *sysflowv1.Record_File:
				files[string(x.File.GetOid())] = x.File
			case *sysflowv1.Record_ProcessEvent:
				p := procs[[2]int64{x.ProcessEvent.GetProcOid().GetCreateTs(), x.ProcessEvent.GetProcOid().GetHpid()}]
				if x.ProcessEvent.GetOpFlags()&2 != 0 && p != nil && isShell(p) {
					want["Shell spawned"]++
				}
			case *sysflowv1.Record_FileFlow:
				f := files[string(x.FileFlow.GetFileOid())]
				if x.FileFlow.GetOpFlags()&128 != 0 && x.FileFlow.GetOpenFlags()&3 >= 2 && f != nil && strings.HasPrefix(f.GetPath(), "/etc/") {
					want["Etc opened for writing"]++
				}
			}
			// Connects are in network flows and, for Unix sockets, in file flows.
			if flags, ok := sfavro.OpFlags(r); ok && flags&64 != 0 {
				oid := procOID(r)
				p := procs[[2]int64{oid.GetCreateTs(), oid.GetHpid()}]
				// A process or parent the records never described has no proc.pname:
				// "proc.pname in (shells)" is false, so its negation holds, as in Falco.
				var pp *sysflowv1.Process
				if p != nil {
					pp = procs[[2]int64{p.GetPoid().GetCreateTs(), p.GetPoid().GetHpid()}]
				}
				if pp == nil || !isShell(pp) {
					want["Not a shell"]++
				}
			}
			// The engine.
			if ents.Put(r) {
				continue
			}
			ev.Eval(set, r, ents, func(rule *engine.Rule) {
				got[rule.Name]++
				a := rule.Alert(&ev.Event)
				if rule.Name == "Shell spawned" {
					if !strings.Contains(a.Output, "Warning Shell spawned (user=") || !strings.HasSuffix(a.Output, "missing=<NA>)") {
						t.Errorf("alert output %q", a.Output)
					}
					if a.OutputFields["fd.name"] != nil || a.OutputFields["proc.cmdline"] == nil {
						t.Errorf("alert fields %v", a.OutputFields)
					}
				}
			})
		}
		for _, name := range []string{"Shell spawned", "Etc opened for writing", "Not a shell"} {
			if got[name] != want[name] {
				t.Errorf("%s: rule %q fired %d times, want %d", filepath.Base(tr), name, got[name], want[name])
			}
		}
		t.Logf("%s: %v", filepath.Base(tr), got)
	}
}

// Falco's and SysFlow's rules files compile; the rules that cannot apply to SysFlow records say
// why.
func TestFixtureRules(t *testing.T) {
	for _, name := range []string{"falco-rules/falco_rules.yaml", "falco-rules/falco-incubating_rules.yaml"} {
		set, err := engine.Load(file(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n, c, na, d := set.Counts()
		if n != c+na+d || c == 0 {
			t.Errorf("%s: %s", name, set.Summary())
		}
		for _, r := range set.Rules() {
			if r.Status == engine.NotApplicable && r.Reason == "" {
				t.Errorf("%s: rule %q not applicable without a reason", name, r.Name)
			}
		}
		t.Logf("%s: %s", name, set.Summary())
	}
}

func procOID(r *sysflowv1.Record) *sysflowv1.OID {
	switch x := r.GetRec().(type) {
	case *sysflowv1.Record_NetworkFlow:
		return x.NetworkFlow.GetProcOid()
	case *sysflowv1.Record_FileFlow:
		return x.FileFlow.GetProcOid()
	case *sysflowv1.Record_ProcessEvent:
		return x.ProcessEvent.GetProcOid()
	}
	return nil
}

func file(t *testing.T, name string) engine.File {
	t.Helper()
	p := filepath.Join(fixtures, name)
	b, err := readFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return engine.File{Name: p, Data: b}
}

// Every field of the table names a type CEL knows and describes itself.
func TestFieldTable(t *testing.T) {
	if _, err := engine.Env(); err != nil {
		t.Fatal(err)
	}
	for _, f := range field.All() {
		if f.Desc == "" {
			t.Errorf("field %s has no description", f.Name)
		}
	}
}
