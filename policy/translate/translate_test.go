package translate_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysflux/sysflux/policy/condition"
	"github.com/sysflux/sysflux/policy/rules"
	"github.com/sysflux/sysflux/policy/translate"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const fixtures = "../../../shared/fixtures"

// The CEL of every rule of the fixture rules files, next to the Falco condition it comes from,
// is kept in testdata/*.golden: a change to the translation shows there as a readable diff.
func TestGolden(t *testing.T) {
	for _, name := range []string{"falco-rules/falco_rules.yaml", "falco-rules/falco-incubating_rules.yaml"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			l := rules.NewLoader()
			if err := l.LoadFile(filepath.Join(fixtures, name)); err != nil {
				t.Fatal(err)
			}
			rs, err := l.Compile()
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, r := range rs.Rules {
				fmt.Fprintf(&b, "# %s\n", r.Name)
				if !r.Applicable {
					fmt.Fprintf(&b, "not applicable: source %s\n\n", r.Source)
					continue
				}
				res, err := translate.Translate(r.Condition)
				var na *translate.NotApplicableError
				switch {
				case errors.As(err, &na):
					fmt.Fprintf(&b, "not applicable: %s\n\n", na.Reason)
				case err != nil:
					t.Errorf("rule %q: %v", r.Name, err)
				default:
					fmt.Fprintf(&b, "%s\n\n", res.CEL)
				}
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(name), ".yaml")+".cel.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("translation differs from %s; run go test -update and read the diff", golden)
			}
		})
	}
}

