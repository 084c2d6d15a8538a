// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable

const (
	// clockTicksPerSecond is USER_HZ, the unit of the times in /proc/<pid>/stat. It is 100 on
	// every Linux architecture; the kernel converts its own times to it.
	clockTicksPerSecond = 100
	// nsPerTick is the length of a clock tick in nanoseconds.
	nsPerTick = 1_000_000_000 / clockTicksPerSecond
)

// CreateTime returns the creation time, in nanoseconds since the Unix epoch, that a process's
// object id carries, given the boot time in nanoseconds since the Unix epoch (Table.BootTimeNS)
// and the process's start time in nanoseconds since boot as the kernel keeps it
// (task->start_boottime).
//
// The start time is rounded down to whole clock ticks (10 ms), as the kernel does for field 22
// of /proc/<pid>/stat (nsec_to_clock_t), so that a process seen first by the kernel and one read
// from /proc get the same object id.
func CreateTime(bootTimeNS, startBoottimeNS int64) int64 {
	ticks := startBoottimeNS / nsPerTick
	if startBoottimeNS < 0 && startBoottimeNS%nsPerTick != 0 {
		ticks-- // round toward minus infinity; the kernel's times are never negative
	}
	return bootTimeNS + ticks*nsPerTick
}

// createTimeFromTicks is CreateTime for a start time read from /proc, in clock ticks since boot.
func createTimeFromTicks(bootTimeNS int64, ticks uint64) int64 {
	return CreateTime(bootTimeNS, int64(ticks)*nsPerTick)
}
