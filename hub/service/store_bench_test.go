package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/agent/sfavro"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/internal/benchreport"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/field"
)

// Targets of the store on a 2-core machine.
const (
	targetIngestRate = 300_000
	targetScanRate   = 1_000_000
	targetExportRate = 300_000
)

// benchEntries returns n records made of copies of sfprocessor_k8s_small.sf, each copy shifted in
// time past the one before, as one agent would send them, and the records of one copy.
func benchEntries(tb testing.TB, n int) ([]ring.Entry, []*sysflowv1.Record) {
	tb.Helper()
	recs, err := sfavro.ReadFile(k8sTrace)
	if err != nil {
		tb.Fatal(err)
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, r := range recs {
		if t := field.Time(r); t > 0 {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	span := hi - lo + int64(time.Second)
	out := make([]ring.Entry, 0, n)
	for c := int64(0); len(out) < n; c++ {
		for _, r := range recs {
			if len(out) == n {
				break
			}
			r := proto.CloneOf(r)
			shift(r, c*span)
			r.NodeId, r.AgentId, r.Epoch, r.Seq = "bench-node", "bench-agent", 1, int64(len(out)+1)
			raw, err := proto.Marshal(r)
			if err != nil {
				tb.Fatal(err)
			}
			m, err := ring.Scan(raw)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, ring.Entry{NodeID: "bench-node", AgentID: "bench-agent", Epoch: 1, Seq: r.Seq, Type: m.Type, OpFlags: m.OpFlags, Raw: raw})
		}
	}
	return out, recs
}

// shift moves a record's times by d; object ids keep theirs, so copies share their entities.
func shift(r *sysflowv1.Record, d int64) {
	switch x := r.GetRec().(type) {
	case *sysflowv1.Record_Process:
		x.Process.Ts += d
	case *sysflowv1.Record_File:
		x.File.Ts += d
	case *sysflowv1.Record_ProcessEvent:
		x.ProcessEvent.Ts += d
	case *sysflowv1.Record_NetworkFlow:
		x.NetworkFlow.Ts += d
		x.NetworkFlow.EndTs += d
	case *sysflowv1.Record_FileFlow:
		x.FileFlow.Ts += d
		x.FileFlow.EndTs += d
	case *sysflowv1.Record_FileEvent:
		x.FileEvent.Ts += d
	case *sysflowv1.Record_ProcessFlow:
		x.ProcessFlow.Ts += d
		x.ProcessFlow.EndTs += d
	case *sysflowv1.Record_Pod:
		x.Pod.Ts += d
	case *sysflowv1.Record_K8SEvent:
		x.K8SEvent.Ts += d
	}
}

// ingest appends entries to a new store in batches, durably, and returns records/s.
func ingest(tb testing.TB, entries []ring.Entry, batch int) float64 {
	st, err := store.Open(store.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	for i := 0; i < len(entries); i += batch {
		if _, err := st.Append("bench-agent", entries[i:min(i+batch, len(entries))]); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(len(entries)) / time.Since(start).Seconds()
}

// fileIngest writes the same bytes to a file, synced after each batch: the least a durable
// write of them costs. It returns records/s.
func fileIngest(tb testing.TB, entries []ring.Entry, batch int) float64 {
	f, err := os.Create(filepath.Join(tb.TempDir(), "log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var buf []byte
	start := time.Now()
	for i := 0; i < len(entries); i += batch {
		buf = buf[:0]
		for _, e := range entries[i:min(i+batch, len(entries))] {
			buf = append(buf, e.Raw...)
		}
		if _, err := f.Write(buf); err != nil {
			tb.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(len(entries)) / time.Since(start).Seconds()
}

// decodeRate returns the records/s of proto.Unmarshal over entries, on one core.
func decodeRate(tb testing.TB, entries []ring.Entry) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.GC()
	var rec sysflowv1.Record
	start := time.Now()
	for _, e := range entries {
		rec.Reset()
		if err := proto.Unmarshal(e.Raw, &rec); err != nil {
			tb.Fatal(err)
		}
	}
	return float64(len(entries)) / time.Since(start).Seconds()
}

// queryScan pages through a query over the whole store and returns records scanned per second
// and records returned.
func queryScan(tb testing.TB, c hubv1connect.HubServiceClient, req *hubv1.QueryRequest) (float64, int) {
	var scanned int64
	var got int
	start := time.Now()
	for {
		resp, err := c.Query(context.Background(), connect.NewRequest(req))
		if err != nil {
			tb.Fatal(err)
		}
		scanned += resp.Msg.GetScannedRecords()
		got += len(resp.Msg.GetRecords())
		if req.PageToken = resp.Msg.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return float64(scanned) / time.Since(start).Seconds(), got
}

// exportAll exports the whole store and returns records written per second and the summary.
func exportAll(tb testing.TB, c hubv1connect.HubServiceClient, req *hubv1.ExportRequest) (float64, *hubv1.ExportSummary) {
	start := time.Now()
	stream, err := c.Export(context.Background(), connect.NewRequest(req))
	if err != nil {
		tb.Fatal(err)
	}
	defer stream.Close()
	var sum *hubv1.ExportSummary
	for stream.Receive() {
		if s := stream.Msg().GetSummary(); s != nil {
			sum = s
		}
	}
	if err := stream.Err(); err != nil && !errors.Is(err, io.EOF) {
		tb.Fatal(err)
	}
	return float64(sum.GetWrittenRecords()) / time.Since(start).Seconds(), sum
}

// TestStoreReport prints, over several rounds and as medians, the store's durable ingest rate,
// the Query scan rate with filters, the Export rate and the exported bytes per record, each next
// to a baseline measured in the same round, and their ratios. It never fails on speed. It runs
// only with SYSFLUX_BENCH=1 (make bench); SYSFLUX_BENCH_RECORDS sets the store's size.
func TestStoreReport(t *testing.T) {
	if os.Getenv("SYSFLUX_BENCH") != "1" {
		t.Skip("set SYSFLUX_BENCH=1 to run the store report")
	}
	rounds := benchreport.EnvInt(t, "SYSFLUX_BENCH_ROUNDS", 3)
	n := benchreport.EnvInt(t, "SYSFLUX_BENCH_RECORDS", 600_000)
	const batch = 512 // the agent's default batch
	entries, trace := benchEntries(t, n)

	// One store for the reads, filled once.
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < len(entries); i += 4096 {
		if _, err := st.Append("bench-agent", entries[i:min(i+4096, len(entries))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	rules, err := engine.NewActive(defaults.Files()...)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, service.New(service.Config{Ring: ring.New(ring.Limits{MaxRecords: 16}), Store: st, Policy: rules}).Handler())
	c := hubv1connect.NewHubServiceClient(http.DefaultClient, "http://"+addr)
	filters := []struct{ name, cond string }{
		{"shell execs", "spawned_process and proc.name in (shell_binaries)"},
		// Every file and network flow decoded; 5.5% of the records match, and come back with
		// their entities.
		{"/etc files", "fd.name startswith /etc/"},
		// Every file and network flow decoded; none matches.
		{"ssh keys", "fd.name startswith /root/.ssh/"},
	}
	// The first copy of the trace, exported alone, against the collector's file of it.
	traceEnd := int64(0)
	for _, r := range trace {
		traceEnd = max(traceEnd, field.Time(r))
	}
	fi, err := os.Stat(k8sTrace)
	if err != nil {
		t.Fatal(err)
	}
	_, one := exportAll(t, c, &hubv1.ExportRequest{EndTime: timestampOf(traceEnd + 1)})
	ourBPR := float64(one.GetWrittenBytes()) / float64(len(trace))
	theirBPR := float64(fi.Size()) / float64(len(trace))

	var out strings.Builder
	fmt.Fprintf(&out, "store of %d records (copies of sfprocessor_k8s_small.sf shifted in time), %d CPUs, hub and client in one process on loopback\n", n, runtime.NumCPU())
	fmt.Fprintf(&out, "ingest: store.Append of batches of %d, each synced to disk before the next; baseline: the same bytes appended to a file, synced per batch\n", batch)
	fmt.Fprintf(&out, "scan: Query over the whole store with a Falco filter, records scanned/s; export: Export of the whole store, records written/s; baseline: proto.Unmarshal of the records on one core\n")
	fmt.Fprintf(&out, "export size: %.2f bytes per record for the trace's %d records, SysFlow's file %.2f (%.3f)\n", ourBPR, len(trace), theirBPR, ourBPR/theirBPR)
	w := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "round\tingest/s\tfile/s\t×file\t≥300k\tdecode/s"
	for _, f := range filters {
		header += fmt.Sprintf("\tscan %s/s\t×decode", f.name)
	}
	fmt.Fprintln(w, header+"\t≥1M\texport/s\t×decode\t≥300k\t")
	var cols [][]float64
	for round := 1; round <= rounds; round++ {
		row := []float64{ingest(t, entries, batch), fileIngest(t, entries, batch), decodeRate(t, entries)}
		for _, f := range filters {
			rate, _ := queryScan(t, c, &hubv1.QueryRequest{Filter: f.cond, PageSize: 10000})
			row = append(row, rate)
		}
		rate, _ := exportAll(t, c, &hubv1.ExportRequest{})
		row = append(row, rate)
		cols = append(cols, row)
		printStoreRow(w, strconv.Itoa(round), row, len(filters))
	}
	med := make([]float64, len(cols[0]))
	for i := range med {
		v := make([]float64, len(cols))
		for j := range cols {
			v[j] = cols[j][i]
		}
		med[i] = benchreport.Median(v)
	}
	printStoreRow(w, "median", med, len(filters))
	w.Flush()
	fmt.Print(out.String())
}

func printStoreRow(w io.Writer, round string, r []float64, filters int) {
	ing, file, dec := r[0], r[1], r[2]
	fmt.Fprintf(w, "%s\t%.0f\t%.0f\t%.2f\t%s\t%.0f", round, ing, file, ing/file, benchreport.YesNo(ing >= targetIngestRate), dec)
	minScan := math.Inf(1)
	for i := range filters {
		s := r[3+i]
		minScan = min(minScan, s)
		fmt.Fprintf(w, "\t%.0f\t%.2f", s, s/dec)
	}
	exp := r[3+filters]
	fmt.Fprintf(w, "\t%s\t%.0f\t%.2f\t%s\t\n", benchreport.YesNo(minScan >= targetScanRate), exp, exp/dec, benchreport.YesNo(exp >= targetExportRate))
}

func timestampOf(ns int64) *timestamppb.Timestamp { return timestamppb.New(time.Unix(0, ns)) }
