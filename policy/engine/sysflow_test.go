package engine_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
	"github.com/sysflux/sysflux/policy/internal/sysflowyaml"
	"github.com/sysflux/sysflux/policy/rules"
)

// SysFlow's policy files (sysflow-telemetry/sf-processor resources/policies) in Falco's syntax
// over SysFlow's sf.* fields.

// Some of SysFlow's policy files are not valid YAML as published (tabs in indentation, items
// indented by one space, a description continued at column 0): SysFlow reads them with its
// own grammar, which ignores indentation. The fixtures stay as they are; the tests fix the
// indentation in memory before loading, as policy/rules' TestSysFlowPolicies does.
var brokenSysFlowYAML = []string{
	"runtimeintegrity.yaml", "unit_test_fileflow.yaml", "unit_test_logic.yaml",
	"unit_test_networkflow.yaml", "unit_test_simple.yaml",
}

// loadSysFlowPolicy loads one of SysFlow's policy files, repairing the indentation of those
// that are not valid YAML.
func loadSysFlowPolicy(t *testing.T, name string) *engine.Set {
	t.Helper()
	f := file(t, filepath.Join("sysflow-policies", name))
	if slices.Contains(brokenSysFlowYAML, name) {
		f.Data = []byte(sysflowyaml.Repair(string(f.Data)))
	}
	set, err := engine.Load(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return set
}

// Every policy file compiles: those that are not valid YAML once their indentation is fixed.
func TestSysFlowPolicyFiles(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(fixtures, "sysflow-policies", "*.yaml"))
	if err != nil || len(paths) < 20 {
		t.Fatalf("SysFlow policies: %d files, %v", len(paths), err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			// As published, exactly the known files fail, on their YAML.
			_, err := engine.Load(file(t, filepath.Join("sysflow-policies", name)))
			var errs rules.ErrorList
			if broken := slices.Contains(brokenSysFlowYAML, name); broken != (err != nil) || (broken && !errors.As(err, &errs)) {
				t.Fatalf("as published: %v; want an error only for the files that are not YAML", err)
			}
			set := loadSysFlowPolicy(t, name)
			t.Logf("%s: %s", name, set.Summary())
			for _, r := range set.Rules() {
				if r.Status == engine.NotApplicable && r.Reason == "" {
					t.Errorf("rule %q not applicable without a reason", r.Name)
				}
			}
		})
	}

	// falco.yaml names container.mount.dest, which SysFlow's container records do not carry:
	// the rule compiles, checks on the field are false, and loading says so.
	set := loadSysFlowPolicy(t, "falco.yaml")
	r := findRule(t, set, "Launch Sensitive Mount Container")
	if r.Status != engine.Compiled {
		t.Errorf("Launch Sensitive Mount Container: %s %s", r.Status, r.Reason)
	}
	var warned []string
	for _, w := range set.Warnings() {
		if strings.Contains(w, `rule "Launch Sensitive Mount Container"`) {
			warned = append(warned, w)
		}
	}
	if len(warned) != 2 || !strings.Contains(warned[0], "field container.mount.dest never has a value (SysFlow's container records do not carry mounts)") ||
		!strings.Contains(warned[1], "the rule never matches") {
		t.Errorf("warnings about Launch Sensitive Mount Container: %q", warned)
	}
	// path.yaml reads a Kubernetes event's message at a JSON path.
	if r := findRule(t, loadSysFlowPolicy(t, "path.yaml"), "New pod in namespace robot-shop"); r.Status != engine.Compiled {
		t.Errorf("New pod in namespace robot-shop: %s %s", r.Status, r.Reason)
	}
}

func findRule(t *testing.T, set *engine.Set, name string) *engine.Rule {
	t.Helper()
	for _, r := range set.Rules() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q", name)
	return nil
}

// unitTestTS is the time SysFlow's unit-test policies compare sf.ts with.
const unitTestTS = int64(1548965940603299403)

// unitTestWorld holds the processes the unit-test policies are checked on: python3 running
// cos-write.py in a container named node-app, and variations that each break one condition.
func unitTestWorld() *entity.Table {
	in := func(c string) func(p *sysflowv1.Process) {
		return func(p *sysflowv1.Process) { p.ContainerId = &c }
	}
	return table(
		container("c1", "node-app"),
		container("c2", "web"),
		proc(1, 0, "/sbin/init", ""),
		proc(200, 1, "/bin/bash", "", in("c1")),
		proc(300, 200, "/usr/bin/python", "cos-write.py --bucket b", in("c1")),
		proc(301, 200, "/usr/bin/python", "cos-write.py", in("c2")),      // another container
		proc(302, 200, "/usr/bin/perl", "cos-write.py", in("c1")),        // not python
		proc(303, 999, "/usr/bin/python", "cos-write.py", in("c1")),      // its parent was never seen
		proc(304, 200, "/usr/bin/python", "other.py", in("c1")),          // other arguments
		proc(305, 200, "/bin/node", "cos-write.py --bucket b", in("c1")), // node
		fileEnt("out", "/data/out.txt"),
	)
}

