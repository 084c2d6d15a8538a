package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/cilium/ebpf"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sysflux/sysflux/bpf/bpftest"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
	"github.com/sysflux/sysflux/internal/benchreport"
)

// The capture overhead report: what live capture costs the workloads of the node it watches,
// and how many system calls each SysFlow record stands for. Each workload runs without and with
// a capturing agent (the sysflux binary, as a child process, with one consumer reading and
// acknowledging its stream as a hub does), alternately, over several rounds. Machines are
// noisy, so the figure that matters is the ratio with/without measured back to back; nothing
// here asserts on time.
//
//	SYSFLUX_BENCH=1 go test -run '^TestOverheadReport$' -count=1 -v ./cmd/sysflux   # as root
//
// SYSFLUX_BENCH_ROUNDS sets the rounds (default 3), SYSFLUX_BENCH_REDIS_REQUESTS the requests
// of each redis-benchmark test (default 200,000) and SYSFLUX_BENCH_DD_BYTES the bytes dd copies
// one at a time (default 2,000,000).

// Targets: redis-benchmark loses at most 5% of its throughput to capture, and each record
// stands for at least 13 system calls.
const (
	targetRedisRatio = 0.95 // throughput with the agent over without
	targetReduction  = 13   // system calls observed per record emitted
)

// untracedCalls is how many getppid calls the untraced workload makes.
const untracedCalls = 3_000_000

// overheadAgentArgs configure the agent under test. Active flows are reported every second
// (default 30s), idle ones after 2s (default 60s), and the agent samples the kernel's counters
// every third of a second (min(interval, idle)/3; 10s by default): the observed_syscalls it
// reports are then current a second after a workload ends. The price is an interval record for
// every flow that lasts more than a second, so the reduction measured is lower than the
// defaults would give, and the agent works more than it would.
var overheadAgentArgs = []string{"--flow-interval", "1s", "--flow-idle", "2s", "--stats-interval", "1s"}

