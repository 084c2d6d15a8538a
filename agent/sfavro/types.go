// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import (
	"strings"

	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// TypeName names a record type as metrics and logs do: file_flow, process_event, ...
func TypeName(t sysflowv1.RecordType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "RECORD_TYPE_"))
}

// TypeOf returns the type of rec's payload, or RECORD_TYPE_UNSPECIFIED when rec is nil or has
// none.
func TypeOf(rec *sysflowv1.Record) sysflowv1.RecordType {
	switch rec.GetRec().(type) {
	case *sysflowv1.Record_Header:
		return sysflowv1.RecordType_RECORD_TYPE_HEADER
	case *sysflowv1.Record_Container:
		return sysflowv1.RecordType_RECORD_TYPE_CONTAINER
	case *sysflowv1.Record_Process:
		return sysflowv1.RecordType_RECORD_TYPE_PROCESS
	case *sysflowv1.Record_File:
		return sysflowv1.RecordType_RECORD_TYPE_FILE
	case *sysflowv1.Record_ProcessEvent:
		return sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT
	case *sysflowv1.Record_NetworkFlow:
		return sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW
	case *sysflowv1.Record_FileFlow:
		return sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW
	case *sysflowv1.Record_FileEvent:
		return sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT
	case *sysflowv1.Record_NetworkEvent:
		return sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT
	case *sysflowv1.Record_ProcessFlow:
		return sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW
	case *sysflowv1.Record_Pod:
		return sysflowv1.RecordType_RECORD_TYPE_POD
	case *sysflowv1.Record_K8SEvent:
		return sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT
	}
	return sysflowv1.RecordType_RECORD_TYPE_UNSPECIFIED
}

// OpFlags returns the op_flags of rec's event or flow: one OperationFlag bit for an event, the
// OR of the bits of every aggregated operation for a flow. It reports false for records without
// op_flags (entities, headers, Kubernetes events).
func OpFlags(rec *sysflowv1.Record) (int32, bool) {
	switch r := rec.GetRec().(type) {
	case *sysflowv1.Record_ProcessEvent:
		return r.ProcessEvent.GetOpFlags(), true
	case *sysflowv1.Record_NetworkFlow:
		return r.NetworkFlow.GetOpFlags(), true
	case *sysflowv1.Record_FileFlow:
		return r.FileFlow.GetOpFlags(), true
	case *sysflowv1.Record_FileEvent:
		return r.FileEvent.GetOpFlags(), true
	case *sysflowv1.Record_NetworkEvent:
		return r.NetworkEvent.GetOpFlags(), true
	case *sysflowv1.Record_ProcessFlow:
		return r.ProcessFlow.GetOpFlags(), true
	}
	return 0, false
}
