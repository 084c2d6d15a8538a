// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package export writes stored records out as SysFlow files, the way the SysFlow collector
// writes them: one node per file, each file self-contained.
//
// An Exporter takes records in time order, from any number of nodes, and keeps one open file per
// node. Each file starts with its own SFHeader. Before an event or flow, it writes every entity
// the record references that the file does not hold yet (the process and its ancestors, oldest
// first, their containers and pods, the files), looked up through the node's
// policy/field.Entities; so every file reads on its own, as SysFlow tools expect, whatever the
// range of time it covers. Entity records that come in with the stream are written unless the
// file already holds the same version.
//
// Files end when they reach a size or span a time set in Config, and the node's next record
// starts a new file. The bytes of every file go to one Sink function, in chunks that name the
// file; what to do with them (files on disk, an HTTP response, an archive) is the caller's.
//
// Records SysFlow v5 cannot hold (IPv6 addresses, a sysflux addition) are counted and left out;
// the files stay valid.
package export