// TestOverheadReport prints, for redis-benchmark against a local redis-server and for a dd
// copying one byte per system call, the throughput without and with the agent capturing, their
// ratio, the system calls the probes observed, the records the agent emitted, and the agent's
// CPU time and peak RSS. It runs only with SYSFLUX_BENCH=1 (make bench), as root.
func TestOverheadReport(t *testing.T) {
	if os.Getenv("SYSFLUX_BENCH") != "1" {
		t.Skip("set SYSFLUX_BENCH=1 to run the capture overhead report")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("SYSFLUX_REQUIRE_BPF") == "1" {
			t.Fatal("SYSFLUX_REQUIRE_BPF=1 but the capture overhead report is not running as root")
		}
		t.Skip("the capture overhead report runs the live agent: run it as root")
	}
	bpftest.Require(t)
	rounds := benchreport.EnvInt(t, "SYSFLUX_BENCH_ROUNDS", 3)
	requests := benchreport.EnvInt(t, "SYSFLUX_BENCH_REDIS_REQUESTS", 200_000)
	ddBytes := benchreport.EnvInt(t, "SYSFLUX_BENCH_DD_BYTES", 2_000_000)
	workloads := []benchWorkload{redisWorkload(t, requests), ddWorkload(t, ddBytes), untracedWorkload(untracedCalls)}

	samples := make(map[string][]overheadSample)
	var out strings.Builder
	fmt.Fprintf(&out, "redis: redis-benchmark %s against redis-server on loopback, in requests/s over both tests\n",
		strings.Join(redisBenchArgs(requests), " "))
	fmt.Fprintf(&out, "dd: dd bs=1 count=%d from one file to another, in read+write calls/s\n", ddBytes)
	fmt.Fprintf(&out, "getppid: %d getppid calls from one thread, which no probe traces, in calls/s: the toll on every system call\n", untracedCalls)
	fmt.Fprintf(&out, "agent: sysflux agent %s, one consumer acking every batch; %d CPUs\n",
		strings.Join(overheadAgentArgs, " "), runtime.NumCPU())
	fmt.Fprintf(&out, "syscalls: observed_syscalls of the agent's last Stats; records: every record it sent, shutdown flush included\n")
	fmt.Fprintf(&out, "ratio: with/without; in the median rows, the median of the rounds' ratios\n")
	fmt.Fprintf(&out, "agent CPU s: user+sys over the agent's life (rusage); CPU %%: its CPU during the workload over the workload's time\n")
	fmt.Fprintf(&out, "others CPU %%: CPU time of other processes over the workload's time, the larger of both runs: above 10, the round is noisy\n")
	w := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "round\tworkload\twithout/s\twith/s\tratio\t≥0.95\tsyscalls\trecords\tsyscalls/record\t≥13\tagent CPU s\tCPU %\tpeak RSS MiB\tothers CPU %\t")
	row := func(round string, wl benchWorkload, s overheadSample) {
		ratio := s.ratio()
		target := "-"
		if wl.targetRatio > 0 {
			target = benchreport.YesNo(ratio >= wl.targetRatio)
		}
		perRecord := float64(s.observed) / float64(max(s.records, 1))
		perRecordText, reduction := fmt.Sprintf("%.0f", perRecord), benchreport.YesNo(perRecord >= targetReduction)
		if wl.untraced {
			perRecordText, reduction = "-", "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%.0f\t%.0f\t%.3f\t%s\t%d\t%d\t%s\t%s\t%.2f\t%.1f\t%.1f\t%.0f\t\n", round, wl.name,
			s.without, s.with, ratio, target, s.observed, s.records, perRecordText, reduction,
			s.cpu.Seconds(), 100*s.cpuDuring.Seconds()/s.elapsed.Seconds(), float64(s.maxRSS)/(1<<20), 100*s.others)
	}
	// One run of each first, uncounted: the first redis-benchmark against a fresh server is
	// slower than the next ones, and would favour whichever of without and with comes second.
	for _, wl := range workloads {
		wl.run(t)
	}
	var notes, foreign []string
	for round := 1; round <= rounds; round++ {
		for _, wl := range workloads {
			// Alternate which goes first, so that a drift of the machine favours neither.
			var without measuredRun
			runWithout := func() {
				before := tracingPrograms(t)
				without = runMeasured(t, wl, 0)
				if n := max(before, tracingPrograms(t)); n > 0 {
					foreign = append(foreign, fmt.Sprintf("round %d, %s without the agent: %d", round, wl.name, n))
				}
			}
			if round%2 == 1 {
				runWithout()
			}
			if n := tracingPrograms(t); n > 0 {
				foreign = append(foreign, fmt.Sprintf("round %d, %s before starting the agent: %d", round, wl.name, n))
			}
			s := runWithAgent(t, wl)
			if round%2 == 0 {
				runWithout()
			}
			s.without = without.rate
			s.others = max(s.others, without.othersShare())
			samples[wl.name] = append(samples[wl.name], s)
			row(strconv.Itoa(round), wl, s)
			if round == rounds {
				notes = append(notes, fmt.Sprintf("%s, round %d: records by type %s; %d of them at shutdown; kernel drops %d",
					wl.name, round, formatCounts(s.byType), s.shutdownRecords, s.kernelDrops))
			}
		}
	}
	for _, wl := range workloads {
		row("median", wl, medianSample(samples[wl.name]))
	}
	w.Flush()
	for _, n := range notes {
		fmt.Fprintln(&out, n)
	}
	if len(foreign) > 0 {
		fmt.Fprintf(&out, "WARNING: other tracing eBPF programs were loaded (another agent or a kernel test?), so some runs measured them too: %s\n",
			strings.Join(foreign, "; "))
	}
	fmt.Print(out.String())
}

// overheadSample is what one pair of runs, without and with the agent, measured.
type overheadSample struct {
	without, with   float64 // throughput, in the workload's unit per second
	observed        int64   // system calls the probes observed (the agent's last Stats)
	records         int64   // records the agent sent, until it exited
	shutdownRecords int64   // of which after SIGTERM
	kernelDrops     int64   // records the kernel could not hand over (the agent's last Stats)
	cpu             time.Duration
	cpuDuring       time.Duration // the agent's CPU time while the workload ran
	elapsed         time.Duration // how long the workload ran
	maxRSS          int64         // bytes
	others          float64       // CPU share of other processes, the larger of both runs
	median          float64       // for a median row, the median of the rounds' ratios
	byType          map[string]int64
}

// ratio returns the throughput with the agent over without; for medians, the median of the
// rounds' ratios, since the runs of a round are the ones measured on the same machine.
func (s overheadSample) ratio() float64 {
	if s.median != 0 {
		return s.median
	}
	return s.with / s.without
}

