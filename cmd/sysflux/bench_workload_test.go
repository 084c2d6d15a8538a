package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The workloads of the capture overhead report. Each run returns its throughput and the CPU
// time its processes used; they print nothing and assert nothing about time.

// benchWorkload is a workload the overhead report runs with and without the agent.
type benchWorkload struct {
	name string
	// targetRatio is the least throughput with the agent over without; zero when none.
	targetRatio float64
	// untraced: no probe traces what the workload does, so records do not stand for it.
	untraced bool
	// run runs the workload once.
	run func(t *testing.T) workloadRun
}

// workloadRun is what one run of a workload measured.
type workloadRun struct {
	rate float64       // throughput, in the workload's unit per second
	cpu  time.Duration // user and system time of the workload's processes
}

// rusageCPU returns the user and system time of an ended process.
func rusageCPU(ps *os.ProcessState) time.Duration {
	return ps.UserTime() + ps.SystemTime()
}

// redisPackages names the Debian packages the redis workload needs.
const redisPackages = "redis-server and redis-tools (apt-get install -y redis-server redis-tools)"

// redisBenchArgs are the redis-benchmark options: two tests of a fixed number of requests each,
// 50 connections, no pipelining, which give stable rates on two cores.
func redisBenchArgs(requests int) []string {
	return []string{"-q", "-n", strconv.Itoa(requests), "-c", "50", "-P", "1", "-t", "set,get", "--csv"}
}

// redisWorkload starts a redis-server of its own on a free loopback port, without persistence,
// stopped when the test ends, and returns a workload running redis-benchmark against it. Its
// unit is requests per second over both tests.
func redisWorkload(t *testing.T, requests int) benchWorkload {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): install the Debian packages %s", err, redisPackages)
	}
	bench, err := exec.LookPath("redis-benchmark")
	if err != nil {
		t.Fatalf("redis-benchmark not found (%v): install the Debian packages %s", err, redisPackages)
	}
	addr := freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(server, "--bind", host, "--port", port, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", t.TempDir())
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if err := waitRedis(addr, done); err != nil {
		t.Fatalf("redis-server on %s: %v\n%s", addr, err, logs.String())
	}
	args := append([]string{"-h", host, "-p", port}, redisBenchArgs(requests)...)
	return benchWorkload{
		name:        "redis set,get",
		targetRatio: targetRedisRatio,
		run: func(t *testing.T) workloadRun {
			t.Helper()
			server0 := procCPU(t, cmd.Process.Pid)
			run := exec.Command(bench, args...)
			out, err := run.Output()
			if err != nil {
				t.Fatalf("redis-benchmark %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
			}
			server1 := procCPU(t, cmd.Process.Pid)
			rate, err := redisRate(out)
			if err != nil {
				t.Fatalf("redis-benchmark %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return workloadRun{rate: rate, cpu: rusageCPU(run.ProcessState) + server1 - server0}
		},
	}
}

// waitRedis waits until the redis-server on addr answers PING.
func waitRedis(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			_, err = c.Write([]byte("PING\r\n"))
			var line string
			if err == nil {
				line, err = bufio.NewReader(c).ReadString('\n')
			}
			c.Close()
			if err == nil && strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within 10s: %v", err)
		}
	}
}

// redisRate returns the rate over every test of redis-benchmark's CSV output: requests over the
// time all tests took, each test having run the same number of requests.
func redisRate(out []byte) (float64, error) {
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("parse CSV: %w", err)
	}
	if len(rows) < 2 || len(rows[0]) < 2 || rows[0][1] != "rps" {
		return 0, fmt.Errorf("want a header with an rps column and one row per test")
	}
	var perRequest float64 // seconds per request, summed over tests
	for _, row := range rows[1:] {
		rps, err := strconv.ParseFloat(row[1], 64)
		if err != nil || rps <= 0 {
			return 0, fmt.Errorf("test %s: bad rate %q", row[0], row[1])
		}
		perRequest += 1 / rps
	}
	return float64(len(rows)-1) / perRequest, nil
}

// ddWorkload returns a workload copying a file of size bytes to another with dd, one byte per
// read and per write: every system call is a read or a write of a file the agent saw opened, so
// each one goes through the probe's counting path. Its unit is read and write calls per second.
func ddWorkload(t *testing.T, size int) benchWorkload {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, bytes.Repeat([]byte{'x'}, size), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"if=" + src, "of=" + dst, "bs=1", "count=" + strconv.Itoa(size), "status=none"}
	return benchWorkload{
		name: "dd bs=1",
		run: func(t *testing.T) workloadRun {
			t.Helper()
			start := time.Now()
			run := exec.Command("dd", args...)
			if out, err := run.CombinedOutput(); err != nil {
				t.Fatalf("dd %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return workloadRun{rate: float64(2*size) / time.Since(start).Seconds(), cpu: rusageCPU(run.ProcessState)}
		},
	}
}

// untracedWorkload makes n getppid calls from one thread of the test process, a system call no
// probe traces: what it loses with the agent is the toll every system call pays once any syscall
// tracepoint is attached (the kernel's traced slow path), the floor of the overhead. Its unit is
// calls per second.
func untracedWorkload(n int) benchWorkload {
	return benchWorkload{
		name:     "getppid",
		untraced: true,
		run: func(t *testing.T) workloadRun {
			t.Helper()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var before, after unix.Rusage
			if err := unix.Getrusage(unix.RUSAGE_THREAD, &before); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			for range n {
				unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
			}
			elapsed := time.Since(start)
			if err := unix.Getrusage(unix.RUSAGE_THREAD, &after); err != nil {
				t.Fatal(err)
			}
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			return workloadRun{rate: float64(n) / elapsed.Seconds(), cpu: cpu}
		},
	}
}

// stderrOf returns what a failed command wrote to its standard error, if Output kept it.
func stderrOf(err error) []byte {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Stderr
	}
	return nil
}
