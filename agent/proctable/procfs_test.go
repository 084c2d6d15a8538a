// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, stat string
		want       procStat
		wantErr    bool
	}{
		{
			name: "real",
			stat: "13835 (cat) R 13833 13833 12097 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 321621 3133440 390 18446744073709551615 94298594795520 94298594815401 140733490136448 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94298594831408 94298594833024 94299624792064 140733490137792 140733490137812 140733490137812 140733490139115 0\n",
			want: procStat{pid: 13835, ppid: 13833, flags: 4194304, startTicks: 321621},
		},
		{
			name: "kernel thread",
			stat: "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: procStat{pid: 2, flags: 2129984, startTicks: 1},
		},
		{
			name: "command with spaces and parentheses",
			stat: "7 (a) b (c)) S 1 7 7 34816 7 4194304 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n",
			want: procStat{pid: 7, ppid: 1, ttyNr: 34816, flags: 4194304, startTicks: 99},
		},
		{name: "truncated", stat: "7 (sh) S 1 7 7 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0", wantErr: true},
		{name: "no command", stat: "7 sh S 1", wantErr: true},
		{name: "bad pid", stat: "x (sh) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0", wantErr: true},
		{name: "empty", stat: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStat(%q) error = %v, want error %t", tt.stat, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("parseStat(%q) = %+v, want %+v", tt.stat, got, tt.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (systemd) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n"))
	f.Add([]byte("7 (a) b (c)) S 1 7 7 34816 7 4194304 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b)
	})
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name, status string
		want         procStatus
		wantErr      bool
	}{
		{
			name:   "host",
			status: "Name:\tbash\nTgid:\t200\nPid:\t200\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\nNSpid:\t200\n",
			want:   procStatus{tgid: 200, uid: 1000, gid: 1000, nsPid: 200},
		},
		{
			name:   "container entry",
			status: "Tgid:\t300\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t300\t1\n",
			want:   procStatus{tgid: 300, nsPid: 1},
		},
		{
			name:   "no NSpid",
			status: "Tgid:\t300\nUid:\t4294967294\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
			want:   procStatus{tgid: 300, uid: -2},
		},
		{name: "no Uid", status: "Tgid:\t300\nGid:\t0\t0\t0\t0\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatus(%q) error = %v, want error %t", tt.status, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("parseStatus(%q) = %+v, want %+v", tt.status, got, tt.want)
			}
		})
	}
}

func TestExeArgs(t *testing.T) {
	tests := []struct{ cmdline, want string }{
		{cmdline: "", want: ""},
		{cmdline: "/bin/sh\x00", want: ""},
		{cmdline: "/bin/sh\x00-c\x00echo hi\x00", want: "-c echo hi"},
		{cmdline: "a\x00\x00b\x00", want: " b"},
		{cmdline: "postgres: writer process   ", want: ""},
	}
	for _, tt := range tests {
		if got := exeArgs([]byte(tt.cmdline)); got != tt.want {
			t.Errorf("exeArgs(%q) = %q, want %q", tt.cmdline, got, tt.want)
		}
	}
}

func TestReadEnv(t *testing.T) {
	long := "BIG=" + strings.Repeat("x", 100)
	tests := []struct {
		name, environ string
		max           int
		want          []string
	}{
		{name: "empty", environ: "", max: 10},
		{name: "all", environ: "A=1\x00B=2\x00", max: 10, want: []string{"A=1", "B=2"}},
		{name: "exactly", environ: "A=1\x00B=2\x00", max: 6, want: []string{"A=1", "B=2"}},
		{name: "whole variables", environ: "A=1\x00B=22\x00C=3\x00", max: 6, want: []string{"A=1", "C=3"}},
		{name: "longer than the buffer", environ: long + "\x00A=1\x00" + long + "\x00B=2\x00", max: 8, want: []string{"A=1", "B=2"}},
		{name: "rewritten, no final NUL", environ: "A=1\x00B=2", max: 10, want: []string{"A=1", "B=2"}},
		{name: "empty strings", environ: "\x00\x00A=1\x00", max: 10, want: []string{"A=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "environ")
			if err := os.WriteFile(path, []byte(tt.environ), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readEnv(path, tt.max)
			if err != nil {
				t.Fatalf("readEnv: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readEnv(%q, %d) mismatch (-want +got):\n%s", tt.environ, tt.max, diff)
			}
		})
	}
}

func TestIDNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	n := newIDNames(path, func() time.Time { return now })
	for id, want := range map[int32]string{0: "root", 1000: "alice", 1001: "1001", -1: "4294967295"} {
		if got := n.name(id); got != want {
			t.Errorf("name(%d) = %q, want %q", id, got, want)
		}
	}
	// A user added later is found once the file changed and a second has passed.
	if err := os.WriteFile(path, []byte("root:x:0:0::/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := n.name(1001); got != "1001" {
		t.Errorf("name(1001) within a second of the last check = %q, want %q", got, "1001")
	}
	now = now.Add(namesRecheck)
	if got := n.name(1001); got != "bob" {
		t.Errorf("name(1001) after the file changed = %q, want %q", got, "bob")
	}
	missing := newIDNames(filepath.Join(t.TempDir(), "none"), time.Now)
	if got := missing.name(0); got != "0" {
		t.Errorf("name(0) without a file = %q, want %q", got, "0")
	}
}
