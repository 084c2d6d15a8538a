// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package flow turns the capture layer's events into SysFlow records, aggregating file and
// network operations into flows as SysFlow's collector (sf-collector) does. It is pure Go: no
// kernel, no I/O, and time is whatever the events and Tick say.
//
// An Aggregator consumes Events (Handle), flushes flows on a timer (Tick) and at shutdown
// (Flush), and hands every record to a Config.Emit function, in order. The records' envelope
// fields (node, agent, epoch, seq) are left empty for the agent's window to stamp.
//
// # Flows
//
// A FileFlow covers one open file descriptor from KindOpen to KindClose; a NetworkFlow one
// socket from KindConnect or KindAccept to KindClose. Each flow belongs to the thread that
// opened (connected, accepted) the descriptor: the capture counts reads and writes per process
// and descriptor, so they are credited to that thread whichever thread made them, as SysFlow's
// tid is the opener's. A record's op_flags OR the operations it covers: OPEN, CONNECT or ACCEPT
// in the flow's first record, READ_RECV and WRITE_SEND when the counters moved, CLOSE in the
// record of the close. KindCounters and KindClose carry the descriptor's totals since it was
// opened; the Aggregator turns them into per-record deltas, so that the counts of a flow's
// records add up to the totals. A total that goes backwards is taken as counting started again
// (Stats.CounterResets), and counts from zero.
//
// A flow is emitted when it is closed; every FlowInterval while it is open and has something to
// report (the record's ts is then the start of the interval, its end_ts the last activity seen);
// when its process exits (without CLOSE); and when it has seen no activity for IdleTimeout
// (without CLOSE). An idle flow no longer counts against MaxFlows, but the Aggregator remembers
// it (at most MaxFlows such flows, least recently used forgotten first) so that later activity
// or its close continues it in new records, without OPEN. When MaxFlows flows are open, opening
// another first flushes the one idle for longest in the same way (Stats.Evicted). A descriptor
// whose close-on-exec flag was set (O_CLOEXEC) is closed by exec: its flow is emitted with CLOSE
// on KindExec. A record that reports no operation is never emitted.
//
// ProcessFlows count the threads a process clones (KindClone with ChildPID == PID) and the
// threads that exit (KindExit with TID != PID); they follow the same interval and idle rules and
// are emitted when the process exits.
//
// # Process events
//
// KindExec, KindSetUID and KindClone of a new process become ProcessEvents (EXEC with the exec
// arguments, SETUID with the new ids, CLONE attributed to the parent with ret the child's pid);
// KindExit of a process's main thread emits its pending ProcessFlow and flows, then an EXIT
// ProcessEvent.
//
// # Entities
//
// Every Process and File entity a record refers to is emitted before that record. Process
// entities come from a ProcessSource (the agent's process table), which must have seen an event
// before the Aggregator does: the entity of a process is emitted the first time the Aggregator
// meets the process and again whenever the source returns a different one (compared with
// proto.Equal, ts ignored). Before emitting a changed entity, the Aggregator emits the records
// pending for the process, so that a record follows the entity that described the process when
// the operations took place. A process the source does not know is described by a minimal entity
// made from the event (Stats.UnknownProcesses). The entities of a process's ancestors that the
// source knows are emitted before its own, eldest first, once each, so that rules reading
// ancestors (Falco's proc.aname[N]) find them though they did nothing the capture saw.
//
// A File entity is emitted before the first record of a flow on a file the Aggregator does not
// remember having emitted (it remembers the last 65536). Its object id is SysFlow's:
//
//	oid = SHA-1(container id || path)
//
// the 20-byte SHA-1 digest of the container id's bytes immediately followed by the path's bytes,
// with the empty string as the container id on the host, exactly as sf-collector's FileContext
// computes it (utils::generateFOID over the key container_id + path). A relative path is made
// absolute against the process's working directory (Process.cwd), or against the directory open
// on Event.DirFD (openat), and cleaned lexically, without touching the disk: symbolic links are
// not resolved, unlike sf-collector's weakly_canonical. A relative path whose directory is
// unknown stays relative, as in sf-collector.
//
// # Addresses
//
// NetworkFlow endpoints follow SysFlow: the source is the connecting side and the destination
// the listening side, so a connect goes from the local to the remote endpoint and an accept from
// the remote to the local one. IPv4 addresses (IPv4-mapped IPv6 ones included) are packed into
// sip and dip as SysFlow does (PackIPv4); IPv6 addresses go into sip6 and dip6, with sip and dip
// zero.
package flow
