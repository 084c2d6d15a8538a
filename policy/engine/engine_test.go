package engine_test

import (
	"path"
	"path/filepath"
	"regexp"
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

// Falco's rules files compile: per file and together (as a hub loads them), nearly all their
// enabled rules compile, and each rule that cannot apply to SysFlow records says which field
// or system call it needs.
func TestFixtureRules(t *testing.T) {
	names := []string{"falco-rules/falco_rules.yaml", "falco-rules/falco-incubating_rules.yaml"}
	var all []engine.File
	for _, name := range names {
		all = append(all, file(t, name))
		set, err := engine.Load(file(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %s", name, set.Summary())
		checkNotApplicable(t, name, set)
	}
	set, err := engine.Load(all...)
	if err != nil {
		t.Fatal(err)
	}
	n, c, na, d := set.Counts()
	t.Logf("overall: %s (%.1f%% of the enabled rules compiled)", set.Summary(), 100*float64(c)/float64(n-d))
	checkNotApplicable(t, "overall", set)
	// 51 of the 56 rules compile. The five below need system calls that no SysFlow record
	// stands for (no operation flag marks bpf, socket or dup) or fields that no SysFlow record
	// can carry (resolved host names, overlay layers), and are the only ones allowed not to
	// apply.
	if n != c+na+d || c*100 < (n-d)*90 {
		t.Errorf("overall: %s; want at least 90%% of the enabled rules compiled", set.Summary())
	}
	want := map[string]string{
		"BPF Program Not Profiled":                                 "its evt.type values (bpf)",
		"Packet socket created in container":                       "its evt.type values (socket)",
		"Redirect STDOUT/STDIN to Network Connection in Container": "its evt.type values (dup, dup2, dup3)",
		"Contact K8S API Server From Container":                    "field fd.sip.name:",
		"Drop and execute new binary in container":                 "field proc.is_exe_upper_layer:",
	}
	for _, r := range set.Rules() {
		if r.Status != engine.NotApplicable {
			continue
		}
		if w, ok := want[r.Name]; !ok || !strings.HasPrefix(r.Reason, w) {
			t.Errorf("rule %q not applicable: %s; want only the rules that need what SysFlow records lack", r.Name, r.Reason)
		}
	}
}

var (
	naField    = regexp.MustCompile(`^field ([a-z0-9_.]+): .`)
	naSyscalls = regexp.MustCompile(`^its evt\.type values \(([a-z0-9_, ]+)\) are system calls no SysFlow record stands for$`)
)

// checkNotApplicable checks that each rule of set that is not applicable names, in its
// reason, the field or the system calls of its condition that SysFlow records lack.
func checkNotApplicable(t *testing.T, name string, set *engine.Set) {
	t.Helper()
	for _, r := range set.Rules() {
		if r.Status != engine.NotApplicable {
			continue
		}
		cond := r.Condition.String()
		var named []string
		if m := naField.FindStringSubmatch(r.Reason); m != nil {
			named = []string{m[1]}
		} else if m := naSyscalls.FindStringSubmatch(r.Reason); m != nil {
			named = strings.Split(m[1], ", ")
		} else {
			t.Errorf("%s: rule %q not applicable: %q names no field or system call", name, r.Name, r.Reason)
			continue
		}
		for _, x := range named {
			if !strings.Contains(cond, x) {
				t.Errorf("%s: rule %q not applicable: %q names %s, which its condition does not use", name, r.Name, r.Reason, x)
			}
		}
		t.Logf("%s: not applicable: %q: %s", name, r.Name, r.Reason)
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
