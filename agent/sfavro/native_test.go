// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// testRecords returns one record of every type with every field set, including the types no
// fixture holds (NetworkEvent, ProcessFlow).
func testRecords() map[sysflowv1.RecordType]*sysflowv1.Record {
	oid := &sysflowv1.OID{CreateTs: 1647543894672412244, Hpid: 57312}
	foid := []byte("0123456789abcdefghij")
	newFOID := []byte("abcdefghij0123456789")
	str := func(s string) *string { return &s }
	return map[sysflowv1.RecordType]*sysflowv1.Record{
		sysflowv1.RecordType_RECORD_TYPE_HEADER: {Rec: &sysflowv1.Record_Header{Header: &sysflowv1.SFHeader{
			Version: 5, Exporter: "node1", Ip: "10.0.0.1", Filename: "/mnt/data/1647544455"}}},
		sysflowv1.RecordType_RECORD_TYPE_CONTAINER: {Rec: &sysflowv1.Record_Container{Container: &sysflowv1.Container{
			Id: "47a2351d842b", Name: "apiserver", Image: "k8s/apiserver:v1", Imageid: "f40be0088a83",
			Type: sysflowv1.ContainerType_CONTAINER_TYPE_CRIO, Privileged: true, PodId: str("c75101e7")}}},
		sysflowv1.RecordType_RECORD_TYPE_PROCESS: {Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{
			State: sysflowv1.ObjectState_OBJECT_STATE_MODIFIED, Oid: oid,
			Poid: &sysflowv1.OID{CreateTs: 1647543371590273303, Hpid: 55497}, Ts: 1647544460271985607,
			Exe: "/bin/sh", ExeArgs: "-c true", Uid: 1000, UserName: "alice", Gid: 100, GroupName: "users",
			Tty: true, ContainerId: str("47a2351d842b"), Entry: true, Cwd: "/home/alice",
			Env: []string{"HOME=/home/alice", "TERM=xterm"}}}},
		sysflowv1.RecordType_RECORD_TYPE_FILE: {Rec: &sysflowv1.Record_File{File: &sysflowv1.File{
			State: sysflowv1.ObjectState_OBJECT_STATE_CREATED, Oid: foid, Ts: 1647542835998799918,
			Restype: 'f', Path: "/etc/passwd", ContainerId: str("47a2351d842b")}}},
		sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT: {Rec: &sysflowv1.Record_ProcessEvent{ProcessEvent: &sysflowv1.ProcessEvent{
			ProcOid: oid, Ts: 1647544460271985607, Tid: 57313, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_SETUID),
			Args: []string{"0"}, Ret: -1}}},
		sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW: {Rec: &sysflowv1.Record_NetworkFlow{NetworkFlow: &sysflowv1.NetworkFlow{
			ProcOid: oid, Ts: 1647544455672150416, Tid: 4741, OpFlags: 1856, EndTs: 1647544455674046772,
			Sip: 16777343, Sport: 52852, Dip: -1062731519, Dport: 8080, Proto: 6, Fd: 13,
			NumRRecvOps: 2, NumWSendOps: 1, NumRRecvBytes: 118, NumWSendBytes: 92}}},
		sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW: {Rec: &sysflowv1.Record_FileFlow{FileFlow: &sysflowv1.FileFlow{
			ProcOid: oid, Ts: 1647544455002529691, Tid: 57587, OpFlags: 1408, OpenFlags: 4097,
			EndTs: 1647544455003116372, FileOid: foid, Fd: 49, NumRRecvOps: 1, NumWSendOps: 3,
			NumRRecvBytes: 324, NumWSendBytes: 5}}},
		sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT: {Rec: &sysflowv1.Record_FileEvent{FileEvent: &sysflowv1.FileEvent{
			ProcOid: oid, Ts: 1647544460950614275, Tid: 57582, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_RENAME),
			FileOid: foid, Ret: 0, NewFileOid: newFOID}}},
		sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT: {Rec: &sysflowv1.Record_NetworkEvent{NetworkEvent: &sysflowv1.NetworkEvent{
			ProcOid: oid, Ts: 1647544460950614275, Tid: 57582, OpFlags: int32(sysflowv1.OperationFlag_OPERATION_FLAG_CONNECT),
			Sip: 16777343, Sport: 40556, Dip: 16777343, Dport: 8080, Proto: 6, Ret: -111}}},
		sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW: {Rec: &sysflowv1.Record_ProcessFlow{ProcessFlow: &sysflowv1.ProcessFlow{
			ProcOid: oid, Ts: 1647544460950614275, NumThreadsCloned: 4, OpFlags: 5, EndTs: 1647544461950614275,
			NumThreadsExited: 3, NumCloneErrors: 1}}},
		sysflowv1.RecordType_RECORD_TYPE_POD: {Rec: &sysflowv1.Record_Pod{Pod: &sysflowv1.Pod{
			Ts: 1647542837816575000, Id: "c75101e7", Name: "web-0", NodeName: "minikube",
			HostIps: []int64{1681631424}, InternalIps: []int64{1681631424, 16777343}, Namespace: "default",
			RestartCount: 2, Labels: map[string]string{"app": "web", "tier": "front"},
			Selectors: map[string]string{"disk": "ssd"},
			Services: []*sysflowv1.Service{
				{Name: "web", Id: "s1", Namespace: "default", ClusterIps: []int64{167772161},
					PortList: []*sysflowv1.Port{{Port: 80, TargetPort: 8080, NodePort: 30080, Proto: "TCP"},
						{Port: 53, TargetPort: 53, Proto: "UDP"}}},
				{Name: "headless", Id: "s2", Namespace: "default"},
			}}}},
		sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT: {Rec: &sysflowv1.Record_K8SEvent{K8SEvent: &sysflowv1.K8SEvent{
			Kind: sysflowv1.K8SComponent_K8S_COMPONENT_PODS, Action: sysflowv1.K8SAction_K8S_ACTION_COMPONENT_MODIFIED,
			Ts: 1647544460950614275, Message: `{"kind":"Pod"}`}}},
	}
}

