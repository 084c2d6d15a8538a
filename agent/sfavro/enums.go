// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"

// symbols maps the symbols of an Avro enum to a protobuf enum whose value is the symbol's index
// plus one, and back. Lookups go by symbol name, so a schema that reorders symbols still maps
// correctly.
type symbols[E ~int32] struct {
	names  []string // names[i] is the symbol of the protobuf value i+1
	values map[string]E
}

func newSymbols[E ~int32](names ...string) symbols[E] {
	s := symbols[E]{names: names, values: make(map[string]E, len(names))}
	for i, n := range names {
		s.values[n] = E(i + 1)
	}
	return s
}

// value returns the protobuf value of the symbol name.
func (s symbols[E]) value(name string) (E, bool) {
	v, ok := s.values[name]
	return v, ok
}

// name returns the symbol of the protobuf value v.
func (s symbols[E]) name(v E) (string, bool) {
	if v < 1 || int(v) > len(s.names) {
		return "", false
	}
	return s.names[v-1], true
}

// The symbols of SysFlow v5's enums, in schema order.
var (
	containerTypes = newSymbols[sysflowv1.ContainerType](
		"CT_DOCKER", "CT_LXC", "CT_LIBVIRT_LXC", "CT_MESOS", "CT_RKT", "CT_CUSTOM", "CT_CRI",
		"CT_CONTAINERD", "CT_CRIO", "CT_BPM")
	objectStates  = newSymbols[sysflowv1.ObjectState]("CREATED", "MODIFIED", "REUP")
	k8sComponents = newSymbols[sysflowv1.K8SComponent](
		"K8S_NODES", "K8S_NAMESPACES", "K8S_PODS", "K8S_REPLICATIONCONTROLLERS", "K8S_SERVICES",
		"K8S_EVENTS", "K8S_REPLICASETS", "K8S_DAEMONSETS", "K8S_DEPLOYMENTS", "K8S_UNKNOWN")
	k8sActions = newSymbols[sysflowv1.K8SAction](
		"K8S_COMPONENT_ADDED", "K8S_COMPONENT_MODIFIED", "K8S_COMPONENT_DELETED",
		"K8S_COMPONENT_ERROR", "K8S_COMPONENT_NONEXISTENT", "K8S_COMPONENT_UNKNOWN")
)

// The full names of SysFlow's record types, the branch names of the rec union in goavro's native
// form, indexed by sysflowv1.RecordType.
var typeNames = [...]string{
	sysflowv1.RecordType_RECORD_TYPE_HEADER:        "sysflow.entity.SFHeader",
	sysflowv1.RecordType_RECORD_TYPE_CONTAINER:     "sysflow.entity.Container",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS:       "sysflow.entity.Process",
	sysflowv1.RecordType_RECORD_TYPE_FILE:          "sysflow.entity.File",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_EVENT: "sysflow.event.ProcessEvent",
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_FLOW:  "sysflow.flow.NetworkFlow",
	sysflowv1.RecordType_RECORD_TYPE_FILE_FLOW:     "sysflow.flow.FileFlow",
	sysflowv1.RecordType_RECORD_TYPE_FILE_EVENT:    "sysflow.event.FileEvent",
	sysflowv1.RecordType_RECORD_TYPE_NETWORK_EVENT: "sysflow.event.NetworkEvent",
	sysflowv1.RecordType_RECORD_TYPE_PROCESS_FLOW:  "sysflow.flow.ProcessFlow",
	sysflowv1.RecordType_RECORD_TYPE_POD:           "sysflow.entity.Pod",
	sysflowv1.RecordType_RECORD_TYPE_K8S_EVENT:     "sysflow.event.K8sEvent",
}

// Full names of the named types that appear as union branches.
const (
	oidName    = "sysflow.type.OID"
	foidName   = "sysflow.type.FOID"
	stringName = "string"
	foidSize   = 20
)
