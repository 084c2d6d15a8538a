package engine_test

import (
	"net/netip"
	"strings"
	"testing"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/entity"
)

// Builders of hand-made SysFlow records, for tests that check what a condition means.

const t0 = int64(1_700_000_000_000_000_000)

// oid returns the OID of the process with host pid pid.
func oid(pid int64) *sysflowv1.OID { return &sysflowv1.OID{CreateTs: t0 - pid, Hpid: pid} }

// proc returns a process entity; edit sets its other fields.
func proc(pid, ppid int64, exe, args string, edit ...func(p *sysflowv1.Process)) *sysflowv1.Record {
	p := &sysflowv1.Process{Oid: oid(pid), Ts: t0, Exe: exe, ExeArgs: args, UserName: "root"}
	if ppid != 0 {
		p.Poid = oid(ppid)
	}
	for _, e := range edit {
		e(p)
	}
	return &sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: p}}
}

// fileEnt returns a file entity.
func fileEnt(id, path string) *sysflowv1.Record {
	return &sysflowv1.Record{Rec: &sysflowv1.Record_File{File: &sysflowv1.File{Oid: []byte(id), Path: path, Restype: 'f'}}}
}

// container returns a container entity.
func container(id, name string) *sysflowv1.Record {
	return &sysflowv1.Record{Rec: &sysflowv1.Record_Container{Container: &sysflowv1.Container{Id: id, Name: name}}}
}

// procEvent returns a process event of pid with operation op and args.
func procEvent(pid int64, op sysflowv1.OperationFlag, args ...string) *sysflowv1.Record {
	return &sysflowv1.Record{Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{
		ProcOid: oid(pid), Ts: t0 + 1, Tid: pid, OpFlags: int32(op), Args: args,
	}}}
}

// fileFlow returns a file flow of pid on the file with id fileID.
func fileFlow(pid int64, fileID string, ops sysflowv1.OperationFlag, openFlags int32) *sysflowv1.Record {
	return &sysflowv1.Record{Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{
		ProcOid: oid(pid), Ts: t0 + 1, EndTs: t0 + 2, Tid: pid, OpFlags: int32(ops), OpenFlags: openFlags, FileOid: []byte(fileID), Fd: 3,
	}}}
}

// fileEvent returns a file event of pid on one file, or two (rename, link).
func fileEvent(pid int64, op sysflowv1.OperationFlag, fileIDs ...string) *sysflowv1.Record {
	fe := &sysflowv1.FileEvent{ProcOid: oid(pid), Ts: t0 + 1, Tid: pid, OpFlags: int32(op), FileOid: []byte(fileIDs[0])}
	if len(fileIDs) > 1 {
		fe.NewFileOid = []byte(fileIDs[1])
	}
	return &sysflowv1.Record{Rec: &sysflowv1.Record_FileEvent{FileEvent: fe}}
}

// netFlow returns a TCP flow of pid from client to server (addr:port), IPv4 or IPv6.
func netFlow(pid int64, ops sysflowv1.OperationFlag, client, server string) *sysflowv1.Record {
	c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	f := &sysflowv1.NetworkFlow{
		ProcOid: oid(pid), Ts: t0 + 1, EndTs: t0 + 2, Tid: pid, OpFlags: int32(ops), Proto: 6, Fd: 4,
		Sport: int32(c.Port()), Dport: int32(s.Port()),
	}
	if c.Addr().Is4() {
		f.Sip, f.Dip = ip4(c.Addr()), ip4(s.Addr())
	} else {
		a, b := c.Addr().As16(), s.Addr().As16()
		f.Sip6, f.Dip6 = a[:], b[:]
	}
	return &sysflowv1.Record{Rec: &sysflowv1.Record_NetworkFlow{NetworkFlow: f}}
}

// ip4 packs an IPv4 address as SysFlow does: the first octet in the low byte.
func ip4(a netip.Addr) int32 {
	b := a.As4()
	return int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

func u64(v uint64) *uint64 { return &v }

// table returns an entity table holding the entities.
func table(ents ...*sysflowv1.Record) *entity.Table {
	t := entity.New(0)
	for _, e := range ents {
		if !t.Put(e) {
			panic("not an entity")
		}
	}
	return t
}

// ruleFile is a rules file of one rule per condition, named by its index ("0", "1", ...).
func ruleFile(conds ...string) engine.File {
	var b strings.Builder
	for i, c := range conds {
		b.WriteString("- rule: \"" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "\"\n  desc: d\n  condition: |-\n    ")
		b.WriteString(strings.ReplaceAll(c, "\n", "\n    "))
		b.WriteString("\n  output: o\n  priority: INFO\n")
	}
	return engine.File{Name: "test.yaml", Data: []byte(b.String())}
}

// holds evaluates cond on rec, whose entities ents holds, through a compiled Set and an
// Evaluator, as the hub does.
func holds(t *testing.T, cond string, rec *sysflowv1.Record, ents *entity.Table) bool {
	t.Helper()
	set, err := engine.Load(ruleFile(cond))
	if err != nil {
		t.Fatalf("%s: %v", cond, err)
	}
	if r := set.Rules()[0]; r.Status != engine.Compiled {
		t.Fatalf("%s: %s: %s", cond, r.Status, r.Reason)
	}
	matched := false
	engine.NewEvaluator().Eval(set, rec, ents, func(*engine.Rule) { matched = true })
	return matched
}

// check is one condition and whether it should hold.
type check struct {
	cond string
	want bool
}

// checkAll evaluates each condition on rec and reports those that do not hold as wanted.
func checkAll(t *testing.T, rec *sysflowv1.Record, ents *entity.Table, checks []check) {
	t.Helper()
	for _, c := range checks {
		if got := holds(t, c.cond, rec, ents); got != c.want {
			t.Errorf("%s: got %v, want %v", c.cond, got, c.want)
		}
	}
}