// schemaTypes parses an Avro schema and indexes its named types by full name.
type schemaTypes struct {
	root  any
	named map[string]map[string]any
}

func parseSchema(t testing.TB, schema []byte) *schemaTypes {
	t.Helper()
	s := &schemaTypes{named: make(map[string]map[string]any)}
	if err := json.Unmarshal(schema, &s.root); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	var walk func(v any, ns string)
	walk = func(v any, ns string) {
		switch x := v.(type) {
		case []any:
			for _, b := range x {
				walk(b, ns)
			}
		case map[string]any:
			if name, ok := x["name"].(string); ok && (x["type"] == "record" || x["type"] == "enum" || x["type"] == "fixed") {
				if n, ok := x["namespace"].(string); ok {
					ns = n
				}
				full := fullName(name, ns)
				s.named[full] = x
				ns = full[:strings.LastIndex(full, ".")]
			}
			if fields, ok := x["fields"].([]any); ok {
				for _, f := range fields {
					walk(f.(map[string]any)["type"], ns)
				}
			}
			if items, ok := x["items"]; ok {
				walk(items, ns)
			}
			if values, ok := x["values"]; ok {
				walk(values, ns)
			}
		}
	}
	walk(s.root, "")
	return s
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

// upgrade converts a native datum of any SysFlow schema version to the datum schema v5 reads
// for it: fields the datum lacks take the field's default, or, where the schema declares none,
// the zero of the field's type (SysFlow's writers fill cwd, env, filename and podId that way);
// timestamp-millis time.Time values become the longs they were decoded from. It is the test's
// own model of Avro schema resolution and shares no code with the package.
func (s *schemaTypes) upgrade(t testing.TB, typ any, ns string, v any) any {
	switch x := typ.(type) {
	case string:
		if named, ok := s.named[fullName(x, ns)]; ok {
			return s.upgrade(t, named, ns, v)
		}
		if named, ok := s.named[x]; ok {
			return s.upgrade(t, named, ns, v)
		}
		if tm, ok := v.(time.Time); ok && x == "long" {
			return tm.UnixMilli()
		}
		return v
	case []any: // union
		if v == nil {
			return nil
		}
		m := v.(map[string]any)
		for branch, bv := range m {
			for _, b := range x {
				if name := typeNameOf(b, ns); name == branch {
					return map[string]any{branch: s.upgrade(t, b, ns, bv)}
				}
			}
			t.Fatalf("upgrade: union %v has no branch %s", x, branch)
		}
		return v
	case map[string]any:
		switch x["type"] {
		case "record":
			if n, ok := x["namespace"].(string); ok {
				ns = n
			}
			m := v.(map[string]any)
			out := make(map[string]any, len(m))
			for _, f := range x["fields"].([]any) {
				field := f.(map[string]any)
				name := field["name"].(string)
				if fv, ok := m[name]; ok {
					out[name] = s.upgrade(t, field["type"], ns, fv)
				} else {
					out[name] = s.defaultOf(t, field)
				}
			}
			return out
		case "array":
			a := v.([]any)
			out := make([]any, len(a))
			for i, item := range a {
				out[i] = s.upgrade(t, x["items"], ns, item)
			}
			return out
		case "map":
			m := v.(map[string]any)
			out := make(map[string]any, len(m))
			for k, item := range m {
				out[k] = s.upgrade(t, x["values"], ns, item)
			}
			return out
		case "enum", "fixed":
			return v
		default:
			return s.upgrade(t, x["type"], ns, v)
		}
	}
	t.Fatalf("upgrade: unknown schema %v", typ)
	return nil
}

func typeNameOf(typ any, ns string) string {
	switch x := typ.(type) {
	case string:
		if x == "null" || x == "string" || x == "long" || x == "int" || x == "boolean" || x == "bytes" {
			return x
		}
		return fullName(x, ns)
	case map[string]any:
		if n, ok := x["namespace"].(string); ok {
			ns = n
		}
		return fullName(x["name"].(string), ns)
	}
	return ""
}

func (s *schemaTypes) defaultOf(t testing.TB, field map[string]any) any {
	typ := field["type"]
	d, hasDefault := field["default"]
	switch x := typ.(type) {
	case string:
		switch x {
		case "long":
			if hasDefault {
				return int64(d.(float64))
			}
			return int64(0)
		case "string":
			if hasDefault {
				return d.(string)
			}
			return ""
		case "boolean":
			if hasDefault {
				return d.(bool)
			}
			return false
		}
	case []any:
		if x[0] == "null" {
			return nil
		}
	case map[string]any:
		if x["type"] == "array" {
			return []any{}
		}
	}
	t.Fatalf("no default for field %v", field)
	return nil
}

func TestRoundTrip(t *testing.T) {
	schema, err := os.ReadFile(schemaV5)
	if err != nil {
		t.Fatal(err)
	}
	v5 := parseSchema(t, schema)
	codec := v5Codec(t)
	for _, path := range traceFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, _ := nativeData(t, path)
			for i, d := range data {
				rec, err := FromNative(d)
				if err != nil {
					t.Fatalf("FromNative(datum %d): %v", i, err)
				}
				got, err := ToNative(rec)
				if err != nil {
					t.Fatalf("ToNative(FromNative(datum %d)): %v", i, err)
				}
				want := v5.upgrade(t, v5.root, "", d)
				if diff := cmp.Diff(want, any(got)); diff != "" {
					t.Fatalf("ToNative(FromNative(datum %d)) differs from the datum upgraded to v5 (-want +got):\n%s", i, diff)
				}
				bin, err := codec.BinaryFromNative(nil, got)
				if err != nil {
					t.Fatalf("v5 BinaryFromNative(ToNative(datum %d)): %v", i, err)
				}
				back, rest, err := codec.NativeFromBinary(bin)
				if err != nil || len(rest) != 0 {
					t.Fatalf("v5 NativeFromBinary(datum %d): %v, %d bytes left", i, err, len(rest))
				}
				if diff := cmp.Diff(any(got), back); diff != "" {
					t.Fatalf("datum %d through v5 binary (-ToNative +decoded):\n%s", i, diff)
				}
			}
		})
	}
}