// medianSample returns the median of each measure of samples.
func medianSample(samples []overheadSample) overheadSample {
	pick := func(f func(overheadSample) float64) float64 {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = f(s)
		}
		return benchreport.Median(v)
	}
	return overheadSample{
		without:   pick(func(s overheadSample) float64 { return s.without }),
		with:      pick(func(s overheadSample) float64 { return s.with }),
		median:    pick(overheadSample.ratio),
		observed:  int64(pick(func(s overheadSample) float64 { return float64(s.observed) })),
		records:   int64(pick(func(s overheadSample) float64 { return float64(s.records) })),
		cpu:       time.Duration(pick(func(s overheadSample) float64 { return float64(s.cpu) })),
		cpuDuring: time.Duration(pick(func(s overheadSample) float64 { return float64(s.cpuDuring) })),
		elapsed:   time.Duration(pick(func(s overheadSample) float64 { return float64(s.elapsed) })),
		maxRSS:    int64(pick(func(s overheadSample) float64 { return float64(s.maxRSS) })),
		others:    pick(func(s overheadSample) float64 { return s.others }),
	}
}

// runWithAgent starts a capturing agent and a consumer of its stream, runs the workload, waits
// for the agent's counters to cover it, stops the agent with SIGTERM and returns what it
// measured. The agent's records are counted until its stream ends, so flows it flushes at
// shutdown are included.
func runWithAgent(t *testing.T, wl benchWorkload) overheadSample {
	t.Helper()
	p := start(t, "agent", append([]string{"agent", "--listen", "127.0.0.1:0"}, overheadAgentArgs...)...)
	addr := p.WaitAddr(t)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Log(), "capture started") {
		if time.Now().After(deadline) {
			t.Fatalf("capture did not start:\n%s", p.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := consumeAgent(ctx, t, addr)
	pid := p.Cmd.Process.Pid

	run := runMeasured(t, wl, pid)
	end := time.Now()

	// The agent samples the kernel's counters three times a second and reports them every
	// second: the first Stats read a second after the end covers the workload.
	st := c.statsAfter(t, end.Add(time.Second), 15*time.Second)
	before := c.recordCount()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM agent: %v", err)
	}
	select {
	case <-p.Done:
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not exit within 30s of SIGTERM:\n%s", p.Log())
	}
	c.wait(t)
	if !p.Cmd.ProcessState.Success() {
		t.Fatalf("agent: %v\n%s", p.Cmd.ProcessState, p.Log())
	}
	ru, ok := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatalf("no rusage for the agent")
	}
	records := c.recordCount()
	return overheadSample{
		with:            run.rate,
		observed:        st.GetObservedSyscalls(),
		records:         records,
		shutdownRecords: records - before,
		kernelDrops:     st.GetKernelDroppedRecords(),
		cpu:             rusageCPU(p.Cmd.ProcessState),
		cpuDuring:       run.agentCPU,
		elapsed:         run.elapsed,
		others:          run.othersShare(),
		maxRSS:          ru.Maxrss << 10,
		byType:          c.types(),
	}
}

// measuredRun is one run of a workload and what the machine did meanwhile.
type measuredRun struct {
	workloadRun
	elapsed  time.Duration
	agentCPU time.Duration // the agent's CPU time, when there was one
	others   time.Duration // CPU time of everything else: not the workload, the agent or this test
}

// othersShare returns the CPU time of other processes over the run's time: 0.5 is half a CPU.
func (r measuredRun) othersShare() float64 { return r.others.Seconds() / r.elapsed.Seconds() }

// runMeasured runs wl once and measures the machine's CPU time meanwhile, telling apart the
// workload's, the agent's (agentPID; none when zero), this test's (the consumer) and the rest.
// A large rest means something else competed for the CPUs and the run is noisy.
func runMeasured(t *testing.T, wl benchWorkload, agentPID int) measuredRun {
	t.Helper()
	agent := func() time.Duration {
		if agentPID == 0 {
			return 0
		}
		return procCPU(t, agentPID)
	}
	node0, self0, agent0 := nodeCPU(t), procCPU(t, os.Getpid()), agent()
	begin := time.Now()
	r := measuredRun{workloadRun: wl.run(t)}
	r.elapsed = time.Since(begin)
	node1, self1, agent1 := nodeCPU(t), procCPU(t, os.Getpid()), agent()
	r.agentCPU = agent1 - agent0
	r.others = max(0, node1-node0-r.cpu-r.agentCPU-(self1-self0))
	return r
}

