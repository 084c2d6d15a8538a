package engine_test

import (
	"testing"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	"github.com/sysflux/sysflux/policy/entity"
)

// What each operator, transformer and kind of field means, on records built by hand, checked
// against libsinsp's semantics (falcosecurity/libs): a check on a value the record lacks is
// false and its negation true; regex matches the whole value (RE2, ANCHOR_BOTH); glob is
// fnmatch(3) without flags, so * crosses /; pmatch matches a path and what lies under it; a
// field of the ancestors without an index holds when the check holds for one ancestor.

// semanticsWorld is a process tree, init(1) → sshd(100) → bash(200) → python3(300), with
// files, and another process whose name has a space.
func semanticsWorld() *entity.Table {
	return table(
		proc(1, 0, "/sbin/init", ""),
		proc(100, 1, "/usr/sbin/sshd", "-D"),
		proc(200, 100, "/bin/bash", "-l"),
		proc(300, 200, "/usr/bin/python3", "aGVsbG8=", func(p *sysflowv1.Process) {
			p.Cwd, p.Tty = "/home/alice", true
		}),
		proc(400, 1, "/opt/my tool", "--help"),
		proc(500, 999, "/usr/bin/orphan", ""), // its parent was never seen
		fileEnt("passwd", "/etc/passwd"),
		fileEnt("etcx", "/etcx/foo"),
	)
}

type semanticsCase struct {
	name string
	rec  *sysflowv1.Record
	cond string
	want bool
}

