// Package bpftest decides whether a test that needs to load eBPF programs can run here, and
// runs the known workloads such tests watch.
package bpftest

import (
	"os"
	"testing"

	"github.com/sysflux/sysflux/bpf"
)

// Require skips tb when this machine cannot load the capture programs (not root, no BTF), or
// fails it when SYSFLUX_REQUIRE_BPF=1 says it must (CI runs as root on a kernel with BTF, where
// a skipped kernel test would prove nothing).
func Require(tb testing.TB) {
	tb.Helper()
	err := bpf.Check()
	if err == nil {
		return
	}
	if os.Getenv("SYSFLUX_REQUIRE_BPF") == "1" {
		tb.Fatalf("SYSFLUX_REQUIRE_BPF=1 but this test cannot run: %v", err)
	}
	tb.Skip(err)
}
