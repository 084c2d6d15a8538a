package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTimeFlagParse(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"2026-11-29T10:00:00Z", time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)},
		{"2026-11-29T10:00:00.123456789Z", time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC)},
		{"2026-11-29T11:00:00+01:00", time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)},
		{" 2026-11-29 ", time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)},
		{"0", time.Unix(0, 0)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.25", time.Unix(1700000000, 250_000_000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)},
		{"999999999999", time.Unix(999999999999, 0)},
		{"1700000000000000000", time.Unix(0, 1700000000000000000)},
		{"100000000000000000", time.Unix(0, 1e17)},
		{"15m", now.Add(-15 * time.Minute)},
		{"2h30m", now.Add(-150 * time.Minute)},
		{"0s", now},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"1.5d", now.Add(-36 * time.Hour)},
		{"1d12h", now.Add(-36 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := parseTime("--since", tt.in, now)
		if err != nil {
			t.Errorf("parseTime(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTimeFlagErrors(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in, want string
	}{
		{"", "--until: no time given"},
		{"yesterday", `--until: "yesterday" is not a time: give RFC 3339`},
		{"2026-11-29T10:00:00", "is not an RFC 3339 time"},
		{"2026-13-01", "is not an RFC 3339 time"},
		{"1700000000000", "neither Unix seconds (below 1e12) nor Unix nanoseconds"},
		{"1700000000000000000.5", "Unix nanoseconds with a fraction"},
		{"1700000000.1234567891", "more than 9 digits"},
		{"99999999999999999999", "too large"},
		{"-5m", "may not be negative"},
		{"-2d", "may not be negative"},
		{"d", "is not a time"},
		{"1d-2h", "is not a time"},
		{"3w", "is not a time"},
		{"200000000d", "is not a time"},
	}
	for _, tt := range tests {
		_, err := parseTime("--until", tt.in, now)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--until") {
			t.Errorf("parseTime(%q) = %v, want a usage error naming --until saying %q", tt.in, err, tt.want)
		}
	}
}

func TestTimeFlagRange(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	start, end, err := timeRange("", "", now)
	if err != nil || start != nil || end != nil {
		t.Errorf(`timeRange("", "") = %v, %v, %v; want no bounds`, start, end, err)
	}
	start, end, err = timeRange("2h", "1h", now)
	if err != nil || !start.AsTime().Equal(now.Add(-2*time.Hour)) || !end.AsTime().Equal(now.Add(-time.Hour)) {
		t.Errorf(`timeRange("2h", "1h") = %v, %v, %v; want 10:00 to 11:00`, start, end, err)
	}
	start, end, err = timeRange("2026-11-29", "", now)
	if err != nil || !start.AsTime().Equal(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)) || end != nil {
		t.Errorf(`timeRange("2026-11-29", "") = %v, %v, %v; want from midnight on`, start, end, err)
	}
	if _, _, err := timeRange("1h", "2h", now); err == nil || !strings.Contains(err.Error(), "--since 2026-11-29T11:00:00Z is after --until 2026-11-29T10:00:00Z") {
		t.Errorf(`timeRange("1h", "2h") = %v, want an error saying --since is after --until`, err)
	}
	if _, _, err := timeRange("1h", "soon", now); err == nil || !strings.Contains(err.Error(), "--until") {
		t.Errorf(`timeRange("1h", "soon") = %v, want an error naming --until`, err)
	}
}

func TestTimeFlagDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"1h", time.Hour},
		{"90s", 90 * time.Second},
		{"1d", 24 * time.Hour},
		{"0.5d", 12 * time.Hour},
		{"2d6h30m", 54*time.Hour + 30*time.Minute},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "d", "xd", "1d1d", "1e3d", "+1d", "1dx"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}