func TestOperatorSemantics(t *testing.T) {
	ents := semanticsWorld()
	exec := procEvent(300, opExec) // python3 runs
	passwd := fileFlow(300, "passwd", opOpen|opRead|opClose, 0)
	etcx := fileFlow(300, "etcx", opOpen|opRead, 0)
	tool := procEvent(400, opExec)
	orphan := procEvent(500, opExec)
	dns := netFlow(300, opConnect|opWrite|opRead, "10.1.2.3:40000", "8.8.8.8:53")
	for _, tc := range []semanticsCase{
		// = and ==, on strings, numbers (decimal and hexadecimal) and booleans.
		{"eq string", exec, `proc.name = python3`, true},
		{"eq string other", exec, `proc.name = python`, false},
		{"eqeq string", exec, `proc.name == python3`, true},
		{"eq number", exec, `proc.pid = 300`, true},
		{"eq hex number", exec, `proc.pid = 0x12c`, true},
		{"eq quoted", exec, `proc.exe = "/usr/bin/python3"`, true},
		{"eq bool", exec, `proc.is_exe_from_memfd = false`, true},
		// !=
		{"ne", exec, `proc.name != bash`, true},
		{"ne same", exec, `proc.name != python3`, false},
		{"ne number", exec, `proc.pid != 300`, false},
		// < <= > >=, on numbers (libsinsp's grammar takes nothing else after them).
		{"lt", exec, `proc.pid < 301`, true},
		{"lt equal", exec, `proc.pid < 300`, false},
		{"le", exec, `proc.pid <= 300`, true},
		{"gt", exec, `proc.pid > 299`, true},
		{"gt equal", exec, `proc.pid > 300`, false},
		{"ge", exec, `proc.pid >= 300`, true},
		{"ge more", exec, `proc.pid >= 301`, false},
		// contains, icontains, bcontains (hexadecimal bytes)
		{"contains", exec, `proc.exe contains /bin/`, true},
		{"contains no", exec, `proc.exe contains /sbin/`, false},
		{"contains is case-sensitive", exec, `proc.exe contains PYTHON`, false},
		{"icontains", exec, `proc.exe icontains PYTHON`, true},
		{"icontains lower pattern", exec, `proc.exe icontains /usr/BIN`, true},
		{"bcontains", exec, `proc.exe bcontains 7974686f6e`, true}, // "ython"
		{"bcontains upper hex", exec, `proc.exe bcontains 7974686F6E`, true},
		{"bcontains no", exec, `proc.exe bcontains 7a7a`, false},
		// startswith, bstartswith, endswith
		{"startswith", exec, `proc.exe startswith /usr/`, true},
		{"startswith no", exec, `proc.exe startswith /bin/`, false},
		{"bstartswith", exec, `proc.exe bstartswith 2f757372`, true}, // "/usr"
		{"bstartswith no", exec, `proc.exe bstartswith 2f62696e`, false},
		{"endswith", exec, `proc.exe endswith thon3`, true},
		{"endswith no", exec, `proc.exe endswith thon`, false},
		// glob and iglob: fnmatch without FNM_PATHNAME
		{"glob star", passwd, `fd.name glob '/etc/*'`, true},
		{"glob question", passwd, `fd.name glob '/e?c/p*d'`, true},
		{"glob star crosses slash", passwd, `fd.name glob '*passwd'`, true},
		{"glob whole value", passwd, `fd.name glob '/etc'`, false},
		{"glob class", passwd, `fd.name glob '/[a-e]tc/*'`, true},
		{"glob negated class !", passwd, `fd.name glob '/[!a-d]tc/*'`, true},
		{"glob negated class ! no", passwd, `fd.name glob '/[!e]tc/*'`, false},
		{"glob negated class ^", passwd, `fd.name glob '/[^e]tc/*'`, false},
		{"glob escaped star", passwd, `fd.name glob '/etc/\\*'`, false},
		{"glob escaped star bare", passwd, `fd.name glob /etc/\*`, false},
		{"glob case-sensitive", passwd, `fd.name glob '/ETC/*'`, false},
		{"iglob", passwd, `fd.name iglob '/ETC/PASS*'`, true},
		// regex: RE2, matching the whole value
		{"regex", exec, `proc.name regex 'py.*'`, true},
		{"regex is anchored at both ends", exec, `proc.name regex 'yth'`, false},
		{"regex anchored start", exec, `proc.name regex 'python'`, false},
		{"regex inner", exec, `proc.name regex '.*yth.*'`, true},
		{"regex explicit anchors", exec, `proc.name regex '^python[0-9]$'`, true},
		{"regex alternation is whole", exec, `proc.name regex 'bash|python3'`, true},
		{"regex alternation no prefix", exec, `proc.name regex 'bash|python'`, false},
		// in, with quoted items and items with blanks
		{"in", exec, `proc.name in (bash, python3)`, true},
		{"in no", exec, `proc.name in (bash, sh)`, false},
		{"in quoted item with a blank", tool, `proc.name in ("my tool", bash)`, true},
		{"in single-quoted item", tool, `proc.name in ('my tool')`, true},
		{"in bare words are split by commas only", tool, `proc.name in (my, tool)`, false},
		{"in numbers", exec, `proc.pid in (299, 0x12c)`, true},
		{"in empty list", exec, `proc.name in ()`, false},
		// intersects: a field of several values shares one with the list
		{"intersects", exec, `proc.aname intersects (sshd, nginx)`, true},
		{"intersects no", exec, `proc.aname intersects (nginx, apache)`, false},
		{"intersects single value", exec, `proc.name intersects (python3)`, true},
		{"intersects evt.type", passwd, `evt.type intersects (connect, openat)`, true},
		// pmatch: path prefixes, by whole path components
		{"pmatch prefix", passwd, `fd.name pmatch (/etc)`, true},
		{"pmatch prefix with slash", passwd, `fd.name pmatch (/usr, /etc/)`, true},
		{"pmatch exact", passwd, `fd.name pmatch (/etc/passwd)`, true},
		{"pmatch not a component prefix", etcx, `fd.name pmatch (/etc)`, false},
		{"pmatch other", passwd, `fd.name pmatch (/usr, /var)`, false},
		{"pmatch longer", passwd, `fd.name pmatch (/etc/passwd/x)`, false},
		// exists
		{"exists", exec, `proc.name exists`, true},
		{"exists missing", exec, `fd.name exists`, false},
		{"not exists missing", exec, `not fd.name exists`, true},
		{"exists map key", passwd, `evt.arg.path exists`, true},
		{"exists map key missing", passwd, `evt.arg.uid exists`, false},
		// Transformers.
		{"tolower", exec, `tolower(proc.exe) = /usr/bin/python3`, true},
		{"tolower upper value", exec, `tolower(proc.name) = PYTHON3`, false},
		{"toupper", exec, `toupper(proc.name) = PYTHON3`, true},
		{"b64", exec, `b64(proc.args) = hello`, true},
		{"b64 not base64 kept", tool, `b64(proc.args) = --help`, true},
		{"basename", exec, `basename(proc.exe) = python3`, true},
		{"basename file", passwd, `basename(fd.name) = passwd`, true},
		{"len", exec, `len(proc.name) = 7`, true},
		{"len compare", passwd, `len(fd.name) > 10`, true},
		{"len compare no", passwd, `len(fd.name) > 11`, false},
		{"nested transformers", exec, `toupper(basename(proc.exe)) = PYTHON3`, true},
		{"transformer on the right", exec, `proc.name = tolower(proc.name)`, true},
		// val(field): compare with another field's value
		{"val", exec, `proc.name = val(proc.name)`, true},
		{"val transformed", exec, `basename(proc.exe) = val(proc.name)`, true},
		{"val other", exec, `proc.pname = val(proc.name)`, false},
		{"val number", exec, `proc.pid > val(proc.ppid)`, true},
		{"val missing", exec, `proc.name = val(fd.name)`, false},
		{"not val missing", exec, `not proc.name = val(fd.name)`, true},
		// A field the record lacks: the check is false, its negation true, whatever the
		// operator, as in Falco.
		{"missing eq", exec, `fd.name = /etc/passwd`, false},
		{"missing ne", exec, `fd.name != /etc/passwd`, false},
		{"not missing eq", exec, `not fd.name = /etc/passwd`, true},
		{"not missing ne", exec, `not fd.name != /etc/passwd`, true},
		{"missing contains", exec, `fd.name contains etc`, false},
		{"missing in", exec, `fd.name in (/etc/passwd)`, false},
		{"not missing in", exec, `not fd.name in (/etc/passwd)`, true},
		{"missing glob", exec, `fd.name glob '*'`, false},
		{"missing pmatch", exec, `fd.name pmatch (/)`, false},
		{"missing regex", exec, `fd.name regex '.*'`, false},
		{"missing lt", exec, `fd.num < 100`, false},
		{"not missing lt", exec, `not fd.num < 100`, true},
		{"missing transformed", exec, `tolower(fd.name) = x`, false},
		{"not missing transformed", exec, `not len(fd.name) > 0`, true},
		{"missing or other", exec, `fd.name = x or proc.name = python3`, true},
		{"missing and other", exec, `fd.name != x and proc.name = python3`, false},
		{"not (missing and other)", exec, `not (fd.name != x and proc.name = python3)`, true},
		{"double not missing", exec, `not not fd.name = x`, false},
		{"missing map key", passwd, `evt.arg.uid = 0`, false},
		{"not missing map key", passwd, `not evt.arg.uid = 0`, true},
		// Ancestors. proc.aname[0] is the process, [1] its parent, [2] the grandparent.
		{"aname index 0", exec, `proc.aname[0] = python3`, true},
		{"aname index 1", exec, `proc.aname[1] = bash`, true},
		{"aname index 2", exec, `proc.aname[2] = sshd`, true},
		{"aname index 3", exec, `proc.aname[3] = init`, true},
		{"aname index 2 other", exec, `proc.aname[2] = bash`, false},
		{"aname index beyond", exec, `proc.aname[4] = init`, false},
		{"not aname index beyond", exec, `not proc.aname[4] = init`, true},
		{"aname index beyond exists", exec, `proc.aname[4] exists`, false},
		{"aname index in", exec, `proc.aname[2] in (sshd, login)`, true},
		{"aname index ne", exec, `proc.aname[1] != bash`, false},
		{"aname any", exec, `proc.aname = sshd`, true},
		{"aname any top", exec, `proc.aname = init`, true},
		{"aname any is not the process", exec, `proc.aname = python3`, false},
		{"aname any in", exec, `proc.aname in (nginx, sshd)`, true},
		{"aname any startswith", exec, `proc.aname startswith ss`, true},
		{"aname any ne: one ancestor is not bash", exec, `proc.aname != bash`, true},
		{"aname any ne: no ancestor other than init", procEvent(100, opExec), `proc.aname != init`, false},
		{"not aname any", exec, `not proc.aname = sshd`, false},
		{"aname unknown parent", orphan, `proc.aname = init`, false},
		{"aname unknown parent ne", orphan, `proc.aname != init`, false},
		{"aname unknown parent index", orphan, `proc.aname[1] exists`, false},
		{"aname of the process of an unknown parent", orphan, `proc.aname[0] = orphan`, true},
		{"pname", exec, `proc.pname = bash`, true},
		{"pname unknown parent", orphan, `proc.pname exists`, false},
		{"ppid unknown parent", orphan, `proc.ppid = 999`, true},
		{"apid index", exec, `proc.apid[1] = 200`, true},
		{"apid index 3", exec, `proc.apid[3] = 1`, true},
		{"apid any", exec, `proc.apid = 100`, true},
		{"apid any not the process", exec, `proc.apid = 300`, false},
		{"apid any in", exec, `proc.apid in (7, 1)`, true},
		{"apid any lt", exec, `proc.apid < 2`, true},
		{"apid any ne", exec, `proc.apid != 200`, true},
		{"aexe index", exec, `proc.aexe[2] = /usr/sbin/sshd`, true},
		{"acmdline index", exec, `proc.acmdline[1] = "bash -l"`, true},
		{"aname transformed any", exec, `toupper(proc.aname) = SSHD`, true},
		{"sname", exec, `proc.sname = init`, true},
		// Fields of both ends of a connection: = holds when either end matches, != when
		// neither does (libsinsp's compare_ip, compare_port); ports compare as numbers.
		{"port eq", dns, `fd.port = 53`, true},
		{"port eq client", dns, `fd.port = 40000`, true},
		{"port ne", dns, `fd.port != 53`, false},
		{"port ne neither", dns, `fd.port != 80`, true},
		{"port lt", dns, `fd.port < 1024`, true},
		{"port gt", dns, `fd.port > 50000`, false},
		{"port in", dns, `fd.port in (80, 53)`, true},
		{"sf port lt", dns, `sf.net.port < 1024`, true},
		{"sport", dns, `fd.sport = 53`, true},
		{"ip eq", dns, `fd.ip = 8.8.8.8`, true},
		{"ip ne", dns, `fd.ip != 8.8.8.8`, false},
		{"ip ne neither", dns, `fd.ip != 0.0.0.0`, true},
		// SysFlow's own fields take SysFlow's pmatch: one of the items is part of the value.
		{"sf pmatch", exec, `sf.proc.exe pmatch (python, node)`, true},
		{"sf pmatch no", exec, `sf.proc.exe pmatch (perl, node)`, false},
		{"falco pmatch is by path", exec, `proc.exe pmatch (python)`, false},
		{"sf bare field on the right", exec, `sf.proc.name != sf.pproc.name`, true},
		{"sf bare field on the right equal", exec, `sf.proc.exe = sf.proc.exe`, true},
		// A field SysFlow records never carry: checks false, negations true.
		{"never carried", exec, `container.mount.dest[/proc*] != "N/A"`, false},
		{"not never carried", exec, `not container.mount.dest[/proc*] != "N/A"`, true},
		{"never carried exists", exec, `container.mounts exists`, false},
		// evt.type: a flow stands for every call it aggregates.
		{"evt.type", passwd, `evt.type = open`, true},
		{"evt.type other call of the flow", passwd, `evt.type = read`, true},
		{"evt.type in", passwd, `evt.type in (connect, close)`, true},
		{"evt.type ne: none of the calls", passwd, `evt.type != read`, false},
		{"evt.type ne", passwd, `evt.type != connect`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := holds(t, tc.cond, tc.rec, ents); got != tc.want {
				t.Errorf("%s: got %v, want %v", tc.cond, got, tc.want)
			}
		})
	}
}
