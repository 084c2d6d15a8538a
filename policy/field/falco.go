package field

import (
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// Constructors of table entries.

func str(name, desc string, get func(e *Event) (string, bool)) *Field {
	return &Field{Name: name, Type: String, Desc: desc, getString: get, get: func(e *Event) (any, bool) { return get(e) }}
}

func num(name, desc string, get func(e *Event) (int64, bool)) *Field {
	return &Field{Name: name, Type: Int, Desc: desc, getInt: get, get: func(e *Event) (any, bool) { return get(e) }}
}

func boolean(name, desc string, get func(e *Event) (bool, bool)) *Field {
	return &Field{Name: name, Type: Bool, Desc: desc, getBool: get, get: func(e *Event) (any, bool) { return get(e) }}
}

func strList(name, desc string, arg Arg, get func(e *Event) ([]string, bool)) *Field {
	return &Field{Name: name, Type: StringList, Arg: arg, Desc: desc, get: func(e *Event) (any, bool) { return get(e) }}
}

func numList(name, desc string, arg Arg, get func(e *Event) ([]int64, bool)) *Field {
	return &Field{Name: name, Type: IntList, Arg: arg, Desc: desc, get: func(e *Event) (any, bool) { return get(e) }}
}

func strMap(name, desc string, get func(e *Event) (map[string]string, bool)) *Field {
	return &Field{Name: name, Type: StringMap, Arg: KeyArg, Desc: desc, get: func(e *Event) (any, bool) { return get(e) }}
}

func ipNet(name, desc string, get func(ep endpoints) []netip.AddrPort) *Field {
	return &Field{Name: name, Type: IPNet, Desc: desc, get: func(e *Event) (any, bool) {
		ep, ok := e.net()
		if !ok {
			return nil, false
		}
		ends := get(ep)
		out := make([]string, len(ends))
		for i, a := range ends {
			out[i] = a.Addr().String()
		}
		return out, true
	}}
}

// flagList marks f as the list of names that names gives the record's operation flags, and
// returns it.
func flagList(f *Field, names func(flags int32) []string) *Field {
	f.flagNames = names
	return f
}

// missing is a field that never has a value on SysFlow records, for the reason given.
func missing(name string, typ Type, arg Arg, reason string) *Field {
	return &Field{Name: name, Type: typ, Arg: arg, Desc: "never has a value: " + reason, Missing: reason,
		get: func(*Event) (any, bool) { return nil, false }}
}

// Accessors shared by several fields.

func ofProc[T any](get func(p *sysflowv1.Process) T) func(e *Event) (T, bool) {
	return func(e *Event) (T, bool) {
		p := e.process()
		if p == nil {
			var zero T
			return zero, false
		}
		return get(p), true
	}
}

func ofParent[T any](get func(p *sysflowv1.Process) T) func(e *Event) (T, bool) {
	return func(e *Event) (T, bool) {
		p := e.parentProcess()
		if p == nil {
			var zero T
			return zero, false
		}
		return get(p), true
	}
}

// ofLineage lists a value of the process (index 0) and each known ancestor (1, 2, ...).
func ofLineage[T any](get func(p *sysflowv1.Process) T) func(e *Event) ([]T, bool) {
	return func(e *Event) ([]T, bool) {
		ps := e.lineage()
		if len(ps) == 0 {
			return nil, false
		}
		out := make([]T, len(ps))
		for i, p := range ps {
			out[i] = get(p)
		}
		return out, true
	}
}

func ofFile[T any](get func(f *sysflowv1.File) T) func(e *Event) (T, bool) {
	return func(e *Event) (T, bool) {
		f, _ := e.file()
		if f == nil {
			var zero T
			return zero, false
		}
		return get(f), true
	}
}

func ofNet[T any](get func(ep endpoints) T) func(e *Event) (T, bool) {
	return func(e *Event) (T, bool) {
		ep, ok := e.net()
		if !ok {
			var zero T
			return zero, false
		}
		return get(ep), true
	}
}

func ofContainer[T any](host T, get func(c *sysflowv1.Container) T) func(e *Event) (T, bool) {
	return func(e *Event) (T, bool) {
		if e.containerID() == "" {
			return host, true // Falco's values for processes on the host
		}
		c := e.container()
		if c == nil {
			var zero T
			return zero, false
		}
		return get(c), true
	}
}

func ofPod[T any](get func(p *sysflowv1.Pod) T) func(e *Event) (T, bool) {
	return func(e *Event) (T, bool) {
		p := e.pod()
		if p == nil {
			var zero T
			return zero, false
		}
		return get(p), true
	}
}

func addrString(a netip.Addr) string { return a.String() }

func pid(p *sysflowv1.Process) int64 { return p.GetOid().GetHpid() }

// capSet is a thread.cap_* field: the capability set the agent recorded, absent from records
// of SysFlow files.
func capSet(set func(p *sysflowv1.Process) *uint64) func(e *Event) (string, bool) {
	return func(e *Event) (string, bool) {
		p := e.process()
		if p == nil || set(p) == nil {
			return "", false
		}
		return CapNames(*set(p)), true
	}
}

// isMemfdExe reports whether an executable path is that of a memfd_create(2) file: Linux names
// those "/memfd:NAME (deleted)" (the path /proc/PID/exe links to), and Falco prints the runc
// copy as "memfd:runc_cloned:/proc/self/exe".
func isMemfdExe(p *sysflowv1.Process) bool {
	return strings.HasPrefix(p.GetExe(), "/memfd:") || strings.HasPrefix(p.GetExe(), "memfd:")
}

// nameChanged is fd.name_changed; see its description.
func nameChanged(e *Event) (bool, bool) {
	const named = int32(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN | sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT |
		sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT)
	switch r := e.Rec.GetRec().(type) {
	case *sysflowv1.Record_FileFlow:
		return r.FileFlow.GetOpFlags()&named != 0, true
	case *sysflowv1.Record_NetworkFlow:
		return r.NetworkFlow.GetOpFlags()&named != 0, true
	case *sysflowv1.Record_NetworkEvent:
		return r.NetworkEvent.GetOpFlags()&named != 0, true
	case *sysflowv1.Record_FileEvent:
		return true, true
	}
	return false, false
}

func isOpen(e *Event) bool {
	f, _ := sfavro.OpFlags(e.Rec)
	return f&op(sysflowv1.OperationFlag_OPERATION_FLAG_OPEN) != 0 && e.Rec.GetFileFlow() != nil
}

func openFlags(e *Event) (int32, bool) {
	ff := e.Rec.GetFileFlow()
	if ff == nil {
		return 0, false
	}
	return ff.GetOpenFlags(), true
}

func init() {
	register(
		// evt.*
		flagList(strList("evt.type", "the system calls the record stands for, from its operation flags: a flow matches every call it aggregates", NoArg, func(e *Event) ([]string, bool) {
			f, ok := sfavro.OpFlags(e.Rec)
			if !ok {
				return nil, false
			}
			return Syscalls(f), true
		}), Syscalls),
		str("evt.dir", "always < : records describe calls that returned", func(e *Event) (string, bool) { return "<", true }),
		num("evt.rawres", "the return code of an event; 0 for flows", func(e *Event) (int64, bool) { return ret(e.Rec) }),
		str("evt.res", "SUCCESS, or the error name (ENOENT) of a failed call", func(e *Event) (string, bool) {
			r, ok := ret(e.Rec)
			return errnoName(r), ok
		}),
		boolean("evt.failed", "whether the call failed", func(e *Event) (bool, bool) {
			r, ok := ret(e.Rec)
			return r < 0, ok
		}),
		num("evt.rawtime", "the record's time (a flow's start), ns since the epoch", func(e *Event) (int64, bool) { return Time(e.Rec), true }),
		str("evt.time", "the record's time, as Falco prints it", func(e *Event) (string, bool) {
			return time.Unix(0, Time(e.Rec)).UTC().Format("15:04:05.000000000"), true
		}),
		str("evt.time.iso8601", "the record's time in ISO 8601", func(e *Event) (string, bool) {
			return time.Unix(0, Time(e.Rec)).UTC().Format(time.RFC3339Nano), true
		}),
		num("evt.num", "the record's sequence number from its agent", func(e *Event) (int64, bool) { return e.Rec.GetSeq(), true }),
		str("evt.hostname", "the node the record comes from", func(e *Event) (string, bool) { return e.Rec.GetNodeId(), true }),
		num("evt.latency", "a flow's duration in ns", func(e *Event) (int64, bool) { return endTime(e.Rec) - Time(e.Rec), true }),
		boolean("evt.is_open_read", "a file flow that opened its file for reading", func(e *Event) (bool, bool) {
			f, ok := openFlags(e)
			return isOpen(e) && (f&3 == 1 || f&3 == 3), ok
		}),
		boolean("evt.is_open_write", "a file flow that opened its file for writing", func(e *Event) (bool, bool) {
			f, ok := openFlags(e)
			return isOpen(e) && (f&3 == 2 || f&3 == 3), ok
		}),
		boolean("evt.is_open_create", "a file flow that opened its file with O_CREAT", func(e *Event) (bool, bool) {
			f, ok := openFlags(e)
			return isOpen(e) && f&int32(sysflowv1.OpenFlag_OPEN_FLAG_CREAT) != 0, ok
		}),
		boolean("evt.is_open_exec", "never: SysFlow does not record O_EXEC opens", func(e *Event) (bool, bool) {
			_, ok := openFlags(e)
			return false, ok
		}),
		strMap("evt.arg", "the call's arguments by name (path, name, oldpath, newpath, target, linkpath, flags, fd, uid, ...) and, for process events, by position (evt.arg[0]); a ptrace's are request, its name such as PTRACE_ATTACH (a condition may also give its number), and pid, the target's", evtArgs),
		str("evt.args", "the call's arguments as name=value pairs", func(e *Event) (string, bool) {
			m, ok := evtArgs(e)
			if !ok {
				return "", false
			}
			var b strings.Builder
			for _, k := range sortedKeys(m) {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(k + "=" + m[k])
			}
			return b.String(), true
		}),

		// proc.* and thread.*
		num("proc.pid", "the process id (on the host)", ofProc(pid)),
		num("proc.vpid", "the process id (SysFlow records host ids)", ofProc(pid)),
		num("thread.tid", "the thread of the record", func(e *Event) (int64, bool) { return tid(e.Rec) }),
		num("thread.vtid", "the thread of the record", func(e *Event) (int64, bool) { return tid(e.Rec) }),
		str("proc.name", "the executable's base name", ofProc(procName)),
		str("proc.exe", "the executable's path", ofProc((*sysflowv1.Process).GetExe)),
		str("proc.exepath", "the executable's path", ofProc((*sysflowv1.Process).GetExe)),
		str("proc.args", "the arguments", ofProc((*sysflowv1.Process).GetExeArgs)),
		str("proc.cmdline", "the name and arguments", ofProc(cmdline)),
		str("proc.exeline", "the executable's path and arguments", ofProc(func(p *sysflowv1.Process) string {
			return strings.TrimSpace(p.GetExe() + " " + p.GetExeArgs())
		})),
		str("proc.cwd", "the working directory", ofProc((*sysflowv1.Process).GetCwd)),
		num("proc.tty", "non-zero when the process has a terminal", ofProc(func(p *sysflowv1.Process) int64 {
			if p.GetTty() {
				return 1
			}
			return 0
		})),
		str("proc.env", "the environment, space-separated", ofProc(func(p *sysflowv1.Process) string { return strings.Join(p.GetEnv(), " ") })),
		boolean("proc.is_exe_from_memfd", "whether the executable is a memfd_create(2) file, read from its path: Linux shows those as /memfd:NAME (deleted)", ofProc(isMemfdExe)),
		boolean("proc.is_container_entrypoint", "whether the process is its container's entry point", ofProc((*sysflowv1.Process).GetEntry)),
		num("proc.ppid", "the parent's process id", ofProc(func(p *sysflowv1.Process) int64 { return p.GetPoid().GetHpid() })),
		str("proc.pname", "the parent's name", ofParent(procName)),
		str("proc.pexe", "the parent's executable", ofParent((*sysflowv1.Process).GetExe)),
		str("proc.pexepath", "the parent's executable", ofParent((*sysflowv1.Process).GetExe)),
		str("proc.pcmdline", "the parent's name and arguments", ofParent(cmdline)),
		str("proc.pargs", "the parent's arguments", ofParent((*sysflowv1.Process).GetExeArgs)),
		strList("proc.aname", "names of the process ([0]) and its ancestors ([1] the parent); without an index, any ancestor", IndexArg, ofLineage(procName)),
		strList("proc.aexe", "executables of the process and its ancestors", IndexArg, ofLineage((*sysflowv1.Process).GetExe)),
		strList("proc.aexepath", "executables of the process and its ancestors", IndexArg, ofLineage((*sysflowv1.Process).GetExe)),
		strList("proc.acmdline", "command lines of the process and its ancestors", IndexArg, ofLineage(cmdline)),
		numList("proc.apid", "ids of the process and its ancestors", IndexArg, ofLineage(pid)),
		str("proc.sname", "the name of the process's topmost known ancestor", func(e *Event) (string, bool) {
			ps := e.lineage()
			if len(ps) == 0 {
				return "", false
			}
			return procName(ps[len(ps)-1]), true
		}),
		num("proc.start_ts", "when the process started, ns since the epoch", ofProc(func(p *sysflowv1.Process) int64 { return p.GetOid().GetCreateTs() })),
		num("proc.duration", "ns from the process's start to the record", func(e *Event) (int64, bool) {
			p := e.process()
			if p == nil {
				return 0, false
			}
			return Time(e.Rec) - p.GetOid().GetCreateTs(), true
		}),

		str("thread.cap_effective", "the effective capabilities, as Falco writes them: CAP_* names, space-separated, in the order of their numbers; no value on records of SysFlow files, which do not carry capabilities", capSet(func(p *sysflowv1.Process) *uint64 { return p.CapEffective })),
		str("thread.cap_permitted", "the permitted capabilities, written as thread.cap_effective's", capSet(func(p *sysflowv1.Process) *uint64 { return p.CapPermitted })),
		str("thread.cap_inheritable", "the inheritable capabilities, written as thread.cap_effective's", capSet(func(p *sysflowv1.Process) *uint64 { return p.CapInheritable })),

		// user.* and group.*
		num("user.uid", "the process's user id", ofProc(func(p *sysflowv1.Process) int64 { return int64(p.GetUid()) })),
		num("user.loginuid", "the process's login user id, -1 when unset; no value on records of SysFlow files, which do not carry it", func(e *Event) (int64, bool) {
			p := e.process()
			if p == nil || p.Loginuid == nil {
				return 0, false
			}
			return int64(*p.Loginuid), true
		}),
		str("user.name", "the process's user name", ofProc((*sysflowv1.Process).GetUserName)),
		num("group.gid", "the process's group id", ofProc(func(p *sysflowv1.Process) int64 { return int64(p.GetGid()) })),
		str("group.name", "the process's group name", ofProc((*sysflowv1.Process).GetGroupName)),

		// fd.*
		str("fd.name", "a file's path, or a connection as client:port->server:port", fdName),
		str("fd.nameraw", "a file's path, or a connection as client:port->server:port", fdName),
		str("fd.directory", "the directory of the file", ofFile(func(f *sysflowv1.File) string { return path.Dir(f.GetPath()) })),
		str("fd.filename", "the base name of the file", ofFile(func(f *sysflowv1.File) string { return path.Base(f.GetPath()) })),
		str("fd.typechar", "f (file), d (directory), 4 or 6 (IPv4, IPv6 socket), ...", fdTypechar),
		str("fd.type", "file, directory, ipv4, ipv6, ...", func(e *Event) (string, bool) {
			if ep, ok := e.net(); ok {
				if ep.client.Addr().Is4() {
					return "ipv4", true
				}
				return "ipv6", true
			}
			return ofFile(restypeName)(e)
		}),
		num("fd.num", "the descriptor of a flow", func(e *Event) (int64, bool) { return fdNum(e.Rec) }),
		str("fd.l4proto", "tcp, udp, icmp", ofNet(func(ep endpoints) string { return protoName(ep.proto) })),
		str("fd.sockfamily", "ip for network flows", ofNet(func(endpoints) string { return "ip" })),
		boolean("fd.connected", "true for network flows (they record calls on a connection)", ofNet(func(endpoints) bool { return true })),
		boolean("fd.name_changed", "true when the record's descriptor got its name during the record: a file or network flow (or network event) whose operations include an open, a connect or an accept, and a file event; false for other flows, which use a descriptor named before them; no value for records without a descriptor", nameChanged),
		str("fd.cip", "the client's address", ofNet(func(ep endpoints) string { return addrString(ep.client.Addr()) })),
		str("fd.sip", "the server's address", ofNet(func(ep endpoints) string { return addrString(ep.server.Addr()) })),
		str("fd.lip", "this process's address", ofNet(func(ep endpoints) string { return addrString(ep.local.Addr()) })),
		str("fd.rip", "the peer's address", ofNet(func(ep endpoints) string { return addrString(ep.remote.Addr()) })),
		num("fd.cport", "the client's port", ofNet(func(ep endpoints) int64 { return int64(ep.client.Port()) })),
		num("fd.sport", "the server's port", ofNet(func(ep endpoints) int64 { return int64(ep.server.Port()) })),
		num("fd.lport", "this process's port", ofNet(func(ep endpoints) int64 { return int64(ep.local.Port()) })),
		num("fd.rport", "the peer's port", ofNet(func(ep endpoints) int64 { return int64(ep.remote.Port()) })),
		numList("fd.port", "both ports of the connection: fd.port = 80 holds when either is 80, != when neither is", NoArg, ofNet(func(ep endpoints) []int64 {
			return []int64{int64(ep.client.Port()), int64(ep.server.Port())}
		})),
		strList("fd.ip", "both addresses of the connection: fd.ip = A holds when either is A, != when neither is", NoArg, ofNet(func(ep endpoints) []string {
			return []string{addrString(ep.client.Addr()), addrString(ep.server.Addr())}
		})),
		ipNet("fd.net", "both addresses of the connection, matched against networks: fd.net = 10.0.0.0/8 holds when either is in it, != when neither is", func(ep endpoints) []netip.AddrPort {
			return []netip.AddrPort{ep.client, ep.server}
		}),
		ipNet("fd.cnet", "the client's address, matched against networks (fd.cnet in (10.0.0.0/8, 192.168.0.0/16))", func(ep endpoints) []netip.AddrPort {
			return []netip.AddrPort{ep.client}
		}),
		ipNet("fd.snet", "the server's address, matched against networks", func(ep endpoints) []netip.AddrPort {
			return []netip.AddrPort{ep.server}
		}),
		ipNet("fd.lnet", "this process's address, matched against networks", func(ep endpoints) []netip.AddrPort {
			return []netip.AddrPort{ep.local}
		}),
		ipNet("fd.rnet", "the peer's address, matched against networks", func(ep endpoints) []netip.AddrPort {
			return []netip.AddrPort{ep.remote}
		}),

		// container.*
		str("container.id", "the container's id, host on the host", ofContainer("host", (*sysflowv1.Container).GetId)),
		str("container.name", "the container's name, host on the host", ofContainer("host", (*sysflowv1.Container).GetName)),
		str("container.image", "the container's image", ofContainer("", (*sysflowv1.Container).GetImage)),
		str("container.image.id", "the container's image id", ofContainer("", (*sysflowv1.Container).GetImageid)),
		str("container.image.repository", "the image's repository", ofContainer("", func(c *sysflowv1.Container) string {
			r, _ := imageParts(c.GetImage())
			return r
		})),
		str("container.image.tag", "the image's tag", ofContainer("", func(c *sysflowv1.Container) string {
			_, t := imageParts(c.GetImage())
			return t
		})),
		boolean("container.privileged", "whether the container is privileged", ofContainer(false, (*sysflowv1.Container).GetPrivileged)),
		missing("container.mounts", String, NoArg, noMounts),
		missing("container.mount", StringMap, KeyArg, noMounts),
		missing("container.mount.source", StringMap, KeyArg, noMounts),
		missing("container.mount.dest", StringMap, KeyArg, noMounts),
		missing("container.mount.mode", StringMap, KeyArg, noMounts),
		missing("container.mount.rdwrite", StringMap, KeyArg, noMounts),
		missing("container.mount.propagation", StringMap, KeyArg, noMounts),
		str("container.type", "docker, cri-o, containerd, ... ; host on the host", ofContainer("host", func(c *sysflowv1.Container) string {
			return strings.ToLower(strings.TrimPrefix(c.GetType().String(), "CONTAINER_TYPE_"))
		})),

		// k8s.*
		str("k8s.pod.name", "the pod's name", ofPod((*sysflowv1.Pod).GetName)),
		str("k8s.pod.id", "the pod's id", ofPod((*sysflowv1.Pod).GetId)),
		str("k8s.pod.uid", "the pod's id", ofPod((*sysflowv1.Pod).GetId)),
		str("k8s.ns.name", "the pod's namespace", ofPod((*sysflowv1.Pod).GetNamespace)),
		strMap("k8s.pod.label", "the pod's labels", func(e *Event) (map[string]string, bool) { return ofPod((*sysflowv1.Pod).GetLabels)(e) }),
		str("k8s.pod.labels", "the pod's labels as key:value pairs", ofPod(func(p *sysflowv1.Pod) string {
			var parts []string
			for _, k := range sortedKeys(p.GetLabels()) {
				parts = append(parts, k+":"+p.GetLabels()[k])
			}
			return strings.Join(parts, ", ")
		})),
	)

	unsupportedFields("SysFlow records do not carry the login user's name", "user.loginname")
	unsupportedFields("SysFlow records do not carry users' home directories or shells", "user.homedir", "user.shell")
	unsupportedFields("SysFlow records do not carry session or process-group ids", "proc.vpgid", "proc.vpgid.", "proc.is_vpgid_leader", "proc.sid", "proc.sid.", "proc.is_sid_leader", "proc.pgid")
	unsupportedFields("SysFlow records do not describe executable inodes or overlay layers", "proc.exe_ino", "proc.exe_ino.", "proc.is_exe_upper_layer", "proc.is_exe_writable", "proc.exe_writable", "proc.is_exe_lower_layer")
	unsupportedFields("SysFlow records do not carry the parent's start time", "proc.ppid.duration")
	unsupportedFields("SysFlow records do not carry names resolved from addresses", "fd.sip.name", "fd.cip.name", "fd.rip.name", "fd.lip.name")
	unsupportedFields("SysFlow records do not keep the file names of all descriptors", "fd.types", "fs.path.")
	unsupportedFields("SysFlow records do not carry container start times", "container.start_ts", "container.duration")
	unsupportedFields("Kubernetes audit events are not a syscall source", "ka.", "k8s.io")
}

// noMounts is why the container.mount fields have no value.
const noMounts = "SysFlow's container records do not carry mounts"

// fdName is fd.name: a file's path, or a connection.
func fdName(e *Event) (string, bool) {
	if ep, ok := e.net(); ok {
		return ep.client.String() + "->" + ep.server.String(), true
	}
	return ofFile((*sysflowv1.File).GetPath)(e)
}

// fdTypechar is fd.typechar.
func fdTypechar(e *Event) (string, bool) {
	if ep, ok := e.net(); ok {
		if ep.client.Addr().Is4() {
			return "4", true
		}
		return "6", true
	}
	return ofFile(restypeChar)(e)
}

// evtArgs are the call's arguments by name, as Falco names them.
func evtArgs(e *Event) (map[string]string, bool) {
	m := map[string]string{}
	if r, ok := ret(e.Rec); ok {
		m["res"] = strconv.FormatInt(r, 10)
	}
	switch r := e.Rec.GetRec().(type) {
	case *sysflowv1.Record_ProcessEvent:
		args := r.ProcessEvent.GetArgs()
		for i, a := range args {
			m[strconv.Itoa(i)] = a
		}
		flags := r.ProcessEvent.GetOpFlags()
		switch {
		case flags&op(sysflowv1.OperationFlag_OPERATION_FLAG_SETUID) != 0 && len(args) > 0:
			m["uid"] = args[0]
		case flags&op(sysflowv1.OperationFlag_OPERATION_FLAG_SETNS) != 0 && len(args) > 1:
			m["nstype"], m["flags"] = args[1], args[1]
		case flags&op(sysflowv1.OperationFlag_OPERATION_FLAG_PTRACE) != 0:
			// args: the request (its name, or a number from a source that sends numbers) and
			// the target's pid.
			if len(args) > 0 {
				name, _ := PtraceRequestName(args[0])
				m["request"], m["0"] = name, name
			}
			if len(args) > 1 {
				m["pid"] = args[1]
			}
		case flags&op(sysflowv1.OperationFlag_OPERATION_FLAG_EXEC) != 0:
			if p := e.process(); p != nil {
				m["filename"], m["exe"], m["args"] = p.GetExe(), p.GetExe(), p.GetExeArgs()
			}
		}
	case *sysflowv1.Record_FileFlow:
		f, _ := e.file()
		if f != nil {
			m["name"], m["path"], m["filename"] = f.GetPath(), f.GetPath(), f.GetPath()
		}
		m["flags"] = strings.Join(OpenFlagNames(r.FileFlow.GetOpenFlags()), "|")
		m["fd"] = strconv.Itoa(int(r.FileFlow.GetFd()))
	case *sysflowv1.Record_FileEvent:
		f, second := e.file()
		if f != nil {
			m["path"], m["name"], m["pathname"], m["oldpath"], m["target"] = f.GetPath(), f.GetPath(), f.GetPath(), f.GetPath(), f.GetPath()
		}
		if second != nil {
			m["newpath"], m["linkpath"] = second.GetPath(), second.GetPath()
		}
	case *sysflowv1.Record_NetworkFlow:
		ep, _ := e.net()
		m["fd"] = strconv.Itoa(int(r.NetworkFlow.GetFd()))
		m["tuple"] = ep.client.String() + "->" + ep.server.String()
		m["addr"] = ep.remote.String()
	default:
		return nil, false
	}
	return m, true
}