// at sets a record's time.
func at(rec *sysflowv1.Record, ts int64) *sysflowv1.Record {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_ProcessEvent:
		r.ProcessEvent.Ts = ts
	case *sysflowv1.Record_FileFlow:
		r.FileFlow.Ts, r.FileFlow.EndTs = ts, ts+1000
	case *sysflowv1.Record_NetworkFlow:
		r.NetworkFlow.Ts, r.NetworkFlow.EndTs = ts, ts+1000
	}
	return rec
}

// SysFlow's unit-test policies match the records their names and descriptions say they test:
// each rule is checked on a record that meets its condition and on records that each fail
// one part of it.
func TestSysFlowUnitTestPolicies(t *testing.T) {
	const T = unitTestTS
	pe := func(pid, ts int64) *sysflowv1.Record { return at(procEvent(pid, opExec), ts) }
	write := int32(sysflowv1.OpenFlag_OPEN_FLAG_WRONLY | sysflowv1.OpenFlag_OPEN_FLAG_CREAT)
	read := int32(sysflowv1.OpenFlag_OPEN_FLAG_RDONLY)
	ff := func(pid, ts int64, flags int32) *sysflowv1.Record {
		return at(fileFlow(pid, "out", opOpen|opWrite|opClose, flags), ts)
	}
	nf := func(pid, ts int64) *sysflowv1.Record {
		return at(netFlow(pid, opConnect|opWrite, "172.17.0.6:40000", "10.1.2.3:443"), ts)
	}
	simple := []string{"Simple rule 1", "Simple rule 2", "Simple rule 3", "Simple rule 4", "Simple rule 5", "Simple rule 6"}
	for _, tc := range []struct {
		file string
		rec  *sysflowv1.Record
		what string
		want []string // the rules of the file that fire
	}{
		{"unit_test_contains.yaml", pe(300, T), "python in node-app", []string{"Contains rule", "iContains rule"}},
		{"unit_test_contains.yaml", ff(300, T, write), "a file flow of python", []string{"Contains rule", "iContains rule"}},
		{"unit_test_contains.yaml", pe(301, T), "python in another container", nil},
		{"unit_test_contains.yaml", pe(302, T), "perl", nil},

		{"unit_test_eq.yaml", pe(300, T), "at the time", []string{"Eq rule"}},
		{"unit_test_eq.yaml", pe(300, T+1), "after", nil},
		{"unit_test_eq.yaml", pe(302, T), "perl at the time", nil},

		{"unit_test_ge.yaml", pe(300, T-1), "before", nil},
		{"unit_test_ge.yaml", pe(300, T), "at the time", []string{"Ge rule"}},
		{"unit_test_ge.yaml", pe(300, T+1), "after", []string{"Ge rule"}},

		{"unit_test_gt.yaml", pe(300, T), "at the time", nil},
		{"unit_test_gt.yaml", pe(300, T+1), "after", []string{"Gt rule"}},

		{"unit_test_le.yaml", nf(300, T), "a network flow at the time", []string{"Le rule"}},
		{"unit_test_le.yaml", nf(300, T-1), "a network flow before", []string{"Le rule"}},
		{"unit_test_le.yaml", nf(300, T+1), "a network flow after", nil},
		{"unit_test_le.yaml", pe(300, T), "a process event", nil},

		{"unit_test_lt.yaml", ff(300, T-1, write), "a file flow before", []string{"Lt rule"}},
		{"unit_test_lt.yaml", ff(300, T, write), "a file flow at the time", nil},
		{"unit_test_lt.yaml", pe(300, T-1), "a process event before", nil},

		{"unit_test_in.yaml", pe(300, T), "python running cos-write.py", []string{"In rule"}},
		{"unit_test_in.yaml", pe(305, T), "node running cos-write.py", []string{"In rule"}},
		{"unit_test_in.yaml", pe(304, T), "python running other.py", nil},
		{"unit_test_in.yaml", pe(302, T), "perl", nil},
		{"unit_test_in.yaml", pe(301, T), "another container", nil},
		{"unit_test_in.yaml", ff(300, T, write), "a file flow", nil},

		{"unit_test_logic.yaml", pe(300, T), "python running cos-write.py", []string{"Logic rule", "Pars rule"}},
		{"unit_test_logic.yaml", pe(305, T), "node, not in the list", nil},
		{"unit_test_logic.yaml", pe(304, T), "python running other.py", nil},
		{"unit_test_logic.yaml", ff(300, T, write), "a file flow", nil},

		// Its condition also asks sf.state = CREATE of a process event, which has no state
		// (sf.state is an entity's); SysFlow's engine has no sf.state at all and compares the
		// text "sf.state" with CREATE. In neither engine does the rule fire.
		{"unit_test_macro.yaml", pe(300, T), "python", nil},

		{"unit_test_networkflow.yaml", nf(300, T), "a network flow of python", []string{"Network Flows on specific port"}},
		{"unit_test_networkflow.yaml", nf(302, T), "a network flow of perl", nil},
		{"unit_test_networkflow.yaml", nf(301, T), "a network flow in another container", nil},
		{"unit_test_networkflow.yaml", pe(300, T), "a process event", nil},

		{"unit_test_fileflow.yaml", ff(300, T, write), "python opening for writing", []string{"File Flows Open Write Access"}},
		{"unit_test_fileflow.yaml", ff(300, T, read), "python opening for reading", nil},
		{"unit_test_fileflow.yaml", ff(302, T, write), "perl opening for writing", nil},
		{"unit_test_fileflow.yaml", nf(300, T), "a network flow", nil},

		// SysFlow's pmatch: one of the items is part of the value.
		{"unit_test_pmatch.yaml", pe(300, T), "/usr/bin/python, which contains python", []string{"Pmatch rule"}},
		{"unit_test_pmatch.yaml", pe(305, T), "/bin/node", []string{"Pmatch rule"}},
		{"unit_test_pmatch.yaml", pe(302, T), "perl", nil},
		{"unit_test_pmatch.yaml", pe(304, T), "python running other.py", nil},

		{"unit_test_sfmap.yaml", pe(300, T), "python", []string{"Sf map rule"}},
		{"unit_test_sfmap.yaml", ff(300, T, read), "a file flow of python", []string{"Sf map rule"}},
		{"unit_test_sfmap.yaml", pe(302, T), "perl", nil},

		{"unit_test_simple.yaml", pe(300, T), "python", simple},
		{"unit_test_simple.yaml", pe(304, T), "python running other.py", simple},
		{"unit_test_simple.yaml", pe(302, T), "perl", nil},
		{"unit_test_simple.yaml", pe(301, T), "another container", nil},
		{"unit_test_simple.yaml", ff(300, T, write), "a file flow", nil},

		{"unit_test_startswith.yaml", pe(300, T), "cos-write.py", []string{"Startswith rule"}},
		{"unit_test_startswith.yaml", ff(305, T, write), "a file flow of node running cos-write.py", []string{"Startswith rule"}},
		{"unit_test_startswith.yaml", pe(304, T), "other.py", nil},

		{"unit_test_unary.yaml", pe(300, T), "a known parent", []string{"Exists rule"}},
		{"unit_test_unary.yaml", pe(303, T), "a parent never seen", nil},
		{"unit_test_unary.yaml", pe(301, T), "another container", nil},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".yaml")+"/"+tc.what, func(t *testing.T) {
			set := loadSysFlowPolicy(t, tc.file)
			var got []string
			engine.NewEvaluator().Eval(set, tc.rec, unitTestWorld(), func(r *engine.Rule) { got = append(got, r.Name) })
			if !slices.Equal(got, tc.want) {
				t.Errorf("rules %q fired, want %q", got, tc.want)
			}
		})
	}
}

