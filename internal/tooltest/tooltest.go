// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package tooltest lets tests that need an installed tool skip where it is missing, and fail
// instead where it must be there: CI sets SYSFLUX_REQUIRE_TOOLS=1 after installing them.
package tooltest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// PythonAvro is the Python interpreter that has Apache Avro's Python package (Debian's
// python3-avro) when it is installed.
const PythonAvro = "/usr/bin/python3"

// RequirePythonAvro skips the test when Apache Avro's Python package is not installed, and fails
// it instead when SYSFLUX_REQUIRE_TOOLS=1.
func RequirePythonAvro(tb testing.TB) {
	tb.Helper()
	out, err := exec.Command(PythonAvro, "-c", "import avro.datafile").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s cannot import avro.datafile (install python3-avro): %v: %s", PythonAvro, err, out)
	if os.Getenv("SYSFLUX_REQUIRE_TOOLS") == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
