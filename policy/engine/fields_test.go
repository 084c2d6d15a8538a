package engine_test

import (
	"testing"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/engine"
)

const (
	opAccept  = sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT
	opConnect = sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT
	opOpen    = sysflowv1.OperationFlag_OPERATION_FLAG_OPEN
	opRead    = sysflowv1.OperationFlag_OPERATION_FLAG_READ_RECV
	opWrite   = sysflowv1.OperationFlag_OPERATION_FLAG_WRITE_SEND
	opClose   = sysflowv1.OperationFlag_OPERATION_FLAG_CLOSE
	opExec    = sysflowv1.OperationFlag_OPERATION_FLAG_EXEC
	opPtrace  = sysflowv1.OperationFlag_OPERATION_FLAG_PTRACE
	opRename  = sysflowv1.OperationFlag_OPERATION_FLAG_RENAME
	opSetuid  = sysflowv1.OperationFlag_OPERATION_FLAG_SETUID
)

// fd.net and its siblings match a flow's ends against networks, as libsinsp does: fd.net =
// holds when either end is in the network, != when neither is; fd.cnet, fd.snet, fd.lnet and
// fd.rnet look at one end.
func TestNetworkFields(t *testing.T) {
	ents := table(proc(10, 0, "/usr/bin/curl", ""))
	// 10.1.2.3 connects to 8.8.8.8:53: the process is the client.
	out := netFlow(10, opConnect|opWrite, "10.1.2.3:40000", "8.8.8.8:53")
	checkAll(t, out, ents, []check{
		{`fd.net = 10.0.0.0/8`, true},
		{`fd.net = "8.8.0.0/16"`, true},
		{`fd.net = 192.168.0.0/16`, false},
		{`fd.net != 127.0.0.0/8`, true},
		{`fd.net != 10.0.0.0/8`, false}, // one end is in it
		{`not fd.net != 10.0.0.0/8`, true},
		{`fd.net in (192.168.0.0/16, 8.8.8.8)`, true}, // a bare address is a network of one
		{`fd.net in (192.168.0.0/16, 8.8.8.9)`, false},
		{`fd.cnet = 10.0.0.0/8`, true},
		{`fd.snet = 10.0.0.0/8`, false},
		{`fd.snet in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")`, false},
		{`not fd.snet in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")`, true},
		{`fd.lnet = 10.0.0.0/8`, true},
		{`fd.rnet = 8.0.0.0/8`, true},
		{`fd.rnet != 8.0.0.0/8`, false},
		{`fd.net exists`, true},
	})
	// The process accepted the connection: it is the server, its end the local one.
	in := netFlow(10, opAccept|opRead, "8.8.8.8:40000", "10.1.2.3:443")
	checkAll(t, in, ents, []check{
		{`fd.lnet = 10.0.0.0/8`, true},
		{`fd.rnet = 10.0.0.0/8`, false},
		{`fd.snet = 10.0.0.0/8`, true},
		{`fd.cnet = 8.8.8.8/32`, true},
	})
	v6 := netFlow(10, opConnect, "[fd00::1]:40000", "[2001:db8::5]:443")
	checkAll(t, v6, ents, []check{
		{`fd.net = fd00::/8`, true},
		{`fd.snet = 2001:db8::/32`, true},
		{`fd.snet = 10.0.0.0/8`, false},
		{`fd.net != ::1/128`, true},
	})
	// A file flow has no network ends: every check is false, its negation true, as in Falco.
	ents.Put(fileEnt("f1", "/etc/passwd"))
	ff := fileFlow(10, "f1", opOpen|opRead|opClose, 0)
	checkAll(t, ff, ents, []check{
		{`fd.net = 0.0.0.0/0`, false},
		{`fd.net != 10.0.0.0/8`, false},
		{`not fd.net != 10.0.0.0/8`, true},
		{`fd.net exists`, false},
	})
}

// fd.name_changed holds on records whose descriptor got its name during the record.
func TestNameChanged(t *testing.T) {
	ents := table(proc(10, 0, "/usr/bin/curl", ""), fileEnt("f1", "/tmp/a"), fileEnt("f2", "/tmp/b"))
	for _, tc := range []struct {
		name string
		rec  *sysflowv1.Record
		want string // the value, or "" for none
	}{
		{"connecting flow", netFlow(10, opConnect|opWrite, "10.1.2.3:40000", "8.8.8.8:53"), "true"},
		{"accepting flow", netFlow(10, opAccept, "8.8.8.8:40000", "10.1.2.3:443"), "true"},
		{"flow on a connection made before", netFlow(10, opRead|opWrite, "10.1.2.3:40000", "8.8.8.8:53"), "false"},
		{"opening file flow", fileFlow(10, "f1", opOpen|opRead, 0), "true"},
		{"file flow on a descriptor opened before", fileFlow(10, "f1", opRead|opClose, 0), "false"},
		{"file event", fileEvent(10, opRename, "f1", "f2"), "true"},
		{"process event", procEvent(10, opExec), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkAll(t, tc.rec, ents, []check{
				{`fd.name_changed = true`, tc.want == "true"},
				{`fd.name_changed = false`, tc.want == "false"},
				{`fd.name_changed exists`, tc.want != ""},
			})
		})
	}
}

