// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// FromNative maps one SysFlow datum in goavro's native form, a map[string]any holding the field
// rec, to a record. Every SysFlow schema version maps: a field that an older version lacks takes
// its SysFlow v5 default (SFHeader.ip "NA", SFHeader.filename "", Container.podId null,
// Process.entry false, Process.cwd "", Process.env empty). A long may also be a time.Time, as
// goavro decodes a long with logical type timestamp-millis; it maps back to the long it was
// decoded from.
//
// A datum of the wrong shape (a field missing or of the wrong type, an unknown field, an enum
// symbol SysFlow does not define, a file object id that is not 20 bytes) returns an error that
// names the field, for example "FileFlow.fileOID: want 20 bytes, got 3".
//
// The record's envelope (node_id, agent_id, epoch, seq) is left zero.
func FromNative(datum any) (*sysflowv1.Record, error) {
	d := &decoder{}
	top := d.record("SysFlow", datum)
	branch, v := top.union("rec")
	top.done()
	if d.err != nil {
		return nil, d.err
	}
	if branch == "" {
		return nil, errors.New("SysFlow.rec: want record, got null")
	}
	var rec sysflowv1.Record
	switch branch {
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_HEADER]:
		rec.Rec = &sysflowv1.Record_Header{Header: d.header(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_CONTAINER]:
		rec.Rec = &sysflowv1.Record_Container{Container: d.container(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_PROCESS]:
		rec.Rec = &sysflowv1.Record_Process{Process: d.process(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_FILE]:
		rec.Rec = &sysflowv1.Record_File{File: d.file(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT]:
		rec.Rec = &sysflowv1.Record_ProcessEvent{ProcessEvent: d.processEvent(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW]:
		rec.Rec = &sysflowv1.Record_NetworkFlow{NetworkFlow: d.networkFlow(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW]:
		rec.Rec = &sysflowv1.Record_FileFlow{FileFlow: d.fileFlow(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT]:
		rec.Rec = &sysflowv1.Record_FileEvent{FileEvent: d.fileEvent(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT]:
		rec.Rec = &sysflowv1.Record_NetworkEvent{NetworkEvent: d.networkEvent(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW]:
		rec.Rec = &sysflowv1.Record_ProcessFlow{ProcessFlow: d.processFlow(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_POD]:
		rec.Rec = &sysflowv1.Record_Pod{Pod: d.pod(v)}
	case typeNames[sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT]:
		rec.Rec = &sysflowv1.Record_K8SEvent{K8SEvent: d.k8sEvent(v)}
	default:
		return nil, fmt.Errorf("SysFlow.rec: unknown record type %q", branch)
	}
	if d.err != nil {
		return nil, d.err
	}
	return &rec, nil
}

func (d *decoder) header(v any) *sysflowv1.SFHeader {
	r := d.record("SFHeader", v)
	h := &sysflowv1.SFHeader{
		Version:  r.long("version"),
		Exporter: r.str("exporter"),
		Ip:       r.strOr("ip", "NA"),
		Filename: r.strOr("filename", ""),
	}
	r.done()
	return h
}

func (d *decoder) container(v any) *sysflowv1.Container {
	r := d.record("Container", v)
	c := &sysflowv1.Container{
		Id:         r.str("id"),
		Name:       r.str("name"),
		Image:      r.str("image"),
		Imageid:    r.str("imageid"),
		Type:       enum(&r, "type", containerTypes),
		Privileged: r.boolean("privileged"),
		PodId:      r.nullableString("podId", true),
	}
	r.done()
	return c
}

func (d *decoder) process(v any) *sysflowv1.Process {
	r := d.record("Process", v)
	p := &sysflowv1.Process{
		State:       enum(&r, "state", objectStates),
		Oid:         r.oid("oid"),
		Poid:        r.nullableOID("poid"),
		Ts:          r.long("ts"),
		Exe:         r.str("exe"),
		ExeArgs:     r.str("exeArgs"),
		Uid:         r.int("uid"),
		UserName:    r.str("userName"),
		Gid:         r.int("gid"),
		GroupName:   r.str("groupName"),
		Tty:         r.boolean("tty"),
		ContainerId: r.nullableString("containerId", false),
		Entry:       r.optBoolean("entry"),
		Cwd:         r.strOr("cwd", ""),
		Env:         r.strings("env", true),
	}
	r.done()
	return p
}

func (d *decoder) file(v any) *sysflowv1.File {
	r := d.record("File", v)
	f := &sysflowv1.File{
		State:       enum(&r, "state", objectStates),
		Oid:         r.foid("oid"),
		Ts:          r.long("ts"),
		Restype:     r.int("restype"),
		Path:        r.str("path"),
		ContainerId: r.nullableString("containerId", false),
	}
	r.done()
	return f
}

func (d *decoder) processEvent(v any) *sysflowv1.ProcessEvent {
	r := d.record("ProcessEvent", v)
	e := &sysflowv1.ProcessEvent{
		ProcOid: r.oid("procOID"),
		Ts:      r.long("ts"),
		Tid:     r.long("tid"),
		OpFlags: r.int("opFlags"),
		Args:    r.strings("args", false),
		Ret:     r.int("ret"),
	}
	r.done()
	return e
}

func (d *decoder) networkFlow(v any) *sysflowv1.NetworkFlow {
	r := d.record("NetworkFlow", v)
	f := &sysflowv1.NetworkFlow{
		ProcOid:       r.oid("procOID"),
		Ts:            r.long("ts"),
		Tid:           r.long("tid"),
		OpFlags:       r.int("opFlags"),
		EndTs:         r.long("endTs"),
		Sip:           r.int("sip"),
		Sport:         r.int("sport"),
		Dip:           r.int("dip"),
		Dport:         r.int("dport"),
		Proto:         r.int("proto"),
		Fd:            r.int("fd"),
		NumRRecvOps:   r.long("numRRecvOps"),
		NumWSendOps:   r.long("numWSendOps"),
		NumRRecvBytes: r.long("numRRecvBytes"),
		NumWSendBytes: r.long("numWSendBytes"),
	}
	r.done()
	return f
}

func (d *decoder) fileFlow(v any) *sysflowv1.FileFlow {
	r := d.record("FileFlow", v)
	f := &sysflowv1.FileFlow{
		ProcOid:       r.oid("procOID"),
		Ts:            r.long("ts"),
		Tid:           r.long("tid"),
		OpFlags:       r.int("opFlags"),
		OpenFlags:     r.int("openFlags"),
		EndTs:         r.long("endTs"),
		FileOid:       r.foid("fileOID"),
		Fd:            r.int("fd"),
		NumRRecvOps:   r.long("numRRecvOps"),
		NumWSendOps:   r.long("numWSendOps"),
		NumRRecvBytes: r.long("numRRecvBytes"),
		NumWSendBytes: r.long("numWSendBytes"),
	}
	r.done()
	return f
}

func (d *decoder) fileEvent(v any) *sysflowv1.FileEvent {
	r := d.record("FileEvent", v)
	e := &sysflowv1.FileEvent{
		ProcOid:    r.oid("procOID"),
		Ts:         r.long("ts"),
		Tid:        r.long("tid"),
		OpFlags:    r.int("opFlags"),
		FileOid:    r.foid("fileOID"),
		Ret:        r.int("ret"),
		NewFileOid: r.nullableFOID("newFileOID"),
	}
	r.done()
	return e
}

func (d *decoder) networkEvent(v any) *sysflowv1.NetworkEvent {
	r := d.record("NetworkEvent", v)
	e := &sysflowv1.NetworkEvent{
		ProcOid: r.oid("procOID"),
		Ts:      r.long("ts"),
		Tid:     r.long("tid"),
		OpFlags: r.int("opFlags"),
		Sip:     r.int("sip"),
		Sport:   r.int("sport"),
		Dip:     r.int("dip"),
		Dport:   r.int("dport"),
		Proto:   r.int("proto"),
		Ret:     r.int("ret"),
	}
	r.done()
	return e
}

func (d *decoder) processFlow(v any) *sysflowv1.ProcessFlow {
	r := d.record("ProcessFlow", v)
	f := &sysflowv1.ProcessFlow{
		ProcOid:          r.oid("procOID"),
		Ts:               r.long("ts"),
		NumThreadsCloned: r.long("numThreadsCloned"),
		OpFlags:          r.int("opFlags"),
		EndTs:            r.long("endTs"),
		NumThreadsExited: r.long("numThreadsExited"),
		NumCloneErrors:   r.long("numCloneErrors"),
	}
	r.done()
	return f
}

func (d *decoder) pod(v any) *sysflowv1.Pod {
	r := d.record("Pod", v)
	p := &sysflowv1.Pod{
		Ts:           r.long("ts"),
		Id:           r.str("id"),
		Name:         r.str("name"),
		NodeName:     r.str("nodeName"),
		HostIps:      r.longs("hostIP"),
		InternalIps:  r.longs("internalIP"),
		Namespace:    r.str("namespace"),
		RestartCount: r.long("restartCount"),
		Labels:       r.stringMap("labels"),
		Selectors:    r.stringMap("selectors"),
	}
	path, items := r.array("services")
	for i, item := range items {
		s := d.record(fmt.Sprintf("%s[%d]", path, i), item)
		svc := &sysflowv1.Service{
			Name:      s.str("name"),
			Id:        s.str("id"),
			Namespace: s.str("namespace"),
		}
		portsPath, ports := s.array("portList")
		for j, port := range ports {
			pr := d.record(fmt.Sprintf("%s[%d]", portsPath, j), port)
			svc.PortList = append(svc.PortList, &sysflowv1.Port{
				Port:       pr.int("port"),
				TargetPort: pr.int("targetPort"),
				NodePort:   pr.int("nodePort"),
				Proto:      pr.str("proto"),
			})
			pr.done()
		}
		svc.ClusterIps = s.longs("clusterIP")
		s.done()
		p.Services = append(p.Services, svc)
	}
	r.done()
	return p
}

func (d *decoder) k8sEvent(v any) *sysflowv1.K8SEvent {
	r := d.record("K8sEvent", v)
	e := &sysflowv1.K8SEvent{
		Kind:    enum(&r, "kind", k8sComponents),
		Action:  enum(&r, "action", k8sActions),
		Ts:      r.long("ts"),
		Message: r.str("message"),
	}
	r.done()
	return e
}

// decoder keeps the first error of a mapping, so that the mapping of a record reads as a list of
// its fields.
type decoder struct {
	err error
}

func (d *decoder) fail(path, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

// fields reads the fields of one Avro record in native form. It remembers which fields it read,
// so that done can report a field the mapping does not know, which would otherwise be lost.
type fields struct {
	d     *decoder
	path  string
	m     map[string]any
	n     int        // number of fields read
	names [16]string // the first len(names) fields read
}

func (d *decoder) record(path string, v any) fields {
	m, ok := v.(map[string]any)
	if !ok && d.err == nil {
		d.fail(path, "want record, got %s", typeName(v))
	}
	return fields{d: d, path: path, m: m}
}

// field returns the field name. A missing field fails when it is required.
func (r *fields) field(name string, required bool) (any, bool) {
	v, ok := r.m[name]
	if !ok {
		if required && r.m != nil {
			r.d.fail(r.path+"."+name, "missing")
		}
		return nil, false
	}
	if r.n < len(r.names) {
		r.names[r.n] = name
	}
	r.n++
	return v, true
}

// done fails when the record has a field that was not read.
func (r *fields) done() {
	if r.n == len(r.m) {
		return
	}
	var unknown []string
	for k := range r.m {
		if !slices.Contains(r.names[:min(r.n, len(r.names))], k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	r.d.fail(r.path, "unknown fields %q", unknown)
}

func (r *fields) long(name string) int64 {
	v, ok := r.field(name, true)
	if !ok {
		return 0
	}
	switch x := v.(type) {
	case int64:
		return x
	case time.Time:
		// goavro decodes a long l with logical type timestamp-millis as
		// time.Unix(l/1e3, l%1e3*1e6); UnixMilli inverts that for every int64 (where it
		// overflows it wraps around exactly back to l).
		return x.UnixMilli()
	}
	r.d.fail(r.path+"."+name, "want long, got %s", typeName(v))
	return 0
}

func (r *fields) int(name string) int32 {
	v, ok := r.field(name, true)
	if !ok {
		return 0
	}
	x, ok := v.(int32)
	if !ok {
		r.d.fail(r.path+"."+name, "want int, got %s", typeName(v))
	}
	return x
}

func (r *fields) boolean(name string) bool {
	v, ok := r.field(name, true)
	if !ok {
		return false
	}
	x, ok := v.(bool)
	if !ok {
		r.d.fail(r.path+"."+name, "want boolean, got %s", typeName(v))
	}
	return x
}

// optBoolean reads a boolean field that older schema versions lack, false when absent.
func (r *fields) optBoolean(name string) bool {
	if _, ok := r.m[name]; !ok {
		return false
	}
	return r.boolean(name)
}

func (r *fields) str(name string) string {
	v, ok := r.field(name, true)
	if !ok {
		return ""
	}
	x, ok := v.(string)
	if !ok {
		r.d.fail(r.path+"."+name, "want string, got %s", typeName(v))
	}
	return x
}

// strOr reads a string field that older schema versions lack, def when absent.
func (r *fields) strOr(name, def string) string {
	if _, ok := r.m[name]; !ok {
		return def
	}
	return r.str(name)
}

// union reads a union field: the branch name and value, or "" and nil for null.
func (r *fields) union(name string) (string, any) {
	v, ok := r.field(name, true)
	if !ok || v == nil {
		return "", nil
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for branch, bv := range m {
			return branch, bv
		}
	}
	r.d.fail(r.path+"."+name, "want union, got %s", typeName(v))
	return "", nil
}

// nullable reads a union of null and the type want: the value, or nil for null.
func (r *fields) nullable(name, want string) any {
	branch, v := r.union(name)
	if branch != "" && branch != want {
		r.d.fail(r.path+"."+name, "want union branch null or %s, got %s", want, branch)
		return nil
	}
	return v
}

// nullableString reads a union of null and string; old reports whether older schema versions
// lack the field, which then reads as null.
func (r *fields) nullableString(name string, old bool) *string {
	if _, ok := r.m[name]; !ok && old {
		return nil
	}
	v := r.nullable(name, stringName)
	if v == nil {
		return nil
	}
	x, ok := v.(string)
	if !ok {
		r.d.fail(r.path+"."+name, "want string, got %s", typeName(v))
		return nil
	}
	return &x
}

func (r *fields) oid(name string) *sysflowv1.OID {
	v, ok := r.field(name, true)
	if !ok {
		return nil
	}
	return r.d.oid(r.path+"."+name, v)
}

func (r *fields) nullableOID(name string) *sysflowv1.OID {
	v := r.nullable(name, oidName)
	if v == nil {
		return nil
	}
	return r.d.oid(r.path+"."+name, v)
}

func (d *decoder) oid(path string, v any) *sysflowv1.OID {
	o := d.record(path, v)
	oid := &sysflowv1.OID{CreateTs: o.long("createTS"), Hpid: o.long("hpid")}
	o.done()
	return oid
}

func (r *fields) foid(name string) []byte {
	v, ok := r.field(name, true)
	if !ok {
		return nil
	}
	return r.d.foid(r.path+"."+name, v)
}

// nullableFOID reads a union of null and FOID; null reads as empty.
func (r *fields) nullableFOID(name string) []byte {
	v := r.nullable(name, foidName)
	if v == nil {
		return nil
	}
	return r.d.foid(r.path+"."+name, v)
}

// foid copies a file object id, so that the record does not keep goavro's block buffer alive.
func (d *decoder) foid(path string, v any) []byte {
	b, ok := v.([]byte)
	if !ok {
		d.fail(path, "want fixed, got %s", typeName(v))
		return nil
	}
	if len(b) != foidSize {
		d.fail(path, "want %d bytes, got %d", foidSize, len(b))
		return nil
	}
	return bytes.Clone(b)
}

// array reads an array field, returning its path for the errors of its items.
func (r *fields) array(name string) (string, []any) {
	path := r.path + "." + name
	v, ok := r.field(name, true)
	if !ok {
		return path, nil
	}
	a, ok := v.([]any)
	if !ok {
		r.d.fail(path, "want array, got %s", typeName(v))
	}
	return path, a
}

// strings reads an array of strings; old reports whether older schema versions lack the field,
// which then reads as empty.
func (r *fields) strings(name string, old bool) []string {
	if _, ok := r.m[name]; !ok && old {
		return nil
	}
	path, a := r.array(name)
	if len(a) == 0 {
		return nil
	}
	out := make([]string, len(a))
	for i, item := range a {
		s, ok := item.(string)
		if !ok {
			r.d.fail(fmt.Sprintf("%s[%d]", path, i), "want string, got %s", typeName(item))
			return nil
		}
		out[i] = s
	}
	return out
}

func (r *fields) longs(name string) []int64 {
	path, a := r.array(name)
	if len(a) == 0 {
		return nil
	}
	out := make([]int64, len(a))
	for i, item := range a {
		l, ok := item.(int64)
		if !ok {
			r.d.fail(fmt.Sprintf("%s[%d]", path, i), "want long, got %s", typeName(item))
			return nil
		}
		out[i] = l
	}
	return out
}

func (r *fields) stringMap(name string) map[string]string {
	path := r.path + "." + name
	v, ok := r.field(name, true)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.d.fail(path, "want map, got %s", typeName(v))
		return nil
	}
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, item := range m {
		s, ok := item.(string)
		if !ok {
			r.d.fail(fmt.Sprintf("%s[%q]", path, k), "want string, got %s", typeName(item))
			return nil
		}
		out[k] = s
	}
	return out
}

// enum reads an enum field by its symbol.
func enum[E ~int32](r *fields, name string, s symbols[E]) E {
	v, ok := r.field(name, true)
	if !ok {
		return 0
	}
	sym, ok := v.(string)
	if !ok {
		r.d.fail(r.path+"."+name, "want enum symbol, got %s", typeName(v))
		return 0
	}
	e, ok := s.value(sym)
	if !ok {
		r.d.fail(r.path+"."+name, "unknown symbol %q", sym)
	}
	return e
}

// typeName names the Go type of a native value for error messages.
func typeName(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
