// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"errors"
	"fmt"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// ToNative maps a record to goavro's native form for SysFlow schema version 5: a map holding the
// field rec, a single-entry map from the record type's full name to the record's fields. Every
// field of the schema is present; null unions are nil and other unions single-entry maps keyed
// by the branch's full name. The record's envelope is not part of SysFlow and is dropped.
//
// It returns an error for a record that SysFlow v5 cannot hold: no payload, a required object id
// missing, a file object id that is not 20 bytes, an enum value SysFlow does not define, or an
// IPv6 address (sip6, dip6), a sysflux addition.
func ToNative(rec *sysflowv1.Record) (map[string]any, error) {
	t := TypeOf(rec)
	if t == sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED {
		return nil, errors.New("record has no payload")
	}
	var (
		m   map[string]any
		err error
	)
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_Header:
		m, err = headerToNative(r.Header)
	case *sysflowv1.Record_Container:
		m, err = containerToNative(r.Container)
	case *sysflowv1.Record_Process:
		m, err = processToNative(r.Process)
	case *sysflowv1.Record_File:
		m, err = fileToNative(r.File)
	case *sysflowv1.Record_ProcessEvent:
		m, err = processEventToNative(r.ProcessEvent)
	case *sysflowv1.Record_NetworkFlow:
		m, err = networkFlowToNative(r.NetworkFlow)
	case *sysflowv1.Record_FileFlow:
		m, err = fileFlowToNative(r.FileFlow)
	case *sysflowv1.Record_FileEvent:
		m, err = fileEventToNative(r.FileEvent)
	case *sysflowv1.Record_NetworkEvent:
		m, err = networkEventToNative(r.NetworkEvent)
	case *sysflowv1.Record_ProcessFlow:
		m, err = processFlowToNative(r.ProcessFlow)
	case *sysflowv1.Record_Pod:
		m, err = podToNative(r.Pod)
	case *sysflowv1.Record_K8SEvent:
		m, err = k8sEventToNative(r.K8SEvent)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"rec": map[string]any{typeNames[t]: m}}, nil
}

var errNil = errors.New("missing")

func headerToNative(h *sysflowv1.SFHeader) (map[string]any, error) {
	if h == nil {
		return nil, fmt.Errorf("SFHeader: %w", errNil)
	}
	return map[string]any{
		"version":  h.GetVersion(),
		"exporter": h.GetExporter(),
		"ip":       h.GetIp(),
		"filename": h.GetFilename(),
	}, nil
}

func containerToNative(c *sysflowv1.Container) (map[string]any, error) {
	if c == nil {
		return nil, fmt.Errorf("Container: %w", errNil)
	}
	typ, ok := containerTypes.name(c.GetType())
	if !ok {
		return nil, fmt.Errorf("Container.type: no SysFlow symbol for %v", c.GetType())
	}
	return map[string]any{
		"id":         c.GetId(),
		"name":       c.GetName(),
		"image":      c.GetImage(),
		"imageid":    c.GetImageid(),
		"type":       typ,
		"privileged": c.GetPrivileged(),
		"podId":      nullableString(c.PodId),
	}, nil
}

func processToNative(p *sysflowv1.Process) (map[string]any, error) {
	if p == nil {
		return nil, fmt.Errorf("Process: %w", errNil)
	}
	state, ok := objectStates.name(p.GetState())
	if !ok {
		return nil, fmt.Errorf("Process.state: no SysFlow symbol for %v", p.GetState())
	}
	oid, err := oidToNative("Process.oid", p.GetOid())
	if err != nil {
		return nil, err
	}
	var poid any
	if p.GetPoid() != nil {
		poid = map[string]any{oidName: oidMap(p.GetPoid())}
	}
	return map[string]any{
		"state":       state,
		"oid":         oid,
		"poid":        poid,
		"ts":          p.GetTs(),
		"exe":         p.GetExe(),
		"exeArgs":     p.GetExeArgs(),
		"uid":         p.GetUid(),
		"userName":    p.GetUserName(),
		"gid":         p.GetGid(),
		"groupName":   p.GetGroupName(),
		"tty":         p.GetTty(),
		"containerId": nullableString(p.ContainerId),
		"entry":       p.GetEntry(),
		"cwd":         p.GetCwd(),
		"env":         stringsToNative(p.GetEnv()),
	}, nil
}

