package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	sysflowv1 "github.com/sysflux/sysflux/gen/sysflow/v1"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/policy/field"
)

// defaultQueryLimit is how many records query prints without --limit or --all.
const defaultQueryLimit = 1000

// maxStoreMessageBytes bounds the messages the store commands accept from a hub: a page of
// 10000 records with their entities may exceed grpc-go's default of 4 MiB.
const maxStoreMessageBytes = 256 << 20

// storeFlags are the selectors of the commands that read a hub's store, as QueryRequest and
// ExportRequest have them.
type storeFlags struct {
	since, until   string
	nodes, types   []string
	filter, celSrc string
}

func (f *storeFlags) register(cmd *cobra.Command, verb string) {
	cmd.Flags().StringVar(&f.since, "since", "", "the earliest record time to "+verb+", inclusive: a time or a duration before now (2026-11-29T10:00:00Z, 2026-11-29, 1700000000, 15m, 7d)")
	cmd.Flags().StringVar(&f.until, "until", "", "the record time to stop before, exclusive, in the forms of --since (and \"now\")")
	cmd.Flags().StringArrayVar(&f.nodes, "node", nil, "nodes to "+verb+" records of (repeatable)")
	cmd.Flags().StringArrayVar(&f.types, "type", nil, "record types to "+verb+", e.g. process,file_flow (repeatable)")
	cmd.Flags().StringVar(&f.filter, "filter", "", verb+" only the events and flows that match this Falco condition, which may use the hub's macros and lists")
	cmd.Flags().StringVar(&f.celSrc, "cel", "", verb+" only the events and flows that match this CEL expression over the same fields as --filter")
}

// storeSelection is what storeFlags select, checked.
type storeSelection struct {
	start, end *timestamppb.Timestamp
	nodes      []string
	types      []sysflowv1.RecordType
	filter     string
	lang       hubv1.FilterLanguage
	// filterFlag is the flag the filter came from, for errors.
	filterFlag string
}

// selection checks the flags; durations in --since and --until count back from now.
func (f *storeFlags) selection(cmd *cobra.Command, now time.Time) (*storeSelection, error) {
	start, end, err := timeRange(f.since, f.until, now)
	if err != nil {
		return nil, err
	}
	s := &storeSelection{start: start, end: end, nodes: splitList(f.nodes)}
	for _, t := range splitList(f.types) {
		rt, err := sysflux.ParseRecordType(t)
		if err != nil {
			return nil, usageError("--type: %w", err)
		}
		s.types = append(s.types, rt)
	}
	switch {
	case cmd.Flags().Changed("filter") && cmd.Flags().Changed("cel"):
		return nil, usageError("--filter and --cel: give one filter, in Falco's syntax or in CEL")
	case cmd.Flags().Changed("filter") && strings.TrimSpace(f.filter) == "", cmd.Flags().Changed("cel") && strings.TrimSpace(f.celSrc) == "":
		return nil, usageError("--filter and --cel: the filter is empty")
	case cmd.Flags().Changed("cel"):
		s.filter, s.lang, s.filterFlag = f.celSrc, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, "--cel"
	case cmd.Flags().Changed("filter"):
		s.filter, s.filterFlag = f.filter, "--filter"
	}
	return s, nil
}

// dialHub returns a client of the hub at addr for the store commands, connected as sec says,
// and what closes it.
func dialHub(addr string, sec *clientFlags, log *slog.Logger) (hubv1.HubServiceClient, func() error, error) {
	cc, err := sec.resolve(addr, log)
	if err != nil {
		return nil, nil, err
	}
	opts, err := cc.dialOptions()
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, grpc.WithUserAgent("sysflux-cli"),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxStoreMessageBytes)))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, nil, usageError("--hub: %w", err)
	}
	return hubv1.NewHubServiceClient(conn), conn.Close, nil
}

