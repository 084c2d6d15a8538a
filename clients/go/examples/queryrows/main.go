// Command queryrows runs a query on a sysflux hub and writes the records as rows of CSV, one per
// event or flow, with the process each belongs to resolved: ready for a spreadsheet or a
// notebook (pandas.read_csv).
//
//	go run ./clients/go/examples/queryrows -hub 127.0.0.1:7700 -filter 'proc.name = curl' -since 1h > rows.csv
//
// The columns are time, node, type, pid, exe, args, user, container and summary.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

func main() {
	hub := flag.String("hub", "127.0.0.1:7700", "`address` of the hub's public API")
	token := flag.String("token", os.Getenv("SYSFLUX_TOKEN"), "bearer `token` (default $SYSFLUX_TOKEN)")
	filter := flag.String("filter", "", "Falco `condition` the records must meet")
	since := flag.Duration("since", 0, "only records of this last `duration`; 0 for all")
	start := flag.String("start", "", "only records at or after this RFC 3339 `time`")
	end := flag.String("end", "", "only records before this RFC 3339 `time`")
	types := flag.String("type", "", "comma-separated record `types`, e.g. process_event,file_flow; default all")
	nodes := flag.String("node", "", "comma-separated `nodes` whose records to return; default all")
	limit := flag.Int("limit", 0, "stop after `N` rows; 0 for all")
	flag.Parse()

	req := &hubv1.QueryRequest{Filter: *filter, PageSize: 1000, NodeIds: split(*nodes)}
	if *since > 0 {
		req.StartTime = timestamppb.New(time.Now().Add(-*since))
	}
	for _, tt := range []struct {
		s   string
		dst **timestamppb.Timestamp
	}{{*start, &req.StartTime}, {*end, &req.EndTime}} {
		if tt.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, tt.s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "queryrows:", err)
			os.Exit(2)
		}
		*tt.dst = timestamppb.New(t)
	}
	for _, t := range split(*types) {
		rt, err := sysflux.ParseRecordType(t)
		if err != nil {
			fmt.Fprintln(os.Stderr, "queryrows: -type:", err)
			os.Exit(2)
		}
		req.RecordTypes = append(req.RecordTypes, rt)
	}
	if err := run(context.Background(), *hub, *token, req, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "queryrows:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' })
}

func run(ctx context.Context, hub, token string, req *hubv1.QueryRequest, limit int) error {
	var opts []sysflux.Option
	if token != "" {
		opts = append(opts, sysflux.WithToken(token))
	}
	c, err := sysflux.Dial(ctx, hub, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	w := csv.NewWriter(os.Stdout)
	w.Write([]string{"time", "node", "type", "pid", "exe", "args", "user", "container", "summary"})
	rows := 0
	for page, err := range c.QueryPages(ctx, req) {
		if err != nil {
			return err
		}
		procs := map[[2]int64]*sysflowv1.Process{}
		for _, e := range page.GetEntities() {
			if p := e.GetProcess(); p != nil {
				procs[[2]int64{p.GetOid().GetCreateTs(), p.GetOid().GetHpid()}] = p
			}
		}
		for _, r := range page.GetRecords() {
			if limit > 0 && rows == limit {
				w.Flush()
				return w.Error()
			}
			var p *sysflowv1.Process
			if oid := sysflux.ProcessOID(r); oid != nil {
				p = procs[[2]int64{oid.GetCreateTs(), oid.GetHpid()}]
			}
			w.Write([]string{
				time.Unix(0, sysflux.Time(r)).UTC().Format(time.RFC3339Nano), r.GetNodeId(), sysflux.TypeName(r),
				strconv.FormatInt(p.GetOid().GetHpid(), 10), p.GetExe(), p.GetExeArgs(), p.GetUserName(), p.GetContainerId(),
				sysflux.Summary(r),
			})
			rows++
		}
	}
	w.Flush()
	return w.Error()
}
