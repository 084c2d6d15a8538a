package field

import (
	"net/netip"
	"path"
	"strings"
	"unicode/utf8"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// ProcOID returns the OID of the process an event or flow is about, or of a Process record.
func ProcOID(rec *sysflowv1.Record) *sysflowv1.OID {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		return r.Process.GetOid()
	case *sysflowv1.Record_ProcessEvent:
		return r.ProcessEvent.GetProcOid()
	case *sysflowv1.Record_NetworkFlow:
		return r.NetworkFlow.GetProcOid()
	case *sysflowv1.Record_FileFlow:
		return r.FileFlow.GetProcOid()
	case *sysflowv1.Record_FileEvent:
		return r.FileEvent.GetProcOid()
	case *sysflowv1.Record_NetworkEvent:
		return r.NetworkEvent.GetProcOid()
	case *sysflowv1.Record_ProcessFlow:
		return r.ProcessFlow.GetProcOid()
	}
	return nil
}

// FileOIDs returns the object ids of the files an event or flow is about: a file flow's or file
// event's file, and a file event's new file (a rename's or link's target); nil where there is
// none.
func FileOIDs(rec *sysflowv1.Record) (file, newFile []byte) {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_FileFlow:
		return r.FileFlow.GetFileOid(), nil
	case *sysflowv1.Record_FileEvent:
		return r.FileEvent.GetFileOid(), r.FileEvent.GetNewFileOid()
	}
	return nil, nil
}

// Time returns the record's time (its start for a flow), in nanoseconds since the Unix epoch.
func Time(rec *sysflowv1.Record) int64 {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		return r.Process.GetTs()
	case *sysflowv1.Record_File:
		return r.File.GetTs()
	case *sysflowv1.Record_ProcessEvent:
		return r.ProcessEvent.GetTs()
	case *sysflowv1.Record_NetworkFlow:
		return r.NetworkFlow.GetTs()
	case *sysflowv1.Record_FileFlow:
		return r.FileFlow.GetTs()
	case *sysflowv1.Record_FileEvent:
		return r.FileEvent.GetTs()
	case *sysflowv1.Record_NetworkEvent:
		return r.NetworkEvent.GetTs()
	case *sysflowv1.Record_ProcessFlow:
		return r.ProcessFlow.GetTs()
	case *sysflowv1.Record_Pod:
		return r.Pod.GetTs()
	case *sysflowv1.Record_K8SEvent:
		return r.K8SEvent.GetTs()
	}
	return 0
}

// endTime returns a flow's end, and its time for other records.
func endTime(rec *sysflowv1.Record) int64 {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_NetworkFlow:
		return r.NetworkFlow.GetEndTs()
	case *sysflowv1.Record_FileFlow:
		return r.FileFlow.GetEndTs()
	case *sysflowv1.Record_ProcessFlow:
		return r.ProcessFlow.GetEndTs()
	}
	return Time(rec)
}

// tid returns the thread of an event or flow.
func tid(rec *sysflowv1.Record) (int64, bool) {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_ProcessEvent:
		return r.ProcessEvent.GetTid(), true
	case *sysflowv1.Record_NetworkFlow:
		return r.NetworkFlow.GetTid(), true
	case *sysflowv1.Record_FileFlow:
		return r.FileFlow.GetTid(), true
	case *sysflowv1.Record_FileEvent:
		return r.FileEvent.GetTid(), true
	case *sysflowv1.Record_NetworkEvent:
		return r.NetworkEvent.GetTid(), true
	}
	return 0, false
}

// ret returns the return code of an event.
func ret(rec *sysflowv1.Record) (int64, bool) {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_ProcessEvent:
		return int64(r.ProcessEvent.GetRet()), true
	case *sysflowv1.Record_FileEvent:
		return int64(r.FileEvent.GetRet()), true
	case *sysflowv1.Record_NetworkEvent:
		return int64(r.NetworkEvent.GetRet()), true
	case *sysflowv1.Record_FileFlow, *sysflowv1.Record_NetworkFlow:
		return 0, true // flows are of calls that succeeded
	}
	return 0, false
}

// fdNum returns the descriptor of a flow.
func fdNum(rec *sysflowv1.Record) (int64, bool) {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_NetworkFlow:
		return int64(r.NetworkFlow.GetFd()), true
	case *sysflowv1.Record_FileFlow:
		return int64(r.FileFlow.GetFd()), true
	}
	return 0, false
}

// process returns the process the record is about, resolving it once.
func (e *Event) process() *sysflowv1.Process {
	e.resolveProcs()
	return e.proc
}

// parentProcess returns the parent of the record's process.
func (e *Event) parentProcess() *sysflowv1.Process {
	e.resolveProcs()
	return e.parent
}

func (e *Event) resolveProcs() {
	if e.procDone {
		return
	}
	e.procDone = true
	if p := e.Rec.GetProcess(); p != nil {
		e.proc = p
	} else if oid := ProcOID(e.Rec); oid != nil && e.Entities != nil {
		e.proc = e.Entities.Process(oid)
	}
	if e.proc != nil && e.proc.GetPoid() != nil && e.Entities != nil {
		e.parent = e.Entities.Process(e.proc.GetPoid())
	}
}

// maxAncestors bounds the walk up the process tree (and breaks any loop in bad data).
const maxAncestors = 64

// lineage returns the record's process and its known ancestors: [process, parent, ...].
func (e *Event) lineage() []*sysflowv1.Process {
	if e.ancDone {
		return e.ancestors
	}
	e.ancDone = true
	p := e.process()
	for p != nil && len(e.ancestors) < maxAncestors {
		e.ancestors = append(e.ancestors, p)
		if p.GetPoid() == nil || e.Entities == nil {
			break
		}
		p = e.Entities.Process(p.GetPoid())
	}
	return e.ancestors
}

