// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

package proctable

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	// pfKthread is the PF_KTHREAD bit of a task's flags (field 9 of /proc/<pid>/stat).
	pfKthread = 0x00200000
	// maxCmdline bounds how much of /proc/<pid>/cmdline is read.
	maxCmdline = 64 << 10
	// maxEnvScan bounds how much of /proc/<pid>/environ is read looking for variables that fit.
	maxEnvScan = 1 << 20
)

var (
	// errGone says that a process disappeared (or its pid was reused) while it was being read.
	errGone = errors.New("process is gone")
	// errNotLeader says that a pid names a thread, not a process (thread group leader).
	errNotLeader = errors.New("not a thread group leader")
)

// isGone reports whether err says that the process read no longer exists.
func isGone(err error) bool {
	return errors.Is(err, errGone) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// procStat holds the fields of /proc/<pid>/stat that the table uses.
type procStat struct {
	pid, ppid  int32
	ttyNr      int64
	flags      uint64
	startTicks uint64
}

func (s procStat) kthread() bool { return s.flags&pfKthread != 0 }

// parseStat parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may hold
// spaces and parentheses itself, so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	var s procStat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return s, errors.New("malformed stat: no command name")
	}
	pid, err := strconv.ParseInt(string(bytes.TrimSpace(b[:open])), 10, 32)
	if err != nil {
		return s, fmt.Errorf("malformed stat: pid: %w", err)
	}
	s.pid = int32(pid)
	// f[0] is field 3 (state), so field n is f[n-3].
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 22-3+1 {
		return s, fmt.Errorf("malformed stat: %d fields after the command name", len(f))
	}
	ppid, err := strconv.ParseInt(f[4-3], 10, 32)
	if err != nil {
		return s, fmt.Errorf("malformed stat: ppid: %w", err)
	}
	s.ppid = int32(ppid)
	if s.ttyNr, err = strconv.ParseInt(f[7-3], 10, 64); err != nil {
		return s, fmt.Errorf("malformed stat: tty_nr: %w", err)
	}
	if s.flags, err = strconv.ParseUint(f[9-3], 10, 64); err != nil {
		return s, fmt.Errorf("malformed stat: flags: %w", err)
	}
	if s.startTicks, err = strconv.ParseUint(f[22-3], 10, 64); err != nil {
		return s, fmt.Errorf("malformed stat: starttime: %w", err)
	}
	return s, nil
}

// procStatus holds the fields of /proc/<pid>/status that the table uses.
type procStatus struct {
	tgid     int32
	uid, gid int32 // real ids
	// nsPid is the pid in the innermost pid namespace (the last NSpid value), 0 when the kernel
	// does not report NSpid (before Linux 4.1).
	nsPid int32
	// capInh, capPrm and capEff are the capability sets (CapInh, CapPrm, CapEff), nil when
	// absent.
	capInh, capPrm, capEff *uint64
}

func parseStatus(b []byte) (procStatus, error) {
	var s procStatus
	var seen int
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		switch key {
		case "Tgid":
			v, err := strconv.ParseInt(f[0], 10, 32)
			if err != nil {
				return s, fmt.Errorf("malformed status: Tgid: %w", err)
			}
			s.tgid = int32(v)
			seen |= 1
		case "Uid", "Gid":
			v, err := strconv.ParseUint(f[0], 10, 32)
			if err != nil {
				return s, fmt.Errorf("malformed status: %s: %w", key, err)
			}
			if key == "Uid" {
				s.uid = int32(uint32(v))
				seen |= 2
			} else {
				s.gid = int32(uint32(v))
				seen |= 4
			}
		case "CapInh", "CapPrm", "CapEff":
			v, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				return s, fmt.Errorf("malformed status: %s: %w", key, err)
			}
			switch key {
			case "CapInh":
				s.capInh = &v
			case "CapPrm":
				s.capPrm = &v
			default:
				s.capEff = &v
			}
		case "NSpid":
			v, err := strconv.ParseInt(f[len(f)-1], 10, 32)
			if err != nil {
				return s, fmt.Errorf("malformed status: NSpid: %w", err)
			}
			s.nsPid = int32(v)
		}
	}
	if seen != 7 {
		return s, errors.New("malformed status: Tgid, Uid or Gid missing")
	}
	return s, nil
}