func fileToNative(f *sysflowv1.File) (map[string]any, error) {
	if f == nil {
		return nil, fmt.Errorf("File: %w", errNil)
	}
	state, ok := objectStates.name(f.GetState())
	if !ok {
		return nil, fmt.Errorf("File.state: no SysFlow symbol for %v", f.GetState())
	}
	oid, err := foidToNative("File.oid", f.GetOid())
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"state":       state,
		"oid":         oid,
		"ts":          f.GetTs(),
		"restype":     f.GetRestype(),
		"path":        f.GetPath(),
		"containerId": nullableString(f.ContainerId),
	}, nil
}

func processEventToNative(e *sysflowv1.ProcessEvent) (map[string]any, error) {
	if e == nil {
		return nil, fmt.Errorf("ProcessEvent: %w", errNil)
	}
	oid, err := oidToNative("ProcessEvent.procOID", e.GetProcOid())
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"procOID": oid,
		"ts":      e.GetTs(),
		"tid":     e.GetTid(),
		"opFlags": e.GetOpFlags(),
		"args":    stringsToNative(e.GetArgs()),
		"ret":     e.GetRet(),
	}, nil
}

func networkFlowToNative(f *sysflowv1.NetworkFlow) (map[string]any, error) {
	if f == nil {
		return nil, fmt.Errorf("NetworkFlow: %w", errNil)
	}
	if err := noIPv6("NetworkFlow", f.GetSip6(), f.GetDip6()); err != nil {
		return nil, err
	}
	oid, err := oidToNative("NetworkFlow.procOID", f.GetProcOid())
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"procOID":       oid,
		"ts":            f.GetTs(),
		"tid":           f.GetTid(),
		"opFlags":       f.GetOpFlags(),
		"endTs":         f.GetEndTs(),
		"sip":           f.GetSip(),
		"sport":         f.GetSport(),
		"dip":           f.GetDip(),
		"dport":         f.GetDport(),
		"proto":         f.GetProto(),
		"fd":            f.GetFd(),
		"numRRecvOps":   f.GetNumRRecvOps(),
		"numWSendOps":   f.GetNumWSendOps(),
		"numRRecvBytes": f.GetNumRRecvBytes(),
		"numWSendBytes": f.GetNumWSendBytes(),
	}, nil
}

func fileFlowToNative(f *sysflowv1.FileFlow) (map[string]any, error) {
	if f == nil {
		return nil, fmt.Errorf("FileFlow: %w", errNil)
	}
	oid, err := oidToNative("FileFlow.procOID", f.GetProcOid())
	if err != nil {
		return nil, err
	}
	foid, err := foidToNative("FileFlow.fileOID", f.GetFileOid())
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"procOID":       oid,
		"ts":            f.GetTs(),
		"tid":           f.GetTid(),
		"opFlags":       f.GetOpFlags(),
		"openFlags":     f.GetOpenFlags(),
		"endTs":         f.GetEndTs(),
		"fileOID":       foid,
		"fd":            f.GetFd(),
		"numRRecvOps":   f.GetNumRRecvOps(),
		"numWSendOps":   f.GetNumWSendOps(),
		"numRRecvBytes": f.GetNumRRecvBytes(),
		"numWSendBytes": f.GetNumWSendBytes(),
	}, nil
}

func fileEventToNative(e *sysflowv1.FileEvent) (map[string]any, error) {
	if e == nil {
		return nil, fmt.Errorf("FileEvent: %w", errNil)
	}
	oid, err := oidToNative("FileEvent.procOID", e.GetProcOid())
	if err != nil {
		return nil, err
	}
	foid, err := foidToNative("FileEvent.fileOID", e.GetFileOid())
	if err != nil {
		return nil, err
	}
	var newFOID any
	if len(e.GetNewFileOid()) > 0 {
		b, err := foidToNative("FileEvent.newFileOID", e.GetNewFileOid())
		if err != nil {
			return nil, err
		}
		newFOID = map[string]any{foidName: b}
	}
	return map[string]any{
		"procOID":    oid,
		"ts":         e.GetTs(),
		"tid":        e.GetTid(),
		"opFlags":    e.GetOpFlags(),
		"fileOID":    foid,
		"ret":        e.GetRet(),
		"newFileOID": newFOID,
	}, nil
}

func networkEventToNative(e *sysflowv1.NetworkEvent) (map[string]any, error) {
	if e == nil {
		return nil, fmt.Errorf("NetworkEvent: %w", errNil)
	}
	if err := noIPv6("NetworkEvent", e.GetSip6(), e.GetDip6()); err != nil {
		return nil, err
	}
	oid, err := oidToNative("NetworkEvent.procOID", e.GetProcOid())
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"procOID": oid,
		"ts":      e.GetTs(),
		"tid":     e.GetTid(),
		"opFlags": e.GetOpFlags(),
		"sip":     e.GetSip(),
		"sport":   e.GetSport(),
		"dip":     e.GetDip(),
		"dport":   e.GetDport(),
		"proto":   e.GetProto(),
		"ret":     e.GetRet(),
	}, nil
}