func TestRoundTripRecords(t *testing.T) {
	// Every type, every field set, through ToNative, v5 binary and FromNative.
	codec := v5Codec(t)
	for typ, rec := range testRecords() {
		t.Run(typ.String(), func(t *testing.T) {
			if got := TypeOf(rec); got != typ {
				t.Errorf("TypeOf(%v) = %v, want %v", rec, got, typ)
			}
			n, err := ToNative(rec)
			if err != nil {
				t.Fatalf("ToNative(%v): %v", rec, err)
			}
			bin, err := codec.BinaryFromNative(nil, n)
			if err != nil {
				t.Fatalf("BinaryFromNative(ToNative(%v)): %v", rec, err)
			}
			d, _, err := codec.NativeFromBinary(bin)
			if err != nil {
				t.Fatalf("NativeFromBinary: %v", err)
			}
			got, err := FromNative(d)
			if err != nil {
				t.Fatalf("FromNative(%v): %v", d, err)
			}
			if diff := cmp.Diff(rec, got, protocmp.Transform()); diff != "" {
				t.Errorf("record through v5 binary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnumSymbols(t *testing.T) {
	// The tables must list schema v5's symbols in order, and symbol i must name proto value i+1.
	schema, err := os.ReadFile(schemaV5)
	if err != nil {
		t.Fatal(err)
	}
	v5 := parseSchema(t, schema)
	symbolsOf := func(name string) []string {
		var out []string
		for _, s := range v5.named[name]["symbols"].([]any) {
			out = append(out, s.(string))
		}
		return out
	}
	tests := []struct {
		avro   string
		got    []string
		prefix string // the Avro symbols' prefix, replaced by protoPrefix
		proto  string
		values map[string]int32
	}{
		{avro: "sysflow.type.ContainerType", got: containerTypes.names, prefix: "CT_", proto: "CONTAINER_TYPE_", values: sysflowv1.ContainerType_value},
		{avro: "sysflow.type.SFObjectState", got: objectStates.names, prefix: "", proto: "OBJECT_STATE_", values: sysflowv1.ObjectState_value},
		{avro: "sysflow.type.K8sComponent", got: k8sComponents.names, prefix: "K8S_", proto: "K8S_COMPONENT_", values: sysflowv1.K8SComponent_value},
		{avro: "sysflow.type.K8sAction", got: k8sActions.names, prefix: "K8S_", proto: "K8S_ACTION_", values: sysflowv1.K8SAction_value},
	}
	for _, tt := range tests {
		want := symbolsOf(tt.avro)
		if diff := cmp.Diff(want, tt.got); diff != "" {
			t.Errorf("symbols of %s (-schema +table):\n%s", tt.avro, diff)
		}
		if len(tt.values) != len(want)+1 {
			t.Errorf("%s: proto enum has %d values, want %d symbols + UNSPECIFIED", tt.avro, len(tt.values), len(want))
		}
		for i, sym := range want {
			name := tt.proto + strings.TrimPrefix(sym, tt.prefix)
			if v, ok := tt.values[name]; !ok || v != int32(i+1) {
				t.Errorf("%s symbol %s (index %d): proto %s = %d (defined %t), want %d", tt.avro, sym, i, name, v, ok, i+1)
			}
		}
	}
}

// sampleData returns the first native datum of every record type in the fixtures, and a v5
// datum for the types no fixture holds.
func sampleData(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := make(map[string]map[string]any)
	for _, path := range traceFiles(t) {
		data, _ := nativeData(t, path)
		for _, d := range data {
			for branch := range d.(map[string]any)["rec"].(map[string]any) {
				if _, ok := out[branch]; !ok {
					out[branch] = d.(map[string]any)
				}
			}
		}
	}
	for _, rec := range testRecords() {
		n := native(t, rec)
		for branch := range n["rec"].(map[string]any) {
			if _, ok := out[branch]; !ok {
				out[branch] = n
			}
		}
	}
	return out
}

// deepCopy copies a native datum, so that a test can change it.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func TestFromNativeWrongField(t *testing.T) {
	// Every field of every record type, replaced by a value of no Avro type, deleted, or joined
	// by an unknown field, must make FromNative fail naming the field, except deleting the fields
	// older schema versions lack.
	old := map[string]bool{"SFHeader.ip": true, "SFHeader.filename": true, "Container.podId": true,
		"Process.entry": true, "Process.cwd": true, "Process.env": true}
	for branch, d := range sampleData(t) {
		short := branch[strings.LastIndex(branch, ".")+1:]
		fieldNames := d["rec"].(map[string]any)[branch].(map[string]any)
		for name := range fieldNames {
			path := short + "." + name
			t.Run(path, func(t *testing.T) {
				mutated := deepCopy(d).(map[string]any)
				fields := mutated["rec"].(map[string]any)[branch].(map[string]any)
				fields[name] = struct{}{}
				_, err := FromNative(mutated)
				if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
					t.Errorf("FromNative(%s = struct{}{}) error = %v, want one starting with %q", path, err, path+": ")
				}
				delete(fields, name)
				_, err = FromNative(mutated)
				if old[path] {
					if err != nil {
						t.Errorf("FromNative(%s deleted) error = %v, want nil", path, err)
					}
				} else if want := path + ": missing"; err == nil || err.Error() != want {
					t.Errorf("FromNative(%s deleted) error = %v, want %q", path, err, want)
				}
			})
		}
		t.Run(short+" unknown field", func(t *testing.T) {
			mutated := deepCopy(d).(map[string]any)
			mutated["rec"].(map[string]any)[branch].(map[string]any)["zz"] = int64(1)
			_, err := FromNative(mutated)
			if want := short + `: unknown fields ["zz"]`; err == nil || err.Error() != want {
				t.Errorf("FromNative(%s with field zz) error = %v, want %q", short, err, want)
			}
		})
	}
}

func TestFromNativeErrors(t *testing.T) {
	valid := func(typ sysflowv1.RecordType) map[string]any {
		return native(t, testRecords()[typ])
	}
	fieldsOf := func(d map[string]any) map[string]any {
		for _, f := range d["rec"].(map[string]any) {
			return f.(map[string]any)
		}
		return nil
	}
	tests := []struct {
		name  string
		datum func() any
		want  string
	}{
		{name: "nil", datum: func() any { return nil }, want: "SysFlow: want record, got null"},
		{name: "not a record", datum: func() any { return "x" }, want: "SysFlow: want record, got string"},
		{name: "no rec", datum: func() any { return map[string]any{} }, want: "SysFlow.rec: missing"},
		{name: "rec null", datum: func() any { return map[string]any{"rec": nil} }, want: "SysFlow.rec: want record, got null"},
		{name: "rec not a union", datum: func() any { return map[string]any{"rec": "x"} }, want: "SysFlow.rec: want union, got string"},
		{name: "rec two branches", datum: func() any {
			return map[string]any{"rec": map[string]any{"a": 1, "b": 2}}
		}, want: "SysFlow.rec: want union, got map[string]interface {}"},
		{name: "unknown record type", datum: func() any {
			return map[string]any{"rec": map[string]any{"sysflow.entity.Thread": map[string]any{}}}
		}, want: `SysFlow.rec: unknown record type "sysflow.entity.Thread"`},
		{name: "extra top-level field", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_HEADER)
			d["more"] = 1
			return d
		}, want: `SysFlow: unknown fields ["more"]`},
		{name: "short FOID", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW)
			fieldsOf(d)["fileOID"] = []byte{1, 2, 3}
			return d
		}, want: "FileFlow.fileOID: want 20 bytes, got 3"},
		{name: "long FOID", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_FILE)
			fieldsOf(d)["oid"] = make([]byte, 21)
			return d
		}, want: "File.oid: want 20 bytes, got 21"},
		{name: "newFileOID wrong branch", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT)
			fieldsOf(d)["newFileOID"] = map[string]any{"bytes": []byte{1}}
			return d
		}, want: "FileEvent.newFileOID: want union branch null or sysflow.type.FOID, got bytes"},
		{name: "newFileOID short", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT)
			fieldsOf(d)["newFileOID"] = map[string]any{"sysflow.type.FOID": []byte{1}}
			return d
		}, want: "FileEvent.newFileOID: want 20 bytes, got 1"},
		{name: "containerId not a union", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_PROCESS)
			fieldsOf(d)["containerId"] = "47a2351d842b"
			return d
		}, want: "Process.containerId: want union, got string"},
		{name: "containerId branch of wrong type", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_FILE)
			fieldsOf(d)["containerId"] = map[string]any{"string": int64(1)}
			return d
		}, want: "File.containerId: want string, got int64"},
		{name: "poid field of wrong type", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_PROCESS)
			fieldsOf(d)["poid"] = map[string]any{"sysflow.type.OID": map[string]any{"createTS": int64(1), "hpid": int32(1)}}
			return d
		}, want: "Process.poid.hpid: want long, got int32"},
		{name: "oid with extra field", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT)
			fieldsOf(d)["procOID"] = map[string]any{"createTS": int64(1), "hpid": int64(1), "tid": int64(1)}
			return d
		}, want: `ProcessEvent.procOID: unknown fields ["tid"]`},
		{name: "unknown enum symbol", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_CONTAINER)
			fieldsOf(d)["type"] = "CT_PODMAN"
			return d
		}, want: `Container.type: unknown symbol "CT_PODMAN"`},
		{name: "enum as index", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT)
			fieldsOf(d)["action"] = int32(1)
			return d
		}, want: "K8sEvent.action: want enum symbol, got int32"},
		{name: "int as long", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW)
			fieldsOf(d)["sport"] = int64(80)
			return d
		}, want: "NetworkFlow.sport: want int, got int64"},
		{name: "env item not a string", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_PROCESS)
			fieldsOf(d)["env"] = []any{"A=1", int64(2)}
			return d
		}, want: "Process.env[1]: want string, got int64"},
		{name: "hostIP item not a long", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_POD)
			fieldsOf(d)["hostIP"] = []any{"10.0.0.1"}
			return d
		}, want: "Pod.hostIP[0]: want long, got string"},
		{name: "label not a string", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_POD)
			fieldsOf(d)["labels"] = map[string]any{"app": int64(1)}
			return d
		}, want: `Pod.labels["app"]: want string, got int64`},
		{name: "service not a record", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_POD)
			fieldsOf(d)["services"] = []any{"web"}
			return d
		}, want: "Pod.services[0]: want record, got string"},
		{name: "port of wrong type", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_POD)
			svc := fieldsOf(d)["services"].([]any)[0].(map[string]any)
			svc["portList"].([]any)[1].(map[string]any)["nodePort"] = "30080"
			return d
		}, want: "Pod.services[0].portList[1].nodePort: want int, got string"},
		{name: "cluster IP missing", datum: func() any {
			d := valid(sysflowv1.RecordType_RECORD_TYPE_POD)
			delete(fieldsOf(d)["services"].([]any)[1].(map[string]any), "clusterIP")
			return d
		}, want: "Pod.services[1].clusterIP: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.datum()
			rec, err := FromNative(d)
			if err == nil || err.Error() != tt.want {
				t.Errorf("FromNative(%v) = %v, %v; want error %q", d, rec, err, tt.want)
			}
		})
	}
}

