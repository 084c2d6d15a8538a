// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

func TestResolverFixtures(t *testing.T) {
	// Each reference resolves to the closest preceding entity, except where the collector wrote
	// the entity after the reference or not at all. wantUnresolved counts the references that do
	// not resolve when they are read, by kind; wantLater counts those of them whose entity
	// follows later in the same file.
	tests := []struct {
		file           string
		wantUnresolved map[string]int
		wantLater      map[string]int
	}{
		{file: "sfcollector_client-server_tcp-client-server.sf"},
		{file: "sfcollector_files_files.sf"},
		{file: "sfcollector_rename_rename.sf"},
		{file: "sfcollector_setuid_setuid.sf"},
		{
			// sfprocessor_k8s_small.sf, a capture of a busy Kubernetes node, breaks the rule in
			// two ways:
			//   - 10 processes name a parent (poid) not yet written. For 5 the parent comes later
			//     in the file: an Erlang beam.smp (record 95) whose parent erl_child_setup is
			//     record 396, and four apache2 workers (records 248, 591, 843, 1149) whose parent
			//     apache2 is record 1426. For the other 5 the parent is nowhere in the file:
			//     kubectl proxy (record 371, parent hpid 47017) and four nginx-debug workers
			//     (records 1733-1740, parent hpid 58632). The collector apparently writes a
			//     process only once the process itself does something it records.
			//   - 2 files (pipes, records 368 and 917) name their container before the container
			//     record (records 370 and 938).
			// Every proc_oid, file_oid, new_file_oid and pod_id resolves.
			file:           "sfprocessor_k8s_small.sf",
			wantUnresolved: map[string]int{"poid": 10, "container_id": 2},
			wantLater:      map[string]int{"poid": 5, "container_id": 2},
		},
		{file: "sfprocessor_shellshock.sf"},
		{file: "sfprocessor_tcp.sf"},
	}
	tested := make(map[string]bool)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(tracesDir, tt.file)
			tested[path] = true
			recs, err := ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile(%s): %v", tt.file, err)
			}
			// A resolver that has seen the whole file resolves references to later entities.
			whole := NewResolver(len(recs))
			for _, rec := range recs {
				whole.Observe(rec)
			}
			res := NewResolver(len(recs))
			unresolved := make(map[string]int)
			later := make(map[string]int)
			var refs int
			for i, rec := range recs {
				refs += len(references(rec))
				for _, u := range res.Unresolved(rec) {
					kind, _, _ := strings.Cut(u, " ")
					unresolved[kind]++
					if !slices.Contains(whole.Unresolved(rec), u) {
						later[kind]++
					}
					t.Logf("%s: record %d (%v): unresolved %s", tt.file, i, TypeOf(rec), u)
				}
				res.Observe(rec)
			}
			if diff := cmp.Diff(tt.wantUnresolved, unresolved, cmpEmptyMaps); diff != "" {
				t.Errorf("unresolved references in %s (-want +got):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(tt.wantLater, later, cmpEmptyMaps); diff != "" {
				t.Errorf("unresolved references in %s whose entity comes later (-want +got):\n%s", tt.file, diff)
			}
			t.Logf("%s: %d references, unresolved %v, of which later in the file %v", tt.file, refs, unresolved, later)
		})
	}
	for _, path := range traceFiles(t) {
		if !tested[path] {
			t.Errorf("trace %s has no test case", path)
		}
	}
}

var cmpEmptyMaps = cmp.Comparer(func(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
})

// references counts the references of rec that Unresolved checks, by the test's own reading of
// the schema.
func references(rec *sysflowv1.Record) []string {
	var refs []string
	switch x := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		if x.Process.GetPoid() != nil {
			refs = append(refs, "poid")
		}
		if x.Process.ContainerId != nil {
			refs = append(refs, "container_id")
		}
	case *sysflowv1.Record_File:
		if x.File.ContainerId != nil {
			refs = append(refs, "container_id")
		}
	case *sysflowv1.Record_Container:
		if x.Container.PodId != nil {
			refs = append(refs, "pod_id")
		}
	case *sysflowv1.Record_FileFlow:
		refs = append(refs, "proc_oid", "file_oid")
	case *sysflowv1.Record_FileEvent:
		refs = append(refs, "proc_oid", "file_oid")
		if len(x.FileEvent.GetNewFileOid()) > 0 {
			refs = append(refs, "new_file_oid")
		}
	case *sysflowv1.Record_ProcessEvent, *sysflowv1.Record_NetworkFlow, *sysflowv1.Record_NetworkEvent,
		*sysflowv1.Record_ProcessFlow:
		refs = append(refs, "proc_oid")
	}
	return refs
}

