// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package flow_test

import (
	"fmt"
	"time"

	"github.com/sysflux/sysflux/agent/flow"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

func Example() {
	shell := &sysflowv1.Process{
		State: sysflowv1.ObjectState_OBJECT_STATE_REUP,
		Oid:   &sysflowv1.OID{CreateTs: 1_700_000_000_000_000_000, Hpid: 4242},
		Exe:   "/bin/sh",
		Cwd:   "/home/alice",
	}
	agg := flow.New(flow.Config{
		Processes: flow.ProcessFunc(func(pid int32) (*sysflowv1.Process, bool) {
			return shell, pid == 4242
		}),
		Emit: func(r *sysflowv1.Record) error {
			switch x := r.GetRec().(type) {
			case *sysflowv1.Record_Process:
				fmt.Println("process", x.Process.GetExe())
			case *sysflowv1.Record_File:
				fmt.Printf("file %s %c\n", x.File.GetPath(), rune(x.File.GetRestype()))
			case *sysflowv1.Record_FileFlow:
				ff := x.FileFlow
				fmt.Printf("file flow fd %d ops %#x: %d reads, %d bytes\n",
					ff.GetFd(), ff.GetOpFlags(), ff.GetNumRRecvOps(), ff.GetNumRRecvBytes())
			}
			return nil
		},
		FlowInterval: 30 * time.Second,
		IdleTimeout:  time.Minute,
	})

	at := int64(1_700_000_100_000_000_000)
	events := []flow.Event{
		{Kind: flow.KindOpen, Time: at, PID: 4242, TID: 4242, Path: ".profile", Ret: 3},
		{Kind: flow.KindClose, Time: at + 1000, PID: 4242, TID: 4242, FD: 3, ReadOps: 2, ReadBytes: 512},
	}
	for _, ev := range events {
		if err := agg.Handle(ev); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// process /bin/sh
	// file /home/alice/.profile f
	// file flow fd 3 ops 0x580: 2 reads, 512 bytes
}
