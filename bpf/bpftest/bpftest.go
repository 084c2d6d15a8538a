// Package bpftest decides whether a test that needs to load eBPF programs can run here.
package bpftest

import (
	"os"
	"testing"
)

// Require skips tb when this machine cannot load the capture programs (not root, no BTF), or
// fails it when SYSFLUX_REQUIRE_BPF=1 says it must (CI runs as root on a kernel with BTF, where
// a skipped kernel test would prove nothing).
func Require(tb testing.TB) {
	tb.Helper()
	reason := ""
	switch {
	case os.Geteuid() != 0:
		reason = "needs root to load eBPF programs"
	default:
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
			reason = "needs a kernel with BTF (/sys/kernel/btf/vmlinux)"
		}
	}
	if reason == "" {
		return
	}
	if os.Getenv("SYSFLUX_REQUIRE_BPF") == "1" {
		tb.Fatalf("SYSFLUX_REQUIRE_BPF=1 but this test %s", reason)
	}
	tb.Skip(reason)
}