func TestTranslate(t *testing.T) {
	for _, tc := range []struct{ cond, cel string }{
		{`proc.name = bash`, `proc.name == "bash"`},
		{`proc.name != bash`, `proc.name != "bash"`},
		{`not proc.name = bash`, `!holds(proc.name == "bash")`},
		{`proc.pid > 100 and proc.pid <= 0x200`, `proc.pid > 100 && proc.pid <= 512`},
		{`fd.name contains /etc or fd.name icontains SHADOW`, `fd.name.contains("/etc") || fd.name.lowerAscii().contains("shadow")`},
		{`fd.name startswith /etc and fd.name endswith .conf`, `fd.name.startsWith("/etc") && fd.name.endsWith(".conf")`},
		{`fd.name glob '/home/*/.ssh/*'`, `glob(fd.name, "/home/*/.ssh/*")`},
		{`fd.name iglob '/HOME/*'`, `glob(fd.name.lowerAscii(), "/home/*")`},
		{`proc.name regex 'ba.h'`, `proc.name.matches("^(?:ba.h)$")`},
		{`proc.name in (bash, sh)`, `proc.name in ["bash", "sh"]`},
		{`fd.name pmatch (/etc, /usr/lib)`, `pmatch(fd.name, ["/etc", "/usr/lib"])`},
		{`proc.aname = sshd`, `"sshd" in ancestors(proc.aname)`},
		{`proc.aname[2] = sshd`, `proc.aname[2] == "sshd"`},
		{`proc.aname in (sshd, bash)`, `ancestors(proc.aname).exists(x, x in ["sshd", "bash"])`},
		{`evt.type = execve`, `"execve" in evt.type`},
		{`evt.type != execve`, `!("execve" in evt.type)`},
		{`evt.type in (open, openat)`, `sets.intersects(evt.type, ["open", "openat"])`},
		{`evt.type contains open`, `evt.type.exists(x, x.contains("open"))`},
		{`tolower(evt.type) = open`, `evt.type.exists(x, x.lowerAscii() == "open")`},
		{`sf.opflags in (EXEC, CLONE)`, `sets.intersects(sf.opflags, ["EXEC", "CLONE"])`},
		{`sf.opflags != EXEC`, `!("EXEC" in sf.opflags)`},
		{`evt.arg.path = /etc`, `evt.arg["path"] == "/etc"`},
		{`evt.arg[path] = /etc`, `evt.arg["path"] == "/etc"`},
		{`proc.name exists`, `present(proc.name)`},
		{`tolower(proc.name) = bash`, `proc.name.lowerAscii() == "bash"`},
		{`basename(proc.exe) = val(proc.name)`, `basename(proc.exe) == proc.name`},
		{`len(proc.args) > 3`, `size(proc.args) > 3`},
		{`proc.cmdline bcontains 2d65`, `bcontains(proc.cmdline, "2d65")`},
		{`container.privileged = true`, `container.privileged == true`},
		{`sf.opflags = EXEC`, `"EXEC" in sf.opflags`},
		{`(proc.name = a or proc.name = b) and not (fd.name = c)`, `(proc.name == "a" || proc.name == "b") && !holds(fd.name == "c")`},
		// Networks.
		{`fd.net = "127.0.0.0/8"`, `innet(fd.net, ["127.0.0.0/8"])`},
		{`fd.net != 127.0.0.1/8`, `!innet(fd.net, ["127.0.0.0/8"])`},
		{`fd.snet in ("10.0.0.0/8", 192.168.0.0/16, fd00::/8, 10.1.2.3)`, `innet(fd.snet, ["10.0.0.0/8", "192.168.0.0/16", "fd00::/8", "10.1.2.3/32"])`},
		{`not fd.rnet intersects (10.0.0.0/8)`, `!holds(innet(fd.rnet, ["10.0.0.0/8"]))`},
		// Ports are numbers, compared as numbers.
		{`fd.port < 1024`, `fd.port.exists(x, x < 1024)`},
		{`fd.port != 22`, `!fd.port.exists(x, x == 22)`},
		// Without an index, the ancestors are checked one by one, != included (libsinsp's
		// compare_full_aname).
		{`proc.aname != bash`, `ancestors(proc.aname).exists(x, x != "bash")`},
		{`proc.apid != 1`, `ancestors(proc.apid).exists(x, x != 1)`},
		{`proc.aname[1] != bash`, `proc.aname[1] != "bash"`},
		// A ptrace's request, by name or by number (Linux's PTRACE_* values).
		{`evt.arg.request = 16`, `evt.arg["request"] == "PTRACE_ATTACH"`},
		{`evt.arg[request] in (0x4206, PTRACE_POKEDATA, 99)`, `evt.arg["request"] in ["PTRACE_SEIZE", "PTRACE_POKEDATA", "99"]`},
		{`evt.arg.request contains PTRACE_ATTACH`, `evt.arg["request"].contains("PTRACE_ATTACH")`},
		{`evt.arg.pid = 16`, `evt.arg["pid"] == "16"`},
		// SysFlow's JSON paths.
		{`sf.ke.message[items.0.namespace] = robot-shop`, `jsonpath(sf.ke.message, "items.0.namespace") == "robot-shop"`},
		{`sf.ke.message contains robot-shop`, `sf.ke.message.contains("robot-shop")`},
		{`sf.ke.message[items.#] = 1`, `jsonpath(sf.ke.message, "items.#") == "1"`},
		{`sf.ke.message['items.#(namespace=="robot-shop")#.name'] = x`, `jsonpath(sf.ke.message, "items.#(namespace==\"robot-shop\")#.name") == "x"`},
		// SysFlow's pmatch on its own fields; Falco's on Falco's.
		{`sf.proc.name pmatch (nginx, httpd)`, `containsany(sf.proc.name, ["nginx", "httpd"])`},
		{`sf.proc.aname pmatch (besclient)`, `ancestors(sf.proc.aname).exists(x, containsany(x, ["besclient"]))`},
		{`tolower(sf.file.path) pmatch (.bash_history)`, `containsany(sf.file.path.lowerAscii(), [".bash_history"])`},
		{`proc.exe pmatch (/usr/bin)`, `pmatch(proc.exe, ["/usr/bin"])`},
		// A bare value naming one of SysFlow's fields is that field, as in SysFlow's engine.
		{`sf.proc.exe != sf.pproc.exe`, `sf.proc.exe != sf.pproc.exe`},
		{`sf.proc.exe = "sf.pproc.exe"`, `sf.proc.exe == "sf.pproc.exe"`},
		{`proc.exe = sf.pproc.exe`, `proc.exe == sf.pproc.exe`},
		{`proc.exe = proc.pexe`, `proc.exe == "proc.pexe"`},
		{`sf.proc.exe = sf.no.such.field`, `sf.proc.exe == "sf.no.such.field"`},
		{`thread.cap_effective icontains sys_module`, `thread.cap_effective.lowerAscii().contains("sys_module")`},
	} {
		e, err := condition.Parse(tc.cond)
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		res, err := translate.Translate(e)
		if err != nil {
			t.Errorf("%s: %v", tc.cond, err)
			continue
		}
		if res.CEL != tc.cel {
			t.Errorf("%s:\n got %s\nwant %s", tc.cond, res.CEL, tc.cel)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ cond, err string }{
		{`proc.nam = bash`, "1:1: unknown field proc.nam"},
		{`proc.pid = abc`, `1:12: expected a number, not "abc"`},
		{`proc.name[1] = x`, "1:1: field proc.name takes no argument"},
		{`evt.arg = x`, "1:1: field evt.arg needs an argument"},
		{`proc.aname[x] = a`, `1:1: field proc.aname takes a number as index, not "x"`},
		{`proc.pid contains 1`, "1:1: proc.pid: contains applies to strings, and the field is int"},
		{`proc.name = bash and proc.pid = x`, `1:33: expected a number, not "x"`},
		{`fd.net = 10.0.0.0/33`, `1:10: fd.net takes networks such as 10.0.0.0/8 or fd00::/8, not "10.0.0.0/33"`},
		{`fd.snet in (10.0.0.0/8, localhost)`, `1:25: fd.snet takes networks such as 10.0.0.0/8 or fd00::/8, not "localhost"`},
		{`fd.net startswith 10.`, "1:1: fd.net: startswith does not apply to networks; use =, != or in"},
		{`fd.net = val(fd.sip)`, "1:10: fd.net is matched against networks written as 10.0.0.0/8, not against val(fd.sip)"},
		{`tolower(fd.net) = x`, "1:1: tolower does not apply to fd.net, which is matched against networks"},
		{`proc.name regex 'a(b'`, "1:1: proc.name: bad regular expression: error parsing regexp: missing closing ): `a(b`"},
		{`sf.ke.message[items.#(name=x] = x`, `1:1: field sf.ke.message: JSON path "items.#(name=x" has an unclosed '('`},
		{`sf.ke.message[items..name] = x`, `1:1: field sf.ke.message: JSON path "items..name" has an empty key`},
		{`sf.ke.message[items.#(name=x))] = x`, `1:1: field sf.ke.message: JSON path "items.#(name=x))" has an unpaired ')'`},
		{`sf.proc.pid = sf.proc.name`, "1:15: sf.proc.pid is int and val(sf.proc.name) is string"},
		{`fd.port = http`, `1:11: expected a number, not "http"`},
	} {
		e, err := condition.Parse(tc.cond)
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		_, err = translate.Translate(e)
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %s", tc.cond, err, tc.err)
		}
	}
	for _, tc := range []struct{ cond, reason string }{
		{`evt.type = bpf`, "its evt.type values (bpf) are system calls no SysFlow record stands for"},
		{`evt.type in (socket, dup2) and thread.cap_effective icontains sys_module`, "its evt.type values (socket, dup2) are system calls no SysFlow record stands for"},
		{`proc.is_exe_upper_layer = true`, "field proc.is_exe_upper_layer: SysFlow records do not describe executable inodes or overlay layers"},
		{`fd.sip.name = kubernetes.default.svc.cluster.local`, "field fd.sip.name: SysFlow records do not carry names resolved from addresses"},
	} {
		e, _ := condition.Parse(tc.cond)
		_, err := translate.Translate(e)
		var na *translate.NotApplicableError
		if !errors.As(err, &na) || na.Reason != tc.reason {
			t.Errorf("%s: %v, want not applicable: %s", tc.cond, err, tc.reason)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		cond  string
		flags int32
		any   bool
		types string
	}{
		{`evt.type = execve and proc.name = bash`, 2, false, "[]"},
		{`evt.type in (open, openat) or evt.type = connect`, 128 | 64, false, "[]"},
		{`proc.name = bash`, 0, true, "[]"},
		{`evt.type = execve or proc.name = bash`, 0, true, "[]"},
		{`not evt.type = execve`, 0, true, "[]"},
		{`sf.type = PE and sf.opflags = EXEC`, 2, false, "[RECORD_TYPE_PROCESS_EVENT]"},
		{`sf.type in (FF, FE)`, 0, true, "[RECORD_TYPE_FILE_FLOW RECORD_TYPE_FILE_EVENT]"},
		{`evt.type = ptrace and evt.arg.request contains PTRACE_TRACEME`, 1 << 25, false, "[]"},
	} {
		e, _ := condition.Parse(tc.cond)
		res, err := translate.Translate(e)
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		m := res.Match
		if m.Flags != tc.flags || m.AnyFlag != tc.any || fmt.Sprint(m.Types) != tc.types {
			t.Errorf("%s: match %+v, want flags %d any %v types %s", tc.cond, m, tc.flags, tc.any, tc.types)
		}
	}
}

// A field that never has a value on SysFlow records compiles, with a warning; the warning says
// when the condition cannot hold without it.
func TestMissingFields(t *testing.T) {
	for _, tc := range []struct {
		cond  string
		cel   string
		never bool
	}{
		{`container.mount.dest[/proc*] != "N/A"`, `container.mount.dest["/proc*"] != "N/A"`, true},
		{`proc.name = runc and (container.mount.dest[/] != "N/A" or container.mount.dest[/etc] != "N/A")`, `proc.name == "runc" && (container.mount.dest["/"] != "N/A" || container.mount.dest["/etc"] != "N/A")`, true},
		{`proc.name = runc or container.mount.dest[/] exists`, `proc.name == "runc" || present(container.mount.dest["/"])`, false},
		{`proc.name = runc and not container.mount.dest[/] exists`, `proc.name == "runc" && !holds(present(container.mount.dest["/"]))`, false},
		{`not container.mount.dest[/] exists and not proc.name = runc`, `!holds(present(container.mount.dest["/"])) && !holds(proc.name == "runc")`, false},
		{`not (container.mount.dest[/] exists or tolower(container.mounts) contains x)`, `!holds(present(container.mount.dest["/"]) || container.mounts.lowerAscii().contains("x"))`, false},
	} {
		e, err := condition.Parse(tc.cond)
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		res, err := translate.Translate(e)
		if err != nil {
			t.Errorf("%s: %v", tc.cond, err)
			continue
		}
		if res.CEL != tc.cel {
			t.Errorf("%s:\n got %s\nwant %s", tc.cond, res.CEL, tc.cel)
		}
		if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "never has a value (SysFlow's container records do not carry mounts): checks on it are false") {
			t.Errorf("%s: warnings %q", tc.cond, res.Warnings)
		}
		never := strings.Contains(strings.Join(res.Warnings, "\n"), "the rule never matches")
		if never != tc.never {
			t.Errorf("%s: warnings %q; want a never-matches warning: %v", tc.cond, res.Warnings, tc.never)
		}
	}
}
