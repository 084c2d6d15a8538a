// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable_test

import (
	"bufio"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sysflux/sysflux/agent/proctable"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
)

// helperEnv makes the test binary a helper process that waits for its stdin to close.
const helperEnv = "PROCTABLE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "wait" {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startHelper starts the test binary as a child process that runs until the test ends, with args
// after argv[0], extra environment variables before the inherited ones, and dir as its working
// directory.
func startHelper(t *testing.T, dir string, args []string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	// A race-enabled helper would sleep a second at exit; the first GORACE in the list wins.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(append(env, helperEnv+"=wait", "GORACE="+gorace), os.Environ()...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("StdinPipe: %v", err)
	}
	// Start returns once the child has executed the binary, so /proc shows its new image.
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	})
	return cmd
}

// Fixtures: testdata/proc is a /proc tree and testdata/etc holds passwd and group files. Boot
// time is fixtureBoot; a fixture process's start time in clock ticks is field 22 of its stat.
const (
	fixtureBoot = int64(1_700_000_000) * 1_000_000_000
	fixtureHost = "testdata"
)

// fixtureOID is the object id of fixture process pid started at ticks.
func fixtureOID(pid int32, ticks int64) *sysflowv1.OID {
	return &sysflowv1.OID{CreateTs: fixtureBoot + ticks*10_000_000, Hpid: int64(pid)}
}

// fakeProc copies testdata/proc to a temporary directory and returns its path. To keep the
// fixtures readable and free of symbolic links, the copy turns them into what /proc holds:
// cmdline and environ fixtures list one string per line and become NUL-terminated strings; exe
// and cwd fixtures hold a path and become symbolic links to it.
func fakeProc(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "proc")
	err := filepath.WalkDir("testdata/proc", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel("testdata/proc", path)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch d.Name() {
		case "exe", "cwd":
			return os.Symlink(strings.TrimSpace(string(b)), out)
		case "cmdline", "environ":
			b = []byte(strings.ReplaceAll(string(b), "\n", "\x00"))
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy fixtures: %v", err)
	}
	return dst
}

// fixedNow is the clock of fixture tables.
var fixedNow = time.Unix(1_800_000_000, 0)

// newFixtureTable returns a table over a fresh copy of the fixtures, and the copy's path.
func newFixtureTable(t *testing.T, cfg proctable.Config) (*proctable.Table, string) {
	t.Helper()
	cfg.ProcRoot = fakeProc(t)
	cfg.HostRoot = fixtureHost
	if cfg.MaxEnvBytes == 0 {
		cfg.MaxEnvBytes = 64
	}
	cfg.Now = func() time.Time { return fixedNow }
	tbl, err := proctable.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tbl, cfg.ProcRoot
}

// statField returns field n (1-based, as proc(5) numbers them) of /proc/<pid>/stat under root.
func statField(t *testing.T, root string, pid int, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatalf("read stat: %v", err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[n-3]
}

// btime returns the btime line of /proc/stat.
func btime(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/stat")
	if err != nil {
		t.Fatalf("open /proc/stat: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			return v
		}
	}
	t.Fatal("no btime in /proc/stat")
	return ""
}

// strp returns a pointer to s.
func strp(s string) *string { return &s }

// checkParentsFirst fails t unless every poid in recs names a record before it.
func checkParentsFirst(t *testing.T, recs []*sysflowv1.Process) {
	t.Helper()
	seen := make(map[[2]int64]bool)
	for _, p := range recs {
		if p.Poid != nil && !seen[[2]int64{p.Poid.CreateTs, p.Poid.Hpid}] {
			t.Errorf("process %d: parent %d not emitted before it", p.Oid.Hpid, p.Poid.Hpid)
		}
		seen[[2]int64{p.Oid.CreateTs, p.Oid.Hpid}] = true
	}
}
