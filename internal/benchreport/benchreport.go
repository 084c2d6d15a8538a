// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Package benchreport holds what the benchmark reports of `make bench` share: their settings
// from the environment, medians of rounds, and the marks of a target met.
package benchreport

import (
	"os"
	"slices"
	"strconv"
	"testing"
)

// EnvInt returns the positive integer in the environment variable name, or def when it is
// unset; anything else fails the test.
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// Median returns the median of v (the mean of the middle two for an even count), 0 for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// YesNo marks whether a target was met: "yes", or "NO" to stand out in a table.
func YesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
