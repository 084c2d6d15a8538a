package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

func newTailCommand(logs *logFlags) *cobra.Command {
	var (
		addr           string
		sec            clientFlags
		asJSON         bool
		count          int64
		types, nodes   []string
		ops            []string
		fromOldest     bool
		alerts         bool
		onlyAlerts     bool
		filter, celSrc string
		connectTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print records from a hub as they arrive",
		Example: `  sysflux tail --hub 127.0.0.1:7700 --count 10
  sysflux tail --json --type file_flow --op open --op write_send
  sysflux tail --filter 'spawned_process and proc.name in (shell_binaries)'
  sysflux tail --cel 'sf.type == "FF" && fd.name.startsWith("/etc/")'
  sysflux tail --only-alerts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			req := &hubv1.SubscribeRequest{NodeIds: nodes, FromOldest: fromOldest}
			switch {
			case onlyAlerts:
				req.Content = hubv1.SubscribeContent_SUBSCRIBE_CONTENT_ALERTS
			case alerts:
				req.Content = hubv1.SubscribeContent_SUBSCRIBE_CONTENT_RECORDS_AND_ALERTS
			}
			for _, t := range splitList(types) {
				rt, err := sysflux.ParseRecordType(t)
				if err != nil {
					return usageError("--type: %w", err)
				}
				req.RecordTypes = append(req.RecordTypes, rt)
			}
			for _, o := range splitList(ops) {
				f, err := sysflux.ParseOpFlag(o)
				if err != nil {
					return usageError("--op: %w", err)
				}
				req.OpFlags |= f
			}
			if count < 0 {
				return usageError("--count: %d is negative", count)
			}
			filterFlag := "--filter"
			switch {
			case cmd.Flags().Changed("filter") && cmd.Flags().Changed("cel"):
				return usageError("--filter and --cel: give one filter, in Falco's syntax or in CEL")
			case cmd.Flags().Changed("filter") && strings.TrimSpace(filter) == "", cmd.Flags().Changed("cel") && strings.TrimSpace(celSrc) == "":
				return usageError("--filter and --cel: the filter is empty")
			case cmd.Flags().Changed("cel"):
				req.Filter, req.FilterLanguage, filterFlag = celSrc, hubv1.FilterLanguage_FILTER_LANGUAGE_CEL, "--cel"
			default:
				req.Filter = filter
			}
			req.HeartbeatInterval = durationpb.New(10 * time.Second)
			ctx := cmd.Context()
			conn, err := sec.resolve(addr, log)
			if err != nil {
				return err
			}
			c, err := sysflux.Dial(ctx, addr, append(conn.clientOptions(), sysflux.WithLogger(log))...)
			if err != nil {
				return usageError("--hub: %w", err)
			}
			defer c.Close()
			// Fail fast when the hub is not there, rather than retrying forever.
			pctx, cancel := context.WithTimeout(ctx, connectTimeout)
			_, err = c.ListAgents(pctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if aerr := authError(addr, err); aerr != nil {
					return aerr
				}
				if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
					return err // the hub answered: not an unreachable peer
				}
				return unreachableError(fmt.Errorf("hub %s is not reachable: %w", addr, err))
			}
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			var tw *tabwriter.Writer
			if !asJSON {
				tw = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tNODE\tAGENT\tSEQ\tTYPE\tSUMMARY")
			}
			sub := c.Subscribe(ctx, req)
			defer sub.Close()
			var n int64
			for sub.Next() {
				if a := sub.Alert(); a != nil {
					if asJSON {
						b, err := protojson.Marshal(a)
						if err != nil {
							return err
						}
						out.Write(b)
						out.WriteByte('\n')
					} else {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", a.GetTime().AsTime().UTC().Format("15:04:05.000000"), a.GetHostname(),
							a.GetPosition().GetAgentId(), a.GetPosition().GetSeq(), "ALERT", a.GetRule()+": "+a.GetOutput())
						tw.Flush()
					}
					n++
					if count > 0 && n >= count {
						return nil
					}
					if err := out.Flush(); err != nil {
						return err
					}
					continue
				}
				rec := sub.Record()
				if asJSON {
					b, err := protojson.Marshal(rec)
					if err != nil {
						return err
					}
					out.Write(b)
					out.WriteByte('\n')
				} else {
					ts := "-"
					if t := sysflux.Time(rec); t != 0 {
						ts = time.Unix(0, t).UTC().Format("15:04:05.000000")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", ts, rec.GetNodeId(), rec.GetAgentId(), rec.GetSeq(), sysflux.TypeName(rec), sysflux.Summary(rec))
					tw.Flush()
				}
				n++
				if count > 0 && n >= count {
					return nil
				}
				if sub.Lost() > 0 && n%1024 == 0 {
					log.Warn("records lost by this subscriber", "lost", sub.Lost())
				}
				if err := out.Flush(); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			err = sub.Err()
			if aerr := authError(addr, err); aerr != nil {
				return aerr
			}
			var se interface{ GRPCStatus() *status.Status }
			if errors.As(err, &se) && se.GRPCStatus().Code() == codes.InvalidArgument && req.Filter != "" {
				// The hub's message says where in the filter the problem is.
				return usageError("%s: %s", filterFlag, se.GRPCStatus().Message())
			}
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "hub", "127.0.0.1:7700", "hub address HOST:PORT")
	sec.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one protojson object per line")
	cmd.Flags().Int64Var(&count, "count", 0, "exit after this many records (0: never)")
	cmd.Flags().StringArrayVar(&types, "type", nil, "record types to print, e.g. process,file_flow (repeatable)")
	cmd.Flags().StringArrayVar(&nodes, "node", nil, "nodes to print records of (repeatable)")
	cmd.Flags().StringArrayVar(&ops, "op", nil, "print records with any of these operations, e.g. open,connect (repeatable)")
	cmd.Flags().BoolVar(&alerts, "alerts", false, "print the alerts of the hub's rules too")
	cmd.Flags().BoolVar(&onlyAlerts, "only-alerts", false, "print only the alerts of the hub's rules")
	cmd.Flags().BoolVar(&fromOldest, "from-oldest", false, "start with the oldest record the hub holds, not the next new one")
	cmd.Flags().StringVar(&filter, "filter", "", "print only the events and flows that match this Falco condition, which may use the hub's macros and lists")
	cmd.Flags().StringVar(&celSrc, "cel", "", "print only the events and flows that match this CEL expression over the same fields as --filter")
	cmd.Flags().DurationVar(&connectTimeout, "connect-timeout", 10*time.Second, "how long to wait for the hub at start")
	return cmd
}

// splitList splits comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