func TestFromNativeOldVersions(t *testing.T) {
	// Fields older schemas lack read as SysFlow v5's defaults.
	d := map[string]any{"rec": map[string]any{"sysflow.entity.SFHeader": map[string]any{
		"version": int64(1000), "exporter": "tests"}}}
	rec, err := FromNative(d)
	if err != nil {
		t.Fatalf("FromNative(%v): %v", d, err)
	}
	want := &sysflowv1.Record{Rec: &sysflowv1.Record_Header{Header: &sysflowv1.SFHeader{
		Version: 1000, Exporter: "tests", Ip: "NA"}}}
	if diff := cmp.Diff(want, rec, protocmp.Transform()); diff != "" {
		t.Errorf("FromNative(%v) (-want +got):\n%s", d, diff)
	}
}

func TestToNativeErrors(t *testing.T) {
	with := func(typ sysflowv1.RecordType, change func(*sysflowv1.Record)) *sysflowv1.Record {
		rec := proto.Clone(testRecords()[typ]).(*sysflowv1.Record)
		change(rec)
		return rec
	}
	tests := []struct {
		name string
		rec  *sysflowv1.Record
		want string
	}{
		{name: "nil", rec: nil, want: "record has no payload"},
		{name: "no payload", rec: &sysflowv1.Record{NodeId: "n"}, want: "record has no payload"},
		{name: "nil payload", rec: &sysflowv1.Record{Rec: &sysflowv1.Record_Process{}}, want: "Process: missing"},
		{name: "nil pod", rec: &sysflowv1.Record{Rec: &sysflowv1.Record_Pod{}}, want: "Pod: missing"},
		{name: "no proc oid", rec: with(sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, func(r *sysflowv1.Record) {
			r.GetFileFlow().ProcOid = nil
		}), want: "FileFlow.procOID: missing"},
		{name: "short file oid", rec: with(sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, func(r *sysflowv1.Record) {
			r.GetFileFlow().FileOid = []byte{1, 2, 3}
		}), want: "FileFlow.fileOID: want 20 bytes, got 3"},
		{name: "short new file oid", rec: with(sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT, func(r *sysflowv1.Record) {
			r.GetFileEvent().NewFileOid = []byte{1}
		}), want: "FileEvent.newFileOID: want 20 bytes, got 1"},
		{name: "unspecified state", rec: with(sysflowv1.RecordType_RECORD_TYPE_PROCESS, func(r *sysflowv1.Record) {
			r.GetProcess().State = sysflowv1.ObjectState_OBJECT_STATE_UNSPECIFIED
		}), want: "Process.state: no SysFlow symbol for OBJECT_STATE_UNSPECIFIED"},
		{name: "unknown container type", rec: with(sysflowv1.RecordType_RECORD_TYPE_CONTAINER, func(r *sysflowv1.Record) {
			r.GetContainer().Type = 11
		}), want: "Container.type: no SysFlow symbol for 11"},
		{name: "unknown k8s action", rec: with(sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT, func(r *sysflowv1.Record) {
			r.GetK8SEvent().Action = -1
		}), want: "K8sEvent.action: no SysFlow symbol for -1"},
		{name: "IPv6 flow", rec: with(sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW, func(r *sysflowv1.Record) {
			r.GetNetworkFlow().Sip6 = make([]byte, 16)
		}), want: "NetworkFlow: IPv6 addresses (sip6, dip6) have no place in SysFlow v5"},
		{name: "IPv6 event", rec: with(sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT, func(r *sysflowv1.Record) {
			r.GetNetworkEvent().Dip6 = make([]byte, 16)
		}), want: "NetworkEvent: IPv6 addresses (sip6, dip6) have no place in SysFlow v5"},
		{name: "nil service", rec: with(sysflowv1.RecordType_RECORD_TYPE_POD, func(r *sysflowv1.Record) {
			r.GetPod().Services = append(r.GetPod().Services, nil)
		}), want: "Pod.services[2]: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ToNative(tt.rec)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ToNative(%v) = %v, %v; want error %q", tt.rec, got, err, tt.want)
			}
		})
	}
}

