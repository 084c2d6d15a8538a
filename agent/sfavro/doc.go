// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package sfavro reads SysFlow Avro files and maps SysFlow's Avro records to the typed protobuf
// records of package sysflowv1 and back.
//
// A SysFlow file is an Avro object container file, deflate-compressed by the SysFlow collector,
// whose every datum is a sysflow.SysFlow record with one field, rec: a union of the twelve
// SysFlow record types (SFHeader, Container, Process, File, ProcessEvent, NetworkFlow, FileFlow,
// FileEvent, NetworkEvent, ProcessFlow, Pod, K8sEvent). A Reader decodes such a file with the
// schema embedded in it, so that files of every SysFlow schema version read alike; fields that an
// older version lacks take their SysFlow v5 defaults (an SFHeader without ip reads as "NA").
//
// FromNative and ToNative convert between a record in goavro's native form (map[string]any,
// unions as single-entry maps keyed by the branch's full name) and a *sysflowv1.Record. The
// mapping loses nothing: ToNative(FromNative(d)) equals d upgraded to schema version 5. Enum
// values map by symbol name, and a protobuf enum value is the Avro symbol's index plus one.
//
// A Writer writes records to a SysFlow file as the SysFlow collector does: schema version 5
// (SysFlow.avsc, embedded byte for byte, stored compacted as the file's avro.schema), deflate-compressed blocks.
// It refuses, with an error wrapping ErrNotRepresentable, what SysFlow v5 cannot hold, such as
// IPv6 addresses; the file stays valid.
//
// A Resolver follows the entities (processes, files, containers, pods) of a record stream and
// resolves the references of later records to the closest preceding entity with that id, within
// a bound on the number of entities it keeps.
//
// The package keeps the Avro library (github.com/linkedin/goavro/v2) behind its own functions:
// callers see only io.Reader, io.Writer, native maps and protobuf messages. Importing the package
// lowers goavro's package-wide limits MaxBlockCount (to 2^20) and MaxBlockSize (to 64 MiB), so
// that a malformed file cannot make goavro allocate gigabytes; see limits.go.
package sfavro