// storeError turns the error of a Query, GetProvenance or Export call into the command's error:
// exit code 3 when the hub cannot be reached; 2 when it refused the request, with the line and
// column of each error of a filter that does not compile; else 1. what names the call for
// messages ("query", "export"); filterFlag is the flag the request's filter came from, "" for
// none.
func storeError(addr, what, filterFlag string, err error) error {
	if aerr := authError(addr, err); aerr != nil {
		return aerr
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable:
		return unreachableError(fmt.Errorf("hub %s is not reachable: %w", addr, err))
	case codes.DeadlineExceeded:
		return unreachableError(fmt.Errorf("hub %s did not answer in time: %s", addr, st.Message()))
	case codes.Unimplemented:
		return &exitError{code: exitFailure, err: fmt.Errorf("hub %s cannot %s: %s", addr, what, st.Message())}
	case codes.InvalidArgument:
		var msgs []string
		for _, d := range st.Details() {
			if re, ok := d.(*policyv1.RulesErrors); ok {
				for _, e := range re.GetErrors() {
					msgs = append(msgs, formatRulesError(e))
				}
			}
		}
		if filterFlag != "" && len(msgs) > 0 {
			return usageError("%s: %s", filterFlag, strings.Join(msgs, "\n"))
		}
		return usageError("hub %s refused the %s: %s", addr, what, st.Message())
	case codes.NotFound:
		return &exitError{code: exitFailure, err: fmt.Errorf("hub %s: %s", addr, st.Message())}
	}
	return &exitError{code: exitFailure, err: fmt.Errorf("hub %s: %s failed: %s: %s", addr, what, st.Code(), st.Message())}
}