func TestProcessFields(t *testing.T) {
	const all = uint64(1)<<41 - 1 // every capability Linux defines
	ents := table(
		proc(1, 0, "/sbin/init", ""),
		proc(10, 1, "/memfd:payload (deleted)", "-x", func(p *sysflowv1.Process) {
			p.CapEffective = u64(1<<0 | 1<<1 | 1<<21) // CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_SYS_ADMIN
			p.CapPermitted = u64(all)
			p.CapInheritable = u64(0)
			p.Loginuid = new(int32)
			*p.Loginuid = 1000
		}),
		proc(11, 1, "/usr/bin/memfd:not", "", func(p *sysflowv1.Process) {
			p.Loginuid = new(int32)
			*p.Loginuid = -1
		}),
		proc(12, 1, "memfd:runc_cloned:/proc/self/exe", ""),
	)
	checkAll(t, procEvent(10, opExec), ents, []check{
		{`thread.cap_effective = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_SYS_ADMIN"`, true},
		{`thread.cap_effective contains CAP_SYS_ADMIN`, true},
		{`thread.cap_effective icontains sys_admin`, true},
		{`thread.cap_effective contains CAP_SYS_MODULE`, false},
		{`thread.cap_permitted startswith "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH "`, true},
		{`thread.cap_permitted endswith "CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE"`, true},
		{`thread.cap_inheritable = ""`, true},
		{`user.loginuid = 1000`, true},
		{`user.loginuid > 999`, true},
		{`proc.is_exe_from_memfd = true`, true},
	})
	// Records of SysFlow files carry no capabilities and no login uid: the fields have no value.
	checkAll(t, procEvent(1, opExec), ents, []check{
		{`thread.cap_effective contains CAP_SYS_ADMIN`, false},
		{`not thread.cap_effective contains CAP_SYS_ADMIN`, true},
		{`thread.cap_permitted exists`, false},
		{`user.loginuid exists`, false},
		{`user.loginuid = -1`, false},
		{`proc.is_exe_from_memfd = false`, true},
	})
	checkAll(t, procEvent(11, opExec), ents, []check{
		{`user.loginuid = -1`, true},
		{`proc.is_exe_from_memfd = true`, false},
	})
	checkAll(t, procEvent(12, opExec), ents, []check{
		{`proc.is_exe_from_memfd = true`, true},
	})
}

// A ptrace is a process event whose args are the request and the target's pid.
func TestPtrace(t *testing.T) {
	ents := table(proc(1, 0, "/sbin/init", ""), proc(10, 1, "/usr/bin/gdb", "-p 42"))
	attach := procEvent(10, opPtrace, "PTRACE_ATTACH", "42")
	checkAll(t, attach, ents, []check{
		{`evt.type = ptrace`, true},
		{`evt.type = execve`, false},
		{`evt.arg.request = PTRACE_ATTACH`, true},
		{`evt.arg[request] = 16`, true}, // Linux's number of PTRACE_ATTACH
		{`evt.arg.request = 0x10`, true},
		{`evt.arg.request in (4, 5, 16)`, true},
		{`evt.arg.request != 16`, false},
		{`evt.arg.request contains PTRACE_ATTACH`, true},
		{`evt.arg[0] = PTRACE_ATTACH`, true},
		{`evt.arg.pid = 42`, true},
		{`evt.arg[1] = 42`, true},
	})
	// A request given by number (by a source that sends numbers) reads as its name.
	seize := procEvent(10, opPtrace, "16902", "42") // 0x4206
	checkAll(t, seize, ents, []check{
		{`evt.arg.request = PTRACE_SEIZE`, true},
		{`evt.arg.request = 0x4206`, true},
		{`evt.arg.request contains PTRACE_SEIZE`, true},
	})
	// Other process events have no request.
	checkAll(t, procEvent(10, opSetuid, "0"), ents, []check{
		{`evt.arg.request exists`, false},
		{`evt.type = ptrace`, false},
	})
}

// Falco's two ptrace rules fire on the requests they name, and only on those.
func TestFalcoPtraceRules(t *testing.T) {
	set, err := engine.Load(file(t, "falco-rules/falco_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ents := table(proc(1, 0, "/sbin/init", ""), proc(10, 1, "/tmp/implant", ""))
	ev := engine.NewEvaluator()
	for _, tc := range []struct {
		request string
		want    string // the rule that fires, or ""
	}{
		{"PTRACE_ATTACH", "PTRACE attached to process"},
		{"PTRACE_SEIZE", "PTRACE attached to process"},
		{"PTRACE_POKETEXT", "PTRACE attached to process"},
		{"PTRACE_POKEDATA", "PTRACE attached to process"},
		{"PTRACE_SETREGS", "PTRACE attached to process"},
		{"5", "PTRACE attached to process"}, // PTRACE_POKEDATA by number
		{"PTRACE_TRACEME", "PTRACE anti-debug attempt"},
		{"0", "PTRACE anti-debug attempt"},
		{"PTRACE_PEEKDATA", ""},
		{"PTRACE_CONT", ""},
		{"PTRACE_DETACH", ""},
	} {
		var got []string
		ev.Eval(set, procEvent(10, opPtrace, tc.request, "42"), ents, func(r *engine.Rule) { got = append(got, r.Name) })
		want := []string{tc.want}
		if tc.want == "" {
			want = nil
		}
		if len(got) != len(want) || (len(got) == 1 && got[0] != want[0]) {
			t.Errorf("ptrace %s: rules %q fired, want %q", tc.request, got, want)
		}
	}
}
