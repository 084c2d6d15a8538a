// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable_test

import (
	"fmt"

	"github.com/sysflux/sysflux/agent/proctable"
)

func ExampleCreateTime() {
	// A process that the kernel says started 12.345678901 s after a boot at 1700000000 s since
	// the Unix epoch has the creation time that /proc gives it: 1234 clock ticks after boot.
	boot := int64(1_700_000_000) * 1_000_000_000
	fmt.Println(proctable.CreateTime(boot, 12_345_678_901) - boot)
	// Output: 12340000000
}

func ExampleTable_Scan() {
	tbl, err := proctable.New(proctable.Config{ProcRoot: "testdata/proc", HostRoot: "testdata"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The fixture tree holds text files where /proc has symbolic links and NUL-separated
	// strings, so only what stat and status say is shown here.
	procs, err := tbl.Scan()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range procs {
		fmt.Printf("pid %d parent %d user %s container %q\n",
			p.GetOid().GetHpid(), p.GetPoid().GetHpid(), p.GetUserName(), p.GetContainerId())
	}
	// Output:
	// pid 1 parent 0 user root container ""
	// pid 100 parent 1 user root container ""
	// pid 200 parent 100 user alice container ""
	// pid 300 parent 200 user 4242 container "3f4e8a1c2b7d"
	// pid 301 parent 300 user 4242 container "3f4e8a1c2b7d"
	// pid 50 parent 301 user 4242 container "3f4e8a1c2b7d"
}