// nodeCPU returns the user and system time all CPUs have spent so far, from /proc/stat; time
// in interrupts, which the kernel does not charge to processes, is left out.
func nodeCPU(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	// cpu  user nice system idle iowait irq softirq steal ..., in clock ticks of 1/100 s.
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "cpu" {
		t.Fatalf("/proc/stat: %q", line)
	}
	var ticks int64
	for _, v := range f[1:4] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("/proc/stat: %q", line)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// agentConsumer reads an agent's stream as a hub does, acknowledging every batch, and counts
// the records it receives.
type agentConsumer struct {
	cc   *grpc.ClientConn
	done chan struct{}
	err  error // why the stream ended, once done is closed

	mu      sync.Mutex
	records int64
	byType  map[string]int64
	stats   *agentv1.Stats
	changed chan struct{} // closed and replaced when stats changes
}

// consumeAgent opens a stream to the agent on addr, waits for its Hello and reads it until the
// agent ends it.
func consumeAgent(ctx context.Context, t *testing.T, addr string) *agentConsumer {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	st, err := agentv1.NewAgentServiceClient(cc).StreamRecords(ctx)
	if err != nil {
		t.Fatalf("StreamRecords: %v", err)
	}
	open := &agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_Open{Open: &agentv1.Open{HubId: "overhead-report"}}}
	if err := st.Send(open); err != nil {
		t.Fatalf("send Open: %v", err)
	}
	first, err := st.Recv()
	if err != nil {
		t.Fatalf("receive Hello: %v", err)
	}
	hello := first.GetHello()
	if hello == nil {
		t.Fatalf("agent's first message is %v, want a Hello", first)
	}
	c := &agentConsumer{cc: cc, done: make(chan struct{}), byType: make(map[string]int64), changed: make(chan struct{})}
	recOneof := (&sysflowv1.Record{}).ProtoReflect().Descriptor().Oneofs().ByName("rec")
	go func() {
		defer close(c.done)
		for {
			resp, err := st.Recv()
			if err != nil {
				c.err = err
				return
			}
			switch m := resp.GetMessage().(type) {
			case *agentv1.StreamRecordsResponse_Batch:
				recs := m.Batch.GetRecords()
				if len(recs) == 0 {
					continue
				}
				c.mu.Lock()
				c.records += int64(len(recs))
				for _, r := range recs {
					name := "unknown"
					if f := r.ProtoReflect().WhichOneof(recOneof); f != nil {
						name = string(f.Name())
					}
					c.byType[name]++
				}
				c.mu.Unlock()
				ack := &agentv1.Ack{Epoch: hello.GetEpoch(), Seq: recs[len(recs)-1].GetSeq()}
				if err := st.Send(&agentv1.StreamRecordsRequest{Message: &agentv1.StreamRecordsRequest_Ack{Ack: ack}}); err != nil {
					c.err = err
					return
				}
			case *agentv1.StreamRecordsResponse_Stats:
				c.mu.Lock()
				c.stats = m.Stats
				close(c.changed)
				c.changed = make(chan struct{})
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *agentConsumer) recordCount() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.records
}

func (c *agentConsumer) types() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byType)
}

// statsAfter waits for a Stats read at or after at, for up to timeout.
func (c *agentConsumer) statsAfter(t *testing.T, at time.Time, timeout time.Duration) *agentv1.Stats {
	t.Helper()
	expired := time.After(timeout)
	for {
		c.mu.Lock()
		st, changed := c.stats, c.changed
		c.mu.Unlock()
		if st != nil && !st.GetReadTime().AsTime().Before(at) {
			return st
		}
		select {
		case <-changed:
		case <-c.done:
			t.Fatalf("agent stream ended while waiting for its Stats: %v", c.err)
		case <-expired:
			t.Fatalf("no Stats read after %v within %v (last: %v)", at.Format(time.RFC3339Nano), timeout, st)
		}
	}
}

// wait waits for the agent to end the stream. The stream ends with the agent: with an error
// (the connection closes) or cleanly, both fine here.
func (c *agentConsumer) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("agent stream still open 30s after the agent exited")
	}
}

// procCPU returns the user and system CPU time pid has used so far, from /proc/PID/stat.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses: state is field 3, utime 14
	// and stime 15, in clock ticks of 1/100 s (USER_HZ).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// tracingPrograms returns the number of tracepoint eBPF programs loaded on this machine: any
// outside the agent under test, such as another agent, make its runs cost more.
func tracingPrograms(t *testing.T) int {
	t.Helper()
	n := 0
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return n
		}
		if err != nil {
			t.Fatalf("list eBPF programs: %v", err)
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded since
		}
		info, err := prog.Info()
		prog.Close()
		if err == nil && (info.Type == ebpf.TracePoint || info.Type == ebpf.RawTracepoint) {
			n++
		}
	}
}

// formatCounts prints counts by name, largest first.
func formatCounts(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}
