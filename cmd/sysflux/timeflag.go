package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// timeFormats describes the values --since and --until accept, for help texts and errors.
const timeFormats = `RFC 3339 (2026-11-29T10:00:00Z), a date (2026-11-29, midnight UTC), "now", ` +
	`Unix seconds (1700000000, 1700000000.25) or nanoseconds (1700000000000000000), ` +
	`or a duration before now (90s, 15m, 2h30m, 7d, 1d12h)`

// Unix times are told apart by size: a number below maxUnixSeconds is seconds (up to the year
// 33658), a number from minUnixNanos on is nanoseconds (from 1973-03-03 on). The numbers in
// between are refused: they would be milliseconds or microseconds, which neither reading fits.
const (
	maxUnixSeconds = 1e12
	minUnixNanos   = 1e17
)

// parseTime reads the value of the time flag named flag: an instant, or a duration before now.
// The forms, tried in this order:
//
//   - "now": now.
//   - A number of digits, with an optional fraction: Unix time. Below 1e12 it is seconds, and
//     may have a fraction of up to 9 digits (1700000000.25). From 1e17 on it is nanoseconds,
//     without a fraction. Other numbers are refused.
//   - A date, YYYY-MM-DD: midnight UTC at its start.
//   - RFC 3339, with or without fractional seconds, with Z or an offset.
//   - A duration, meaning that long before now: a Go duration (90s, 15m, 2h30m), or days with
//     a d suffix, a fraction and a Go duration after them allowed (7d, 1.5d, 1d12h). It may not
//     be negative.
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(s)
	switch {
	case v == "":
		return time.Time{}, usageError("%s: no time given: give %s", flag, timeFormats)
	case v == "now":
		return now, nil
	case isUnixNumber(v):
		t, err := parseUnix(v)
		if err != nil {
			return time.Time{}, usageError("%s: %q: %v", flag, s, err)
		}
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, time.UTC); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if looksLikeTime(v) {
		return time.Time{}, usageError("%s: %q is not an RFC 3339 time (like 2026-11-29T10:00:00Z, with a zone) or a date (2026-11-29)", flag, s)
	}
	d, err := parseDuration(v)
	if err != nil {
		return time.Time{}, usageError("%s: %q is not a time: give %s", flag, s, timeFormats)
	}
	if d < 0 {
		return time.Time{}, usageError("%s: %q: a duration counts back from now and may not be negative", flag, s)
	}
	return now.Add(-d), nil
}

// isUnixNumber reports whether s is digits with an optional fraction.
func isUnixNumber(s string) bool {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasFrac || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// looksLikeTime reports whether s was meant as a date or a date and time: it starts with four
// digits and a dash.
func looksLikeTime(s string) bool {
	return len(s) > 5 && allDigits(s[:4]) && s[4] == '-'
}

// parseUnix reads Unix seconds or nanoseconds, told apart by size.
func parseUnix(s string) (time.Time, error) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("too large for Unix seconds or nanoseconds")
	}
	switch {
	case n < maxUnixSeconds:
		var nanos int64
		if hasFrac {
			if len(frac) > 9 {
				return time.Time{}, errors.New("Unix seconds with more than 9 digits after the point")
			}
			nanos, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		}
		return time.Unix(n, nanos).UTC(), nil
	case n >= minUnixNanos && !hasFrac:
		return time.Unix(0, n).UTC(), nil
	case n >= minUnixNanos:
		return time.Time{}, errors.New("Unix nanoseconds with a fraction")
	}
	return time.Time{}, errors.New("neither Unix seconds (below 1e12) nor Unix nanoseconds (1e17 and more); " +
		"write milliseconds or microseconds as seconds with a fraction (1700000000.123)")
}

// parseDuration reads a Go duration, or days with a d suffix followed by an optional Go
// duration: "7d", "1.5d", "1d12h".
func parseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	neg := strings.HasPrefix(days, "-")
	days = strings.TrimPrefix(days, "-")
	if !isUnixNumber(days) {
		return 0, fmt.Errorf("time: invalid duration %q", s)
	}
	n, err := strconv.ParseFloat(days, 64)
	if err != nil {
		return 0, fmt.Errorf("time: invalid duration %q", s)
	}
	d := n * float64(24*time.Hour)
	if d >= math.MaxInt64 {
		return 0, fmt.Errorf("time: duration %q is too long", s)
	}
	total := time.Duration(d)
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 {
			return 0, fmt.Errorf("time: invalid duration %q", s)
		}
		if total > math.MaxInt64-r {
			return 0, fmt.Errorf("time: duration %q is too long", s)
		}
		total += r
	}
	if neg {
		total = -total
	}
	return total, nil
}

// timeRange reads --since and --until, either of which may be empty for no bound, as the
// start and end of a Query or Export request (nil for no bound). Durations count back from
// now.
func timeRange(since, until string, now time.Time) (start, end *timestamppb.Timestamp, err error) {
	var s, e time.Time
	if since != "" {
		if s, err = parseTime("--since", since, now); err != nil {
			return nil, nil, err
		}
		start = timestamppb.New(s)
	}
	if until != "" {
		if e, err = parseTime("--until", until, now); err != nil {
			return nil, nil, err
		}
		end = timestamppb.New(e)
	}
	if start != nil && end != nil && e.Before(s) {
		return nil, nil, usageError("--since %s is after --until %s", s.UTC().Format(time.RFC3339Nano), e.UTC().Format(time.RFC3339Nano))
	}
	return start, end, nil
}
