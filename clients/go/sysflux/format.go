package sysflux

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// TypeName returns the lower-case name of a record's type, as in "file_flow".
func TypeName(rec *sysflowv1.Record) string {
	switch rec.GetRec().(type) {
	case *sysflowv1.Record_Header:
		return "header"
	case *sysflowv1.Record_Container:
		return "container"
	case *sysflowv1.Record_Process:
		return "process"
	case *sysflowv1.Record_File:
		return "file"
	case *sysflowv1.Record_ProcessEvent:
		return "process_event"
	case *sysflowv1.Record_NetworkFlow:
		return "network_flow"
	case *sysflowv1.Record_FileFlow:
		return "file_flow"
	case *sysflowv1.Record_FileEvent:
		return "file_event"
	case *sysflowv1.Record_NetworkEvent:
		return "network_event"
	case *sysflowv1.Record_ProcessFlow:
		return "process_flow"
	case *sysflowv1.Record_Pod:
		return "pod"
	case *sysflowv1.Record_K8SEvent:
		return "k8s_event"
	}
	return "unknown"
}

// ParseRecordType parses a record type name: "file_flow", "FILE_FLOW" or "RECORD_TYPE_FILE_FLOW".
func ParseRecordType(name string) (sysflowv1.RecordType, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "RECORD_TYPE_") {
		n = "RECORD_TYPE_" + n
	}
	v, ok := sysflowv1.RecordType_value[n]
	if !ok || v == 0 {
		return 0, fmt.Errorf("unknown record type %q", name)
	}
	return sysflowv1.RecordType(v), nil
}

// ParseOpFlag parses an operation name: "open", "OPEN" or "OPERATION_FLAG_OPEN".
func ParseOpFlag(name string) (int32, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "OPERATION_FLAG_") {
		n = "OPERATION_FLAG_" + n
	}
	v, ok := sysflowv1.OperationFlag_value[n]
	if !ok || v == 0 {
		return 0, fmt.Errorf("unknown operation %q", name)
	}
	return v, nil
}

// OpFlagsString names the operations set in flags, as in "OPEN|READ_RECV|CLOSE".
func OpFlagsString(flags int32) string {
	var names []string
	for bit := int32(1); bit != 0 && bit <= flags; bit <<= 1 {
		if flags&bit == 0 {
			continue
		}
		if n, ok := sysflowv1.OperationFlag_name[bit]; ok {
			names = append(names, strings.TrimPrefix(n, "OPERATION_FLAG_"))
		} else {
			names = append(names, fmt.Sprintf("0x%x", bit))
		}
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, "|")
}

// IPv4 returns the address SysFlow stores as a 32-bit integer (its four bytes in network order,
// read as a little-endian integer).
func IPv4(packed int32) netip.Addr {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(packed))
	return netip.AddrFrom4(b)
}

// endpoint formats one side of a network record.
func endpoint(ip4 int32, ip6 []byte, port int32) string {
	addr := IPv4(ip4)
	if len(ip6) == 16 {
		addr = netip.AddrFrom16([16]byte(ip6))
	}
	return netip.AddrPortFrom(addr, uint16(port)).String()
}

// Summary describes a record's payload in one short line.
func Summary(rec *sysflowv1.Record) string {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_Header:
		h := r.Header
		return fmt.Sprintf("v%d exporter=%s ip=%s file=%s", h.GetVersion(), h.GetExporter(), h.GetIp(), h.GetFilename())
	case *sysflowv1.Record_Container:
		c := r.Container
		return fmt.Sprintf("id=%s name=%s image=%s", c.GetId(), c.GetName(), c.GetImage())
	case *sysflowv1.Record_Process:
		p := r.Process
		return fmt.Sprintf("pid=%d %s %s uid=%d(%s) %s", p.GetOid().GetHpid(), p.GetExe(), p.GetExeArgs(),
			p.GetUid(), p.GetUserName(), strings.TrimPrefix(p.GetState().String(), "OBJECT_STATE_"))
	case *sysflowv1.Record_File:
		return fmt.Sprintf("%s type=%c", r.File.GetPath(), rune(r.File.GetRestype()))
	case *sysflowv1.Record_ProcessEvent:
		e := r.ProcessEvent
		return fmt.Sprintf("pid=%d tid=%d %s args=%v ret=%d", e.GetProcOid().GetHpid(), e.GetTid(), OpFlagsString(e.GetOpFlags()), e.GetArgs(), e.GetRet())
	case *sysflowv1.Record_NetworkFlow:
		f := r.NetworkFlow
		return fmt.Sprintf("pid=%d %s -> %s proto=%d %s rx=%dB tx=%dB", f.GetProcOid().GetHpid(),
			endpoint(f.GetSip(), f.GetSip6(), f.GetSport()), endpoint(f.GetDip(), f.GetDip6(), f.GetDport()),
			f.GetProto(), OpFlagsString(f.GetOpFlags()), f.GetNumRRecvBytes(), f.GetNumWSendBytes())
	case *sysflowv1.Record_FileFlow:
		f := r.FileFlow
		return fmt.Sprintf("pid=%d fd=%d %s r=%dB w=%dB", f.GetProcOid().GetHpid(), f.GetFd(),
			OpFlagsString(f.GetOpFlags()), f.GetNumRRecvBytes(), f.GetNumWSendBytes())
	case *sysflowv1.Record_FileEvent:
		e := r.FileEvent
		return fmt.Sprintf("pid=%d %s ret=%d", e.GetProcOid().GetHpid(), OpFlagsString(e.GetOpFlags()), e.GetRet())
	case *sysflowv1.Record_NetworkEvent:
		e := r.NetworkEvent
		return fmt.Sprintf("pid=%d %s -> %s %s ret=%d", e.GetProcOid().GetHpid(),
			endpoint(e.GetSip(), e.GetSip6(), e.GetSport()), endpoint(e.GetDip(), e.GetDip6(), e.GetDport()),
			OpFlagsString(e.GetOpFlags()), e.GetRet())
	case *sysflowv1.Record_ProcessFlow:
		f := r.ProcessFlow
		return fmt.Sprintf("pid=%d cloned=%d exited=%d errors=%d", f.GetProcOid().GetHpid(),
			f.GetNumThreadsCloned(), f.GetNumThreadsExited(), f.GetNumCloneErrors())
	case *sysflowv1.Record_Pod:
		p := r.Pod
		return fmt.Sprintf("%s/%s node=%s", p.GetNamespace(), p.GetName(), p.GetNodeName())
	case *sysflowv1.Record_K8SEvent:
		e := r.K8SEvent
		return fmt.Sprintf("%s %s", strings.TrimPrefix(e.GetKind().String(), "K8S_COMPONENT_"),
			strings.TrimPrefix(e.GetAction().String(), "K8S_ACTION_"))
	}
	return ""
}

// Time returns a record's time in nanoseconds since the Unix epoch, zero when it has none.
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

// ProcessOID returns the id of the process an event or flow belongs to, nil for other records.
// The process is the Process record of that id: among the entities of a Query page, or the
// closest one before the record in a subscription.
func ProcessOID(rec *sysflowv1.Record) *sysflowv1.OID {
	switch r := rec.GetRec().(type) {
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