func TestOpFlags(t *testing.T) {
	for typ, rec := range testRecords() {
		got, ok := OpFlags(rec)
		// The records with op_flags are those whose payload has the field.
		want, wantOK := int32(0), false
		m := rec.ProtoReflect()
		payload := m.Get(m.WhichOneof(m.Descriptor().Oneofs().ByName("rec"))).Message()
		if f := payload.Descriptor().Fields().ByName("op_flags"); f != nil {
			want, wantOK = int32(payload.Get(f).Int()), true
		}
		if got != want || ok != wantOK {
			t.Errorf("OpFlags(%v) = %d, %t; want %d, %t", typ, got, ok, want, wantOK)
		}
	}
	if got, ok := OpFlags(nil); got != 0 || ok {
		t.Errorf("OpFlags(nil) = %d, %t; want 0, false", got, ok)
	}
	if got := TypeOf(nil); got != sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED {
		t.Errorf("TypeOf(nil) = %v, want RECORD_TYPE_UNSPECIFIED", got)
	}
}

func TestTypeOfFieldNumbers(t *testing.T) {
	// The oneof member of a type has field number 10 plus its RecordType value.
	for typ, rec := range testRecords() {
		m := rec.ProtoReflect()
		fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("rec"))
		if got, want := int(fd.Number()), 10+int(typ); got != want {
			t.Errorf("%v: field number %d, want %d", typ, got, want)
		}
		if got := TypeOf(rec); got != typ {
			t.Errorf("TypeOf(%s) = %v, want %v", fd.Name(), got, typ)
		}
	}
	if len(testRecords()) != len(sysflowv1.RecordType_name)-1 {
		t.Errorf("testRecords has %d types, want %d", len(testRecords()), len(sysflowv1.RecordType_name)-1)
	}
}