func TestResolverUnresolved(t *testing.T) {
	recs := testRecords()
	tests := []struct {
		typ  sysflowv1.RecordType
		want []string
	}{
		{typ: sysflowv1.RecordType_RECORD_TYPE_HEADER},
		{typ: sysflowv1.RecordType_RECORD_TYPE_POD},
		{typ: sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT},
		{typ: sysflowv1.RecordType_RECORD_TYPE_CONTAINER, want: []string{"pod_id c75101e7"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_PROCESS, want: []string{"poid 1647543371590273303/55497", "container_id 47a2351d842b"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_FILE, want: []string{"container_id 47a2351d842b"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT, want: []string{"proc_oid 1647543894672412244/57312"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW, want: []string{"proc_oid 1647543894672412244/57312"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT, want: []string{"proc_oid 1647543894672412244/57312"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW, want: []string{"proc_oid 1647543894672412244/57312"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW, want: []string{
			"proc_oid 1647543894672412244/57312", "file_oid 303132333435363738396162636465666768696a"}},
		{typ: sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT, want: []string{
			"proc_oid 1647543894672412244/57312", "file_oid 303132333435363738396162636465666768696a",
			"new_file_oid 6162636465666768696a30313233343536373839"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			empty := NewResolver(10)
			if got := empty.Unresolved(recs[tt.typ]); !cmp.Equal(got, tt.want) {
				t.Errorf("empty resolver: Unresolved(%v) = %q, want %q", recs[tt.typ], got, tt.want)
			}
			// Once every entity is observed, everything resolves, including the parent process.
			full := NewResolver(10)
			for _, rec := range recs {
				full.Observe(rec)
			}
			parent := proto.Clone(recs[sysflowv1.RecordType_RECORD_TYPE_PROCESS]).(*sysflowv1.Record)
			parent.GetProcess().Oid = parent.GetProcess().Poid
			full.Observe(parent)
			full.Observe(&sysflowv1.Record{Rec: &sysflowv1.Record_File{File: &sysflowv1.File{
				Oid: recs[sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT].GetFileEvent().GetNewFileOid()}}})
			if got := full.Unresolved(recs[tt.typ]); got != nil {
				t.Errorf("full resolver: Unresolved(%v) = %q, want nil", recs[tt.typ], got)
			}
		})
	}
}

func TestResolverClosestPreceding(t *testing.T) {
	r := NewResolver(4)
	oid := &sysflowv1.OID{CreateTs: 1, Hpid: 2}
	for _, exe := range []string{"/bin/sh", "/bin/ls"} {
		r.Observe(&sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: oid, Exe: exe}}})
		// Look up by an equal OID, not the same pointer.
		if got := r.Process(&sysflowv1.OID{CreateTs: 1, Hpid: 2}); got.GetExe() != exe {
			t.Errorf("Process(%v) after observing %s = %v, want exe %s", oid, exe, got, exe)
		}
	}
	if got := r.Process(&sysflowv1.OID{CreateTs: 1, Hpid: 3}); got != nil {
		t.Errorf("Process(1/3) = %v, want nil", got)
	}
	if got := r.Process(nil); got != nil {
		t.Errorf("Process(nil) = %v, want nil", got)
	}
	if got := r.File([]byte{1, 2, 3}); got != nil {
		t.Errorf("File(3 bytes) = %v, want nil", got)
	}
}

func TestResolverBound(t *testing.T) {
	const n = 3
	r := NewResolver(n)
	foid := func(i int) []byte { return []byte(fmt.Sprintf("%020d", i)) }
	id := func(i int) string { return fmt.Sprint("c", i) }
	for i := range 5 {
		r.Observe(&sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: &sysflowv1.OID{Hpid: int64(i)}}}})
		r.Observe(&sysflowv1.Record{Rec: &sysflowv1.Record_File{File: &sysflowv1.File{Oid: foid(i)}}})
		r.Observe(&sysflowv1.Record{Rec: &sysflowv1.Record_Container{Container: &sysflowv1.Container{Id: id(i)}}})
		r.Observe(&sysflowv1.Record{Rec: &sysflowv1.Record_Pod{Pod: &sysflowv1.Pod{Id: id(i)}}})
		if i == 2 {
			// Observing entity 0 again makes it the newest: entity 1 goes first.
			r.Observe(&sysflowv1.Record{Rec: &sysflowv1.Record_Process{Process: &sysflowv1.Process{Oid: &sysflowv1.OID{Hpid: 0}}}})
		}
	}
	for i := range 5 {
		// Process 0, observed again after 2, outlives 1 and 2.
		wantProc := i == 0 || i >= 3
		wantOther := i >= 5-n
		if got := r.Process(&sysflowv1.OID{Hpid: int64(i)}) != nil; got != wantProc {
			t.Errorf("after 5 processes, Process(%d) found %t, want %t", i, got, wantProc)
		}
		if got := r.File(foid(i)) != nil; got != wantOther {
			t.Errorf("after 5 files, File(%d) found %t, want %t", i, got, wantOther)
		}
		if got := r.Container(id(i)) != nil; got != wantOther {
			t.Errorf("after 5 containers, Container(%s) found %t, want %t", id(i), got, wantOther)
		}
		if got := r.Pod(id(i)) != nil; got != wantOther {
			t.Errorf("after 5 pods, Pod(%s) found %t, want %t", id(i), got, wantOther)
		}
	}
	for name, tbl := range map[string]int{"procs": r.procs.order.Len(), "files": r.files.order.Len(),
		"containers": r.containers.order.Len(), "pods": r.pods.order.Len()} {
		if tbl != n {
			t.Errorf("%s: %d entries, want %d", name, tbl, n)
		}
	}
}

func TestResolverNilPayloads(t *testing.T) {
	// Records with nil payloads are ignored, not dereferenced.
	r := NewResolver(0)
	for _, rec := range []*sysflowv1.Record{
		nil, {},
		{Rec: &sysflowv1.Record_Process{}}, {Rec: &sysflowv1.Record_File{}},
		{Rec: &sysflowv1.Record_Container{}}, {Rec: &sysflowv1.Record_Pod{}},
	} {
		r.Observe(rec)
		if got := r.Unresolved(rec); got != nil {
			t.Errorf("Unresolved(%v) = %q, want nil", rec, got)
		}
	}
}