// file returns the file of a file flow or file event, and for file events the second file
// (the new name of a rename or link), resolving them once.
func (e *Event) file() (*sysflowv1.File, *sysflowv1.File) {
	if !e.filesDone {
		e.file1, e.file2 = e.resolveFiles()
		e.filesDone = true
	}
	return e.file1, e.file2
}

func (e *Event) resolveFiles() (*sysflowv1.File, *sysflowv1.File) {
	if e.Entities == nil {
		if f := e.Rec.GetFile(); f != nil {
			return f, nil
		}
		return nil, nil
	}
	if r, ok := e.Rec.GetRec().(*sysflowv1.Record_File); ok {
		return r.File, nil
	}
	file, newFile := FileOIDs(e.Rec)
	var first, second *sysflowv1.File
	if len(file) > 0 {
		first = e.Entities.File(file)
	}
	if len(newFile) > 0 {
		second = e.Entities.File(newFile)
	}
	return first, second
}

// container returns the container of the record's process, or nil on the host.
func (e *Event) container() *sysflowv1.Container {
	id := e.containerID()
	if id == "" || e.Entities == nil {
		return nil
	}
	return e.Entities.Container(id)
}

// containerID returns the container id of the record's process, "" on the host.
func (e *Event) containerID() string {
	if c := e.Rec.GetContainer(); c != nil {
		return c.GetId()
	}
	if p := e.process(); p != nil {
		return p.GetContainerId()
	}
	if f, _ := e.file(); f != nil {
		return f.GetContainerId()
	}
	return ""
}

// pod returns the pod of the record's container, or nil.
func (e *Event) pod() *sysflowv1.Pod {
	if p := e.Rec.GetPod(); p != nil {
		return p
	}
	c := e.container()
	if c == nil || c.GetPodId() == "" || e.Entities == nil {
		return nil
	}
	return e.Entities.Pod(c.GetPodId())
}

// endpoints are a network flow's or event's addresses: client (source) and server
// (destination) as SysFlow orders them, and which one is this process's.
type endpoints struct {
	client, server netip.AddrPort
	proto          int32
	local          netip.AddrPort // the process's own end
	remote         netip.AddrPort
}

// net returns the endpoints of a network flow or event.
func (e *Event) net() (endpoints, bool) {
	var (
		sip, dip     int32
		sip6, dip6   []byte
		sport, dport int32
		proto, flags int32
	)
	switch r := e.Rec.GetRec().(type) {
	case *sysflowv1.Record_NetworkFlow:
		f := r.NetworkFlow
		sip, dip, sip6, dip6, sport, dport, proto, flags = f.GetSip(), f.GetDip(), f.GetSip6(), f.GetDip6(), f.GetSport(), f.GetDport(), f.GetProto(), f.GetOpFlags()
	case *sysflowv1.Record_NetworkEvent:
		f := r.NetworkEvent
		sip, dip, sip6, dip6, sport, dport, proto, flags = f.GetSip(), f.GetDip(), f.GetSip6(), f.GetDip6(), f.GetSport(), f.GetDport(), f.GetProto(), f.GetOpFlags()
	default:
		return endpoints{}, false
	}
	addr := func(v4 int32, v6 []byte) netip.Addr {
		if len(v6) == 16 {
			return netip.AddrFrom16([16]byte(v6)).Unmap()
		}
		u := uint32(v4) // SysFlow packs IPv4 little-endian: the first octet in the low byte
		return netip.AddrFrom4([4]byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)})
	}
	ep := endpoints{
		client: netip.AddrPortFrom(addr(sip, sip6), uint16(sport)),
		server: netip.AddrPortFrom(addr(dip, dip6), uint16(dport)),
		proto:  proto,
	}
	ep.local, ep.remote = ep.client, ep.server
	if flags&op(sysflowv1.OperationFlag_OPERATION_FLAG_ACCEPT) != 0 {
		ep.local, ep.remote = ep.server, ep.client
	}
	return ep, true
}

// procName is Falco's proc.name of a process: the executable's base name.
func procName(p *sysflowv1.Process) string {
	return path.Base(p.GetExe())
}

// cmdline is Falco's proc.cmdline: the name and the arguments.
func cmdline(p *sysflowv1.Process) string {
	if p.GetExeArgs() == "" {
		return procName(p)
	}
	return procName(p) + " " + p.GetExeArgs()
}

// restypeChar is a file's type as fd.typechar gives it.
func restypeChar(f *sysflowv1.File) string {
	r := f.GetRestype()
	switch {
	case r == 0:
		return "f"
	case r > 0 && r < utf8.RuneSelf:
		return asciiChars[r : r+1] // as string(rune(r)), without allocating
	}
	return string(rune(r))
}

// asciiChars holds every ASCII character, in order.
var asciiChars = func() string {
	b := make([]byte, utf8.RuneSelf)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}()

// restypeName is a file's type as fd.type gives it.
func restypeName(f *sysflowv1.File) string {
	switch restypeChar(f) {
	case "f":
		return "file"
	case "d":
		return "directory"
	case "u":
		return "unix"
	case "p":
		return "pipe"
	case "e":
		return "event"
	case "s":
		return "signalfd"
	case "l":
		return "eventpoll"
	case "i":
		return "inotify"
	case "4":
		return "ipv4"
	case "6":
		return "ipv6"
	}
	return "file"
}

// protoName is fd.l4proto.
func protoName(p int32) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1, 58:
		return "icmp"
	}
	return "unknown"
}

// imageParts splits a container image into repository and tag.
func imageParts(image string) (repo, tag string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	if i := strings.LastIndexByte(image, ':'); i > slash {
		return image[:i], image[i+1:]
	}
	return image, ""
}
