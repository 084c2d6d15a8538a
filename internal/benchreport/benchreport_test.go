// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package benchreport_test

import (
	"testing"

	"github.com/sysflux/sysflux/internal/benchreport"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := benchreport.Median(tc.v); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestEnvInt(t *testing.T) {
	t.Setenv("SYSFLUX_TEST_N", "")
	if got := benchreport.EnvInt(t, "SYSFLUX_TEST_N", 7); got != 7 {
		t.Errorf("unset: %d, want 7", got)
	}
	t.Setenv("SYSFLUX_TEST_N", "12")
	if got := benchreport.EnvInt(t, "SYSFLUX_TEST_N", 7); got != 12 {
		t.Errorf("set: %d, want 12", got)
	}
}