// procInfo is what the table reads about one process from /proc.
type procInfo struct {
	stat     procStat
	createTS int64
	status   procStatus
	exe      string
	args     string
	cwd      string
	env      []string
	// containerID is the short container id, "" on the host.
	containerID string
	// loginUID is the login uid (-1 unset), nil when it cannot be read.
	loginUID *int32
}

// procReader reads processes from a /proc tree.
type procReader struct {
	root        string
	bootTimeNS  int64
	maxEnvBytes int // < 0: no environment
}

func (r procReader) dir(pid int32) string {
	return filepath.Join(r.root, strconv.FormatInt(int64(pid), 10))
}

// readStat reads /proc/<pid>/stat.
func (r procReader) readStat(pid int32) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(r.dir(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// read reads process pid. For a kernel thread it reads only stat. Files that cannot be read
// for other reasons than the process being gone (permissions, a zombie's exe) leave their
// fields empty. The process's stat is read again at the end: if the process is gone by then, or
// its pid now names another process, read returns errGone, so the fields never mix two
// processes.
func (r procReader) read(pid int32) (*procInfo, error) {
	dir := r.dir(pid)
	st, err := r.readStat(pid)
	if err != nil {
		return nil, fmt.Errorf("read stat: %w", err)
	}
	info := &procInfo{stat: st, createTS: createTimeFromTicks(r.bootTimeNS, st.startTicks)}
	if st.kthread() {
		return info, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	if info.status, err = parseStatus(b); err != nil {
		return nil, err
	}
	if info.status.tgid != pid {
		return nil, errNotLeader
	}
	if b, err := readFileLimit(filepath.Join(dir, "cmdline"), maxCmdline); err == nil {
		info.args = exeArgs(b)
	}
	info.exe, _ = os.Readlink(filepath.Join(dir, "exe"))
	info.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
	if r.maxEnvBytes >= 0 {
		info.env, _ = readEnv(filepath.Join(dir, "environ"), r.maxEnvBytes)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		info.containerID, _ = ContainerID(b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			id := int32(uint32(v))
			info.loginUID = &id
		}
	}
	again, err := r.readStat(pid)
	if err != nil || again.startTicks != st.startTicks {
		return nil, errGone
	}
	return info, nil
}

// entry reports whether the process is the first process of its pid namespace: pid 1 there.
func (s procStatus) entry(pid int32) bool {
	if s.nsPid == 0 {
		return pid == 1
	}
	return s.nsPid == 1
}

// exeArgs returns the arguments in a /proc/<pid>/cmdline after argv[0], their separating NULs
// replaced by spaces, as SysFlow records them.
func exeArgs(cmdline []byte) string {
	cmdline = bytes.TrimRight(cmdline, "\x00")
	_, args, ok := bytes.Cut(cmdline, []byte{0})
	if !ok {
		return ""
	}
	return strings.ReplaceAll(string(args), "\x00", " ")
}

// readFileLimit reads at most limit bytes of a file.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// readEnv reads the variables of a /proc/<pid>/environ, in order, keeping those that still fit
// in maxBytes bytes in total (counting NAME=value, without the NUL). A variable that does not fit
// is left out whole and the next ones are still considered.
func readEnv(path string, maxBytes int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := &io.LimitedReader{R: f, N: maxEnvScan}
	br := bufio.NewReaderSize(lr, max(maxBytes+1, 16))
	var env []string
	total := 0
	skipping := false // in the middle of a variable longer than the buffer
	for total < maxBytes {
		v, err := br.ReadSlice(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			skipping = true
			continue
		}
		s, whole := bytes.CutSuffix(v, []byte{0})
		if !whole && lr.N > 0 {
			whole = true // the last variable of a rewritten environment may lack its NUL
		}
		if whole && !skipping && len(s) > 0 && total+len(s) <= maxBytes {
			env = append(env, string(s))
			total += len(s)
		}
		skipping = false
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return env, err
		}
	}
	return env, nil
}

// readBootTime returns the boot time from the btime line of /proc/stat, in nanoseconds since
// the Unix epoch.
func readBootTime(procRoot string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse btime: %w", err)
			}
			return sec * 1_000_000_000, nil
		}
	}
	return 0, errors.New("no btime line")
}
