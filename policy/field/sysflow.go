package field

import (
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// SysFlow's own fields (sf.*), as SysFlow's policy engine defines them.
func init() {
	register(
		str("sf.type", "the record type: PE, PF, FF, FE, NF, NE, P, F, C, POD, KE", func(e *Event) (string, bool) {
			return RecordTypeCode(sfavro.TypeOf(e.Rec)), true
		}),
		flagList(strList("sf.opflags", "SysFlow's names of the record's operation flags (EXEC, OPEN, READ_RECV, ...)", NoArg, func(e *Event) ([]string, bool) {
			f, ok := sfavro.OpFlags(e.Rec)
			return OpFlagNames(f), ok
		}), OpFlagNames),
		num("sf.ret", "the return code of an event", func(e *Event) (int64, bool) { return ret(e.Rec) }),
		num("sf.ts", "the record's time, ns since the epoch", func(e *Event) (int64, bool) { return Time(e.Rec), true }),
		num("sf.endts", "a flow's end, ns since the epoch", func(e *Event) (int64, bool) { return endTime(e.Rec), true }),
		str("sf.state", "an entity's state: CREATED, MODIFIED, REUP", func(e *Event) (string, bool) {
			var s sysflowv1.ObjectState
			switch r := e.Rec.GetRec().(type) {
			case *sysflowv1.Record_Process:
				s = r.Process.GetState()
			case *sysflowv1.Record_File:
				s = r.File.GetState()
			default:
				return "", false
			}
			return strings.TrimPrefix(s.String(), "OBJECT_STATE_"), true
		}),
		str("sf.node.id", "the node the record comes from", func(e *Event) (string, bool) { return e.Rec.GetNodeId(), true }),

		num("sf.proc.pid", "the process id", ofProc(pid)),
		num("sf.proc.tid", "the thread of the record", func(e *Event) (int64, bool) { return tid(e.Rec) }),
		str("sf.proc.name", "the executable's base name", ofProc(procName)),
		str("sf.proc.exe", "the executable's path", ofProc((*sysflowv1.Process).GetExe)),
		str("sf.proc.args", "the arguments", ofProc((*sysflowv1.Process).GetExeArgs)),
		str("sf.proc.cmdline", "the executable's path and arguments", ofProc(sfCmdline)),
		num("sf.proc.uid", "the user id", ofProc(func(p *sysflowv1.Process) int64 { return int64(p.GetUid()) })),
		str("sf.proc.user", "the user name", ofProc((*sysflowv1.Process).GetUserName)),
		str("sf.proc.username", "the user name", ofProc((*sysflowv1.Process).GetUserName)),
		num("sf.proc.gid", "the group id", ofProc(func(p *sysflowv1.Process) int64 { return int64(p.GetGid()) })),
		str("sf.proc.group", "the group name", ofProc((*sysflowv1.Process).GetGroupName)),
		boolean("sf.proc.tty", "whether the process has a terminal", ofProc((*sysflowv1.Process).GetTty)),
		boolean("sf.proc.entry", "whether the process is its container's entry point", ofProc((*sysflowv1.Process).GetEntry)),
		num("sf.proc.createts", "when the process started", ofProc(func(p *sysflowv1.Process) int64 { return p.GetOid().GetCreateTs() })),
		str("sf.proc.cwd", "the working directory", ofProc((*sysflowv1.Process).GetCwd)),
		strList("sf.proc.aname", "names of the process and its ancestors", IndexArg, ofLineage(procName)),
		strList("sf.proc.aexe", "executables of the process and its ancestors", IndexArg, ofLineage((*sysflowv1.Process).GetExe)),
		strList("sf.proc.acmdline", "command lines of the process and its ancestors", IndexArg, ofLineage(sfCmdline)),
		numList("sf.proc.apid", "ids of the process and its ancestors", IndexArg, ofLineage(pid)),

		num("sf.pproc.pid", "the parent's id", ofProc(func(p *sysflowv1.Process) int64 { return p.GetPoid().GetHpid() })),
		str("sf.pproc.name", "the parent's name", ofParent(procName)),
		str("sf.pproc.exe", "the parent's executable", ofParent((*sysflowv1.Process).GetExe)),
		str("sf.pproc.args", "the parent's arguments", ofParent((*sysflowv1.Process).GetExeArgs)),
		str("sf.pproc.cmdline", "the parent's executable and arguments", ofParent(sfCmdline)),
		num("sf.pproc.uid", "the parent's user id", ofParent(func(p *sysflowv1.Process) int64 { return int64(p.GetUid()) })),
		str("sf.pproc.user", "the parent's user name", ofParent((*sysflowv1.Process).GetUserName)),

		str("sf.file.path", "the file's path", ofFile((*sysflowv1.File).GetPath)),
		str("sf.file.name", "the file's base name", ofFile(func(f *sysflowv1.File) string { return path.Base(f.GetPath()) })),
		str("sf.file.directory", "the file's directory", ofFile(func(f *sysflowv1.File) string { return path.Dir(f.GetPath()) })),
		str("sf.file.newpath", "the second file's path (rename, link)", func(e *Event) (string, bool) {
			_, s := e.file()
			if s == nil {
				return "", false
			}
			return s.GetPath(), true
		}),
		str("sf.file.type", "the file's type character: f, d, ...", ofFile(restypeChar)),
		str("sf.file.typechar", "the file's type character, or 4 and 6 for sockets", fdTypechar),
		num("sf.file.fd", "the descriptor of a flow", func(e *Event) (int64, bool) { return fdNum(e.Rec) }),
		strList("sf.file.openflags", "the open flags of a file flow (O_RDONLY, O_CREAT, ...)", NoArg, func(e *Event) ([]string, bool) {
			f, ok := openFlags(e)
			return OpenFlagNames(f), ok
		}),
		boolean("sf.file.is_open_write", "a file flow that opened its file for writing", byName["evt.is_open_write"].boolGet()),
		boolean("sf.file.is_open_read", "a file flow that opened its file for reading", byName["evt.is_open_read"].boolGet()),
		boolean("sf.is_open_write", "a file flow that opened its file for writing", byName["evt.is_open_write"].boolGet()),
		boolean("sf.is_open_read", "a file flow that opened its file for reading", byName["evt.is_open_read"].boolGet()),

		str("sf.net.proto", "tcp, udp, icmp", ofNet(func(ep endpoints) string { return protoName(ep.proto) })),
		str("sf.net.sockfamily", "ip for network flows", ofNet(func(endpoints) string { return "ip" })),
		num("sf.net.sport", "the source (client) port", ofNet(func(ep endpoints) int64 { return int64(ep.client.Port()) })),
		num("sf.net.dport", "the destination (server) port", ofNet(func(ep endpoints) int64 { return int64(ep.server.Port()) })),
		numList("sf.net.port", "both ports", NoArg, ofNet(func(ep endpoints) []int64 {
			return []int64{int64(ep.client.Port()), int64(ep.server.Port())}
		})),
		str("sf.net.sip", "the source (client) address", ofNet(func(ep endpoints) string { return addrString(ep.client.Addr()) })),
		str("sf.net.dip", "the destination (server) address", ofNet(func(ep endpoints) string { return addrString(ep.server.Addr()) })),
		ipNet("sf.net.mask", "both addresses, matched against networks: sf.net.mask != 127.0.0.0/8 holds when neither is in it, as Falco's fd.net (SysFlow's runtime-integrity policies write it so; SysFlow's engine does not define it)", func(ep endpoints) []netip.AddrPort {
			return []netip.AddrPort{ep.client, ep.server}
		}),
		strList("sf.net.ip", "both addresses", NoArg, ofNet(func(ep endpoints) []string {
			return []string{addrString(ep.client.Addr()), addrString(ep.server.Addr())}
		})),

		num("sf.flow.rbytes", "bytes read or received", flowCount(func(r, _, _, _ int64) int64 { return r })),
		num("sf.flow.wbytes", "bytes written or sent", flowCount(func(_, w, _, _ int64) int64 { return w })),
		num("sf.flow.rops", "reads or receives", flowCount(func(_, _, r, _ int64) int64 { return r })),
		num("sf.flow.wops", "writes or sends", flowCount(func(_, _, _, w int64) int64 { return w })),

		str("sf.container.id", "the container's id, host on the host", ofContainer("host", (*sysflowv1.Container).GetId)),
		str("sf.container.name", "the container's name", ofContainer("host", (*sysflowv1.Container).GetName)),
		str("sf.container.image", "the container's image", ofContainer("", (*sysflowv1.Container).GetImage)),
		str("sf.container.imageid", "the container's image id", ofContainer("", (*sysflowv1.Container).GetImageid)),
		str("sf.container.type", "the container's runtime, host on the host", byName["container.type"].strGet()),
		boolean("sf.container.privileged", "whether the container is privileged", ofContainer(false, (*sysflowv1.Container).GetPrivileged)),

		str("sf.pod.id", "the pod's id", ofPod((*sysflowv1.Pod).GetId)),
		str("sf.pod.name", "the pod's name", ofPod((*sysflowv1.Pod).GetName)),
		str("sf.pod.namespace", "the pod's namespace", ofPod((*sysflowv1.Pod).GetNamespace)),
		str("sf.pod.nodename", "the pod's node", ofPod((*sysflowv1.Pod).GetNodeName)),
		strList("sf.pod.internalip", "the pod's internal addresses", IndexArg, ofPod(func(p *sysflowv1.Pod) []string { return ips(p.GetInternalIps()) })),
		strList("sf.pod.hostip", "the pod's host addresses", IndexArg, ofPod(func(p *sysflowv1.Pod) []string { return ips(p.GetHostIps()) })),
		strMap("sf.pod.labels", "the pod's labels", func(e *Event) (map[string]string, bool) { return ofPod((*sysflowv1.Pod).GetLabels)(e) }),

		str("sf.ke.kind", "a Kubernetes event's kind (K8S_PODS, ...)", func(e *Event) (string, bool) {
			k := e.Rec.GetK8SEvent()
			return "K8S_" + strings.TrimPrefix(k.GetKind().String(), "K8S_COMPONENT_"), k != nil
		}),
		str("sf.ke.action", "a Kubernetes event's action (K8S_COMPONENT_ADDED, ...)", func(e *Event) (string, bool) {
			k := e.Rec.GetK8SEvent()
			return "K8S_" + strings.TrimPrefix(k.GetAction().String(), "K8S_ACTION_"), k != nil
		}),
		&Field{Name: "sf.ke.message", Type: String, Arg: PathArg,
			Desc: "a Kubernetes event's message, a JSON document; sf.ke.message[items.0.namespace] is the value at a JSON path in it, as SysFlow reads it (gjson paths: keys, array indexes, #)",
			get: func(e *Event) (any, bool) {
				k := e.Rec.GetK8SEvent()
				return k.GetMessage(), k != nil
			}},
	)
	unsupportedFields("SysFlow's JSON form of a pod's services is not reproduced", "sf.pod.services")
}

// sfCmdline is SysFlow's command line: the executable's path and arguments.
func sfCmdline(p *sysflowv1.Process) string {
	return strings.TrimSpace(p.GetExe() + " " + p.GetExeArgs())
}

func flowCount(pick func(rb, wb, rops, wops int64) int64) func(e *Event) (int64, bool) {
	return func(e *Event) (int64, bool) {
		switch r := e.Rec.GetRec().(type) {
		case *sysflowv1.Record_FileFlow:
			f := r.FileFlow
			return pick(f.GetNumRRecvBytes(), f.GetNumWSendBytes(), f.GetNumRRecvOps(), f.GetNumWSendOps()), true
		case *sysflowv1.Record_NetworkFlow:
			f := r.NetworkFlow
			return pick(f.GetNumRRecvBytes(), f.GetNumWSendBytes(), f.GetNumRRecvOps(), f.GetNumWSendOps()), true
		}
		return 0, false
	}
}

// ips formats SysFlow's packed IPv4 addresses.
func ips(packed []int64) []string {
	out := make([]string, len(packed))
	for i, v := range packed {
		u := uint32(v)
		out[i] = strconv.Itoa(int(byte(u))) + "." + strconv.Itoa(int(byte(u>>8))) + "." + strconv.Itoa(int(byte(u>>16))) + "." + strconv.Itoa(int(byte(u>>24)))
	}
	return out
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// boolGet and strGet reuse another field's definition.
func (f *Field) boolGet() func(e *Event) (bool, bool) {
	return func(e *Event) (bool, bool) {
		v, ok := f.get(e)
		b, _ := v.(bool)
		return b, ok
	}
}

func (f *Field) strGet() func(e *Event) (string, bool) {
	return func(e *Event) (string, bool) {
		v, ok := f.get(e)
		s, _ := v.(string)
		return s, ok
	}
}