func processFlowToNative(f *sysflowv1.ProcessFlow) (map[string]any, error) {
	if f == nil {
		return nil, fmt.Errorf("ProcessFlow: %w", errNil)
	}
	oid, err := oidToNative("ProcessFlow.procOID", f.GetProcOid())
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"procOID":          oid,
		"ts":               f.GetTs(),
		"numThreadsCloned": f.GetNumThreadsCloned(),
		"opFlags":          f.GetOpFlags(),
		"endTs":            f.GetEndTs(),
		"numThreadsExited": f.GetNumThreadsExited(),
		"numCloneErrors":   f.GetNumCloneErrors(),
	}, nil
}

func podToNative(p *sysflowv1.Pod) (map[string]any, error) {
	if p == nil {
		return nil, fmt.Errorf("Pod: %w", errNil)
	}
	services := make([]any, len(p.GetServices()))
	for i, s := range p.GetServices() {
		if s == nil {
			return nil, fmt.Errorf("Pod.services[%d]: %w", i, errNil)
		}
		ports := make([]any, len(s.GetPortList()))
		for j, pt := range s.GetPortList() {
			if pt == nil {
				return nil, fmt.Errorf("Pod.services[%d].portList[%d]: %w", i, j, errNil)
			}
			ports[j] = map[string]any{
				"port":       pt.GetPort(),
				"targetPort": pt.GetTargetPort(),
				"nodePort":   pt.GetNodePort(),
				"proto":      pt.GetProto(),
			}
		}
		services[i] = map[string]any{
			"name":      s.GetName(),
			"id":        s.GetId(),
			"namespace": s.GetNamespace(),
			"portList":  ports,
			"clusterIP": longsToNative(s.GetClusterIps()),
		}
	}
	return map[string]any{
		"ts":           p.GetTs(),
		"id":           p.GetId(),
		"name":         p.GetName(),
		"nodeName":     p.GetNodeName(),
		"hostIP":       longsToNative(p.GetHostIps()),
		"internalIP":   longsToNative(p.GetInternalIps()),
		"namespace":    p.GetNamespace(),
		"restartCount": p.GetRestartCount(),
		"labels":       stringMapToNative(p.GetLabels()),
		"selectors":    stringMapToNative(p.GetSelectors()),
		"services":     services,
	}, nil
}

func k8sEventToNative(e *sysflowv1.K8SEvent) (map[string]any, error) {
	if e == nil {
		return nil, fmt.Errorf("K8sEvent: %w", errNil)
	}
	kind, ok := k8sComponents.name(e.GetKind())
	if !ok {
		return nil, fmt.Errorf("K8sEvent.kind: no SysFlow symbol for %v", e.GetKind())
	}
	action, ok := k8sActions.name(e.GetAction())
	if !ok {
		return nil, fmt.Errorf("K8sEvent.action: no SysFlow symbol for %v", e.GetAction())
	}
	return map[string]any{
		"kind":    kind,
		"action":  action,
		"ts":      e.GetTs(),
		"message": e.GetMessage(),
	}, nil
}

func oidMap(o *sysflowv1.OID) map[string]any {
	return map[string]any{"createTS": o.GetCreateTs(), "hpid": o.GetHpid()}
}

// oidToNative maps a required object id.
func oidToNative(path string, o *sysflowv1.OID) (map[string]any, error) {
	if o == nil {
		return nil, fmt.Errorf("%s: %w", path, errNil)
	}
	return oidMap(o), nil
}

func foidToNative(path string, b []byte) ([]byte, error) {
	if len(b) != foidSize {
		return nil, fmt.Errorf("%s: want %d bytes, got %d", path, foidSize, len(b))
	}
	return b, nil
}

func noIPv6(path string, sip6, dip6 []byte) error {
	if len(sip6) > 0 || len(dip6) > 0 {
		return fmt.Errorf("%s: IPv6 addresses (sip6, dip6) have no place in SysFlow v5", path)
	}
	return nil
}

func nullableString(s *string) any {
	if s == nil {
		return nil
	}
	return map[string]any{stringName: *s}
}

func stringsToNative(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func longsToNative(l []int64) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

func stringMapToNative(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