func newQueryCommand(logs *logFlags) *cobra.Command {
	var (
		addr         string
		sec          clientFlags
		sel          storeFlags
		limit        int
		all          bool
		pageSize     int
		asJSON       bool
		withEntities bool
		timeout      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Print the records a hub has stored, in time order",
		Long: `query reads the records a hub has stored (a hub started with a --data directory),
in time order, page by page, and prints them as a table or, with --json, as one protojson
object per line. Without --limit or --all it prints the first 1000 records that match and
says on the standard error when more may match.

A filter (--filter, --cel) applies to events and flows: entities (processes, files,
containers, pods) and headers pass it unless it names their type with sf.type, so that
the records that match can be resolved. Leave them out with --type.

The table resolves each record's process and files from the entities the hub returns with
each page. With --json --entities, each entity a record references (process, file,
container, pod) is printed once, on its own line, before the first record that references
it, as in a SysFlow file; entities keep their type's field (process, file, ...) and carry
no agent, epoch or seq.

A line on the standard error ends the output: how many records were printed and how many
stored records the hub read for them.

--since and --until take RFC 3339 (2026-11-29T10:00:00Z), a date (2026-11-29, midnight
UTC), "now", Unix seconds (1700000000, 1700000000.25) or nanoseconds (digits from 1e17
on), or a duration before now (90s, 15m, 2h30m, 7d, 1d12h).`,
		Example: `  sysflux query --hub 127.0.0.1:7700 --since 15m
  sysflux query --since 2026-11-29 --until 2026-11-30 --type process_event --filter 'evt.type = execve'
  sysflux query --cel 'fd.name.startsWith("/etc/")' --all --json | jq .fileFlow.fd
  sysflux query --node node-a --type network_flow --limit 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			s, err := sel.selection(cmd, time.Now())
			if err != nil {
				return err
			}
			switch {
			case limit < 0:
				return usageError("--limit: %d is negative", limit)
			case all && cmd.Flags().Changed("limit"):
				return usageError("--limit and --all: give one")
			case pageSize < 0:
				return usageError("--page-size: %d is negative", pageSize)
			case withEntities && !asJSON:
				return usageError("--entities: only with --json; the table shows the entities in its PROCESS and SUMMARY columns")
			case timeout <= 0:
				return usageError("--timeout: %v is not positive", timeout)
			}
			if all {
				limit = 0
			}
			c, closeConn, err := dialHub(addr, &sec, log)
			if err != nil {
				return err
			}
			defer closeConn()
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			var p recordPrinter
			if asJSON {
				p = &jsonPrinter{w: out, entities: withEntities, seen: map[string]bool{}}
			} else {
				p = newTablePrinter(out)
			}
			req := &hubv1.QueryRequest{
				StartTime: s.start, EndTime: s.end, NodeIds: s.nodes, RecordTypes: s.types,
				Filter: s.filter, FilterLanguage: s.lang,
			}
			st, err := runQuery(cmd.Context(), c, req, pageSize, limit, timeout, p, out)
			if err != nil {
				if cmd.Context().Err() != nil {
					return nil
				}
				return storeError(addr, "query", s.filterFlag, err)
			}
			if err := out.Flush(); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			fmt.Fprintf(stderr, "%s; the hub read %s in %s\n", countOf(st.printed, "record"),
				countOf(st.scanned, "stored record"), countOf(st.pages, "page"))
			if st.more {
				fmt.Fprintf(stderr, "more records may match: stopped at --limit %d (--all prints them all)\n", limit)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "hub", "127.0.0.1:7700", "hub address HOST:PORT")
	sec.register(cmd)
	sel.register(cmd, "print")
	cmd.Flags().IntVar(&limit, "limit", defaultQueryLimit, "print at most this many records")
	cmd.Flags().BoolVar(&all, "all", false, "print every record that matches, however many")
	cmd.Flags().IntVar(&pageSize, "page-size", 0, "records to ask the hub for at a time (0: the hub's default, 1000; the hub caps it at 10000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one protojson object per line")
	cmd.Flags().BoolVar(&withEntities, "entities", false, "with --json, print each entity a record references once, before the record")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for each page")
	return cmd
}

// countOf returns "1 page", "2 pages".
func countOf(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return humanize.Comma(n) + " " + what + "s"
}

// queryStats is what runQuery did.
type queryStats struct {
	printed, scanned, pages int64
	// more is set when the limit stopped the query before the hub said there was no more.
	more bool
}

// recordPrinter prints a page's records, resolving them with the page's entities.
type recordPrinter interface {
	printPage(records, entities []*sysflowv1.Record) error
}

// runQuery pages through req, printing each page with p and flushing out after it, until limit
// records (0: no limit) or the end. Each page asks for pageSize records, or fewer when fewer
// remain to the limit.
func runQuery(ctx context.Context, c hubv1.HubServiceClient, req *hubv1.QueryRequest, pageSize, limit int, timeout time.Duration,
	p recordPrinter, out *bufio.Writer) (queryStats, error) {
	var st queryStats
	for {
		size := pageSize
		if size == 0 {
			size = defaultPageSizeRequest
		}
		size = min(size, maxPageSizeRequest)
		if limit > 0 {
			size = min(size, limit-int(st.printed))
		}
		req.PageSize = int32(size)
		pctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := c.Query(pctx, req)
		cancel()
		if err != nil {
			return st, err
		}
		st.pages++
		st.scanned += resp.GetScannedRecords()
		recs := resp.GetRecords()
		if limit > 0 && len(recs) > limit-int(st.printed) {
			recs = recs[:limit-int(st.printed)] // a hub that sent more than was asked
		}
		if err := p.printPage(recs, resp.GetEntities()); err != nil {
			return st, err
		}
		if err := out.Flush(); err != nil {
			return st, err
		}
		st.printed += int64(len(recs))
		next := resp.GetNextPageToken()
		if next == "" {
			return st, nil
		}
		if limit > 0 && int(st.printed) >= limit {
			st.more = true
			return st, nil
		}
		if next == req.GetPageToken() {
			return st, fmt.Errorf("the hub returned the page token it was given: the query would not end")
		}
		req.PageToken = next
	}
}

// The page sizes a query asks for: the hub's default page size, and the most a hub returns.
const (
	defaultPageSizeRequest = 1000
	maxPageSizeRequest     = 10000
)

// entityID identifies an entity of a node: its type letter and id.
func entityID(node string, rec *sysflowv1.Record) string {
	switch x := rec.GetRec().(type) {
	case *sysflowv1.Record_Process:
		return entityProcKey(node, x.Process.GetOid())
	case *sysflowv1.Record_File:
		return entityFileKey(node, x.File.GetOid())
	case *sysflowv1.Record_Container:
		return node + "\x00c" + x.Container.GetId()
	case *sysflowv1.Record_Pod:
		return node + "\x00k" + x.Pod.GetId()
	}
	return ""
}

func entityProcKey(node string, oid *sysflowv1.OID) string {
	return fmt.Sprintf("%s\x00p%d/%d", node, oid.GetHpid(), oid.GetCreateTs())
}

func entityFileKey(node string, oid []byte) string { return node + "\x00f" + string(oid) }

// references returns the keys of the entities rec references: its process, the process's
// container, its files.
func references(rec *sysflowv1.Record, procs map[string]*sysflowv1.Process) []string {
	node := rec.GetNodeId()
	var keys []string
	if oid := field.ProcOID(rec); oid != nil {
		k := entityProcKey(node, oid)
		keys = append(keys, k)
		if p := procs[k]; p != nil && p.GetContainerId() != "" {
			keys = append(keys, node+"\x00c"+p.GetContainerId())
		}
	}
	file, newFile := field.FileOIDs(rec)
	for _, f := range [][]byte{file, newFile} {
		if len(f) > 0 {
			keys = append(keys, entityFileKey(node, f))
		}
	}
	return keys
}

// jsonPrinter prints records as protojson, one a line, and with entities each entity once
// before the first record that references it.
type jsonPrinter struct {
	w        io.Writer
	entities bool
	seen     map[string]bool // entities printed, by entityID
}

func (j *jsonPrinter) printPage(records, entities []*sysflowv1.Record) error {
	var (
		byKey map[string]*sysflowv1.Record
		procs map[string]*sysflowv1.Process
	)
	if j.entities {
		byKey = make(map[string]*sysflowv1.Record, len(entities))
		procs = map[string]*sysflowv1.Process{}
		for _, e := range entities {
			k := entityID(e.GetNodeId(), e)
			byKey[k] = e
			if p := e.GetProcess(); p != nil {
				procs[k] = p
			}
		}
	}
	for _, rec := range records {
		if j.entities {
			for _, k := range references(rec, procs) {
				e := byKey[k]
				if e == nil || j.seen[k] {
					continue
				}
				j.seen[k] = true
				if p := e.GetProcess(); p != nil && p.GetContainerId() != "" {
					// A process's container before it, and the container's pod before that.
					if err := j.printContainer(e.GetNodeId(), p.GetContainerId(), byKey); err != nil {
						return err
					}
				}
				if err := j.print(e); err != nil {
					return err
				}
			}
			if k := entityID(rec.GetNodeId(), rec); k != "" {
				j.seen[k] = true // an entity that is itself a result is not printed again
			}
		}
		if err := j.print(rec); err != nil {
			return err
		}
	}
	return nil
}

func (j *jsonPrinter) printContainer(node, id string, byKey map[string]*sysflowv1.Record) error {
	k := node + "\x00c" + id
	c := byKey[k]
	if c == nil || j.seen[k] {
		return nil
	}
	j.seen[k] = true
	if pod := c.GetContainer().GetPodId(); pod != "" {
		if p, pk := byKey[node+"\x00k"+pod], node+"\x00k"+pod; p != nil && !j.seen[pk] {
			j.seen[pk] = true
			if err := j.print(p); err != nil {
				return err
			}
		}
	}
	return j.print(c)
}

func (j *jsonPrinter) print(rec *sysflowv1.Record) error {
	b, err := protojson.Marshal(rec)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = j.w.Write(b)
	return err
}

// tablePrinter prints records as a table, a page at a time.
type tablePrinter struct {
	tw *tabwriter.Writer
}

func newTablePrinter(w io.Writer) *tablePrinter {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tNODE\tTYPE\tPROCESS\tSUMMARY")
	return &tablePrinter{tw: tw}
}

func (t *tablePrinter) printPage(records, entities []*sysflowv1.Record) error {
	ents := newEntityIndex(entities)
	for _, rec := range records {
		fmt.Fprintf(t.tw, "%s\t%s\t%s\t%s\t%s\n", formatTime(sysflux.Time(rec)), rec.GetNodeId(), sysflux.TypeName(rec),
			ents.procName(rec.GetNodeId(), field.ProcOID(rec)), ents.summary(rec))
	}
	return t.tw.Flush()
}

// formatTime formats a record time in UTC, as --since and --until read it back; "-" for none.
func formatTime(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// entityIndex finds the entities of a response by id.
type entityIndex struct {
	procs map[string]*sysflowv1.Process
	files map[string]*sysflowv1.File
}

func newEntityIndex(entities []*sysflowv1.Record) *entityIndex {
	x := &entityIndex{procs: map[string]*sysflowv1.Process{}, files: map[string]*sysflowv1.File{}}
	for _, e := range entities {
		switch r := e.GetRec().(type) {
		case *sysflowv1.Record_Process:
			x.procs[entityProcKey(e.GetNodeId(), r.Process.GetOid())] = r.Process
		case *sysflowv1.Record_File:
			x.files[entityFileKey(e.GetNodeId(), r.File.GetOid())] = r.File
		}
	}
	return x
}

// procName names a process as "name[pid]", "[pid]" when the hub did not resolve it, "-" for
// no process.
func (x *entityIndex) procName(node string, oid *sysflowv1.OID) string {
	if oid == nil {
		return "-"
	}
	if p := x.procs[entityProcKey(node, oid)]; p != nil && p.GetExe() != "" {
		return fmt.Sprintf("%s[%d]", path.Base(p.GetExe()), oid.GetHpid())
	}
	return fmt.Sprintf("[%d]", oid.GetHpid())
}

// summary is sysflux.Summary with the paths of the files a record references.
func (x *entityIndex) summary(rec *sysflowv1.Record) string {
	s := sysflux.Summary(rec)
	file, newFile := field.FileOIDs(rec)
	for i, oid := range [][]byte{file, newFile} {
		if len(oid) == 0 {
			continue
		}
		p := "?"
		if f := x.files[entityFileKey(rec.GetNodeId(), oid)]; f != nil {
			p = f.GetPath()
		}
		switch {
		case p == "":
		case i == 0:
			s += " " + p
		default:
			s += " -> " + p
		}
	}
	return s
}

func newProvenanceCommand(logs *logFlags) *cobra.Command {
	var (
		addr         string
		sec          clientFlags
		pid          int64
		node         string
		createTS     int64
		maxRecords   int
		maxAncestors int
		asJSON       bool
		timeout      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "provenance",
		Short: "Show a stored process: its ancestors, its children and what each did",
		Long: `provenance asks a hub with a store for a process, by its pid (and its node when the
hub stores several, and its creation time when the pid was reused: without --create-ts
the most recently created process with that pid). It prints the family first: the
ancestors from the oldest down to the parent, the process (marked with *), and its
children; then the events and flows of each, at most --max-records of each, in time
order. With --json it prints the hub's answer as protojson.`,
		Example: `  sysflux provenance --hub 127.0.0.1:7700 --pid 4242
  sysflux provenance --node node-a --pid 4242 --create-ts 1700000000123456789 --max-records 20
  sysflux provenance --pid 4242 --json | jq '.ancestors[].process.exe'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			switch {
			case !cmd.Flags().Changed("pid"):
				return usageError("--pid: give the process's pid")
			case pid <= 0:
				return usageError("--pid: %d is not a process id", pid)
			case createTS < 0:
				return usageError("--create-ts: %d is negative", createTS)
			case maxRecords < 0:
				return usageError("--max-records: %d is negative", maxRecords)
			case maxAncestors < 0:
				return usageError("--max-ancestors: %d is negative", maxAncestors)
			case timeout <= 0:
				return usageError("--timeout: %v is not positive", timeout)
			}
			c, closeConn, err := dialHub(addr, &sec, log)
			if err != nil {
				return err
			}
			defer closeConn()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			resp, err := c.GetProvenance(ctx, &hubv1.GetProvenanceRequest{
				NodeId: node, Pid: pid, CreateTs: createTS,
				MaxRecordsPerProcess: int32(min(maxRecords, maxPageSizeRequest)), MaxAncestors: int32(min(maxAncestors, 64)),
			})
			if err != nil {
				if cmd.Context().Err() != nil {
					return nil
				}
				return storeError(addr, "show provenance", "", err)
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			if asJSON {
				b, err := protojson.MarshalOptions{Multiline: true}.Marshal(resp)
				if err != nil {
					return err
				}
				out.Write(b)
				out.WriteByte('\n')
			} else {
				printProvenance(out, node, resp)
			}
			return out.Flush()
		},
	}
	cmd.Flags().StringVar(&addr, "hub", "127.0.0.1:7700", "hub address HOST:PORT")
	sec.register(cmd)
	cmd.Flags().Int64Var(&pid, "pid", 0, "the process's host pid (required)")
	cmd.Flags().StringVar(&node, "node", "", "the node the process ran on; may be left out when the hub stores one node")
	cmd.Flags().Int64Var(&createTS, "create-ts", 0, "the process's creation time in ns since the Unix epoch (0: the latest process with the pid)")
	cmd.Flags().IntVar(&maxRecords, "max-records", 0, "the most events and flows shown of each process (0: the hub's default, 100)")
	cmd.Flags().IntVar(&maxAncestors, "max-ancestors", 0, "the most ancestors shown, nearest first (0: all, up to 64)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the hub's answer as protojson")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the hub's answer")
	return cmd
}

// printProvenance prints a process's family as a tree, then the records of each member.
func printProvenance(w io.Writer, node string, resp *hubv1.GetProvenanceResponse) {
	ents := newEntityIndex(resp.GetEntities())
	self := resp.GetProcess()
	if node == "" {
		node = resp.GetNodeId()
	}
	fmt.Fprintf(w, "process %s on node %s, created %s (--create-ts %d)\n", procLabel(self.GetProcess()), orDash(node),
		formatTime(self.GetProcess().GetOid().GetCreateTs()), self.GetProcess().GetOid().GetCreateTs())
	if c := self.GetProcess().GetContainerId(); c != "" {
		fmt.Fprintf(w, "container %s\n", c)
	}
	fmt.Fprintln(w)

	// The family: ancestors oldest first, then the process, then its children.
	ancestors := resp.GetAncestors()
	depth := 0
	for i := len(ancestors) - 1; i >= 0; i-- {
		fmt.Fprintf(w, "%s%s\n", treeIndent(depth, false), procLine(ancestors[i].GetProcess()))
		depth++
	}
	fmt.Fprintf(w, "%s%s   *\n", treeIndent(depth, false), procLine(self.GetProcess()))
	for i, child := range resp.GetChildren() {
		fmt.Fprintf(w, "%s%s\n", treeIndent(depth+1, i < len(resp.GetChildren())-1), procLine(child.GetProcess()))
	}

	// What each did, in the order of the tree.
	var members []*hubv1.ProcessProvenance
	for i := len(ancestors) - 1; i >= 0; i-- {
		members = append(members, ancestors[i])
	}
	members = append(members, self)
	members = append(members, resp.GetChildren()...)
	for _, m := range members {
		fmt.Fprintln(w)
		n := countOf(int64(len(m.GetRecords())), "record")
		if m.GetTruncated() {
			n += ", more not shown (--max-records)"
		}
		fmt.Fprintf(w, "%s: %s\n", procLabel(m.GetProcess()), n)
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		for _, rec := range m.GetRecords() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", formatTime(sysflux.Time(rec)), sysflux.TypeName(rec), ents.summary(rec))
		}
		tw.Flush()
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// treeIndent is the indentation of a tree line at depth: a branch when more siblings follow.
func treeIndent(depth int, more bool) string {
	if depth == 0 {
		return ""
	}
	branch := "└─ "
	if more {
		branch = "├─ "
	}
	return strings.Repeat("   ", depth-1) + branch
}

// procLabel names a process as "name[pid]".
func procLabel(p *sysflowv1.Process) string {
	name := path.Base(p.GetExe())
	if p.GetExe() == "" {
		name = "?"
	}
	return fmt.Sprintf("%s[%d]", name, p.GetOid().GetHpid())
}

// procLine describes a process in one line of the family tree.
func procLine(p *sysflowv1.Process) string {
	s := procLabel(p) + " " + p.GetExe()
	if a := p.GetExeArgs(); a != "" {
		s += " " + a
	}
	s += fmt.Sprintf("  uid=%d(%s) created %s", p.GetUid(), p.GetUserName(), formatTime(p.GetOid().GetCreateTs()))
	return s
}
