// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package sfavro

import "github.com/linkedin/goavro/v2"

// goavro sizes its allocations by the counts and lengths a file declares, before it reads the
// data: with its default limits (2^31 - 1 each) a 16-byte file claiming a header of 2 billion
// entries, or a block holding an array of 2 billion items, makes it allocate tens of gigabytes,
// and the runtime's out-of-memory error cannot be recovered. FuzzReader found the first within
// seconds. goavro offers only package-wide limits, which it documents as the application's to
// set; a program that imports this package reads SysFlow files, so the package lowers them (never
// raises them) once, before any goroutine can use goavro.
const (
	// maxBlockCount bounds the items of one Avro array or map block and the entries of an OCF
	// header. SysFlow's largest arrays (a process's environment, a pod's labels) hold hundreds.
	maxBlockCount = 1 << 20
	// maxBlockSize bounds the bytes of one OCF block and of one header value. The SysFlow
	// collector writes blocks of about 16 KiB.
	maxBlockSize = 64 << 20
)

func init() {
	goavro.MaxBlockCount = min(goavro.MaxBlockCount, maxBlockCount)
	goavro.MaxBlockSize = min(goavro.MaxBlockSize, maxBlockSize)
}