// runtimeintegrity.yaml's "Suspicious process spawned" compares sf.proc.exe with
// sf.pproc.exe, written bare as SysFlow's engine reads it: a shell spawned by another program
// is suspicious, a shell spawned by a shell is not.
func TestSysFlowFieldOnTheRight(t *testing.T) {
	set := loadSysFlowPolicy(t, "runtimeintegrity.yaml")
	ents := unitTestWorld()
	ents.Put(proc(600, 300, "/bin/bash", "-c id"))  // python runs a shell
	ents.Put(proc(601, 200, "/bin/bash", "-c id"))  // a shell runs a shell
	ents.Put(proc(602, 300, "/usr/bin/python", "")) // python runs python
	for _, tc := range []struct {
		pid  int64
		want bool
	}{{600, true}, {601, false}, {602, false}} {
		fired := false
		engine.NewEvaluator().Eval(set, procEvent(tc.pid, opExec), ents, func(r *engine.Rule) {
			fired = fired || r.Name == "Suspicious process spawned"
		})
		if fired != tc.want {
			t.Errorf("pid %d: Suspicious process spawned fired: %v, want %v", tc.pid, fired, tc.want)
		}
	}
}

// path.yaml's rule reads the namespace of a Kubernetes event's pod from its JSON message: on
// the Kubernetes trace it fires on exactly the pod additions in robot-shop, found here by
// decoding the messages independently.
func TestSysFlowJSONPathOnTrace(t *testing.T) {
	set := loadSysFlowPolicy(t, "path.yaml")
	recs, err := sfavro.ReadFile(filepath.Join(fixtures, "sysflow/traces/sfprocessor_k8s_small.sf"))
	if err != nil {
		t.Fatal(err)
	}
	ev := engine.NewEvaluator()
	ents := entity.New(0)
	got, want, events := 0, 0, 0
	for _, rec := range recs {
		if ents.Put(rec) {
			continue
		}
		if k := rec.GetK8SEvent(); k != nil {
			events++
			var msg struct {
				Items []struct {
					Namespace string `json:"namespace"`
				} `json:"items"`
			}
			if err := json.Unmarshal([]byte(strings.TrimRight(k.GetMessage(), "\x00 \n")), &msg); err != nil {
				t.Fatalf("K8s event message: %v", err)
			}
			if k.GetKind() == sysflowv1.K8SComponent_K8S_COMPONENT_PODS && k.GetAction() == sysflowv1.K8SAction_K8S_ACTION_COMPONENT_ADDED &&
				len(msg.Items) > 0 && msg.Items[0].Namespace == "robot-shop" {
				want++
			}
		}
		ev.Eval(set, rec, ents, func(*engine.Rule) { got++ })
	}
	if got != want || want == 0 {
		t.Errorf("New pod in namespace robot-shop fired %d times, want %d (of %d Kubernetes events)", got, want, events)
	}
	t.Logf("%d of %d Kubernetes events are pods added in robot-shop", want, events)

	// Outputs read JSON paths too.
	out, err := engine.ParseOutput("pod=%sf.ke.message[items.0.name] ns=%sf.ke.message[items.0.namespace] n=%sf.ke.message[items.#] x=%sf.ke.message[nothing] q=%sf.ke.message[items.#(namespace==\"robot-shop\").name]")
	if err != nil {
		t.Fatal(err)
	}
	var e engine.Evaluator
	e.Event.Reset(&sysflowv1.Record{Rec: &sysflowv1.Record_K8SEvent{K8SEvent: &sysflowv1.K8SEvent{
		Message: `{"items":[{"name":"user-1","namespace":"robot-shop"}]}`,
	}}}, nil)
	if text, _ := out.Render(&e.Event); text != "pod=user-1 ns=robot-shop n=1 x=<NA> q=user-1" {
		t.Errorf("output %q", text)
	}
	if _, err := engine.ParseOutput("%sf.ke.message[items.#(name=x]"); err == nil {
		t.Error("an output with an unclosed JSON path query parsed")
	}
}

// runtimeintegrity.yaml tests a flow's addresses with sf.net.mask != "127.0.0.0/8", as
// Falco's rules do with fd.net: network traffic of a shell counts when neither end is on the
// loopback network.
func TestSysFlowNetMask(t *testing.T) {
	set := loadSysFlowPolicy(t, "runtimeintegrity.yaml")
	ents := unitTestWorld()
	for _, tc := range []struct {
		client, server string
		want           bool
	}{
		{"10.1.2.3:40000", "8.8.8.8:443", true},
		{"127.0.0.1:40000", "127.0.0.1:6379", false},
		{"127.0.0.1:40000", "8.8.8.8:443", false}, // != holds when neither end is in the network
	} {
		fired := false
		rec := netFlow(200, opWrite|opRead, tc.client, tc.server)
		engine.NewEvaluator().Eval(set, rec, ents, func(r *engine.Rule) {
			fired = fired || r.Name == "System procs network activity"
		})
		if fired != tc.want {
			t.Errorf("bash %s -> %s: System procs network activity fired: %v, want %v", tc.client, tc.server, fired, tc.want)
		}
	}
}
