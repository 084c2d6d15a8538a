// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package proctable keeps the agent's process table, the source of SysFlow Process entities.
//
// A Table is bootstrapped from /proc by Scan, which returns one Process record (state REUP) per
// running process, parents before children, and then follows the capture events: Exec, Clone,
// Exit and SetUID update it and return the Process records to emit. Ensure reads a process the
// table missed (the agent started after it) from /proc on first sight.
//
// A process is identified by its SysFlow object id: its creation time in nanoseconds since the
// Unix epoch and its host pid. The creation time is the boot time plus the process's start time
// since boot in clock ticks, so that /proc (field 22 of /proc/<pid>/stat) and the kernel
// (task->start_boottime, rounded down to clock ticks by CreateTime) give the same id.
//
// Kernel threads are not processes in SysFlow's sense and are left out, and so is the agent
// itself: Ignored tells the caller which events to drop.
//
// Records returned by a Table are shared with it and with other callers: they must not be
// modified. A Table is safe for concurrent use.
package proctable
