// Command tail prints the records a sysflux hub serves, one line per record:
//
//	go run ./clients/go/examples/tail -hub 127.0.0.1:7700 -type file_flow,process -count 10
//
// Each line shows the record's agent, sequence number, type and a short summary. The
// subscription survives hub restarts: it resumes after the last record it printed. tail exits
// after -count records, on an interrupt, or with exit code 1 when the hub cannot be reached or
// refuses the subscription.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

func main() {
	hub := flag.String("hub", "127.0.0.1:7700", "`address` of the hub's public API")
	token := flag.String("token", os.Getenv("SYSFLUX_TOKEN"), "bearer `token` (default $SYSFLUX_TOKEN)")
	filter := flag.String("filter", "", "Falco `condition` the records must meet, e.g. 'proc.name = curl'")
	count := flag.Int("count", 0, "exit after `N` records; 0 prints until interrupted")
	fromOldest := flag.Bool("from-oldest", false, "start with the oldest record the hub holds")
	types := flag.String("type", "", "comma-separated record `types` to print, e.g. file_flow,process; default all")
	flag.Parse()

	req := &hubv1.SubscribeRequest{FromOldest: *fromOldest, Filter: *filter}
	for _, t := range strings.FieldsFunc(*types, func(r rune) bool { return r == ',' }) {
		rt, err := sysflux.ParseRecordType(t)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tail: -type:", err)
			os.Exit(2)
		}
		req.RecordTypes = append(req.RecordTypes, rt)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := []sysflux.Option{sysflux.WithLogger(slog.Default())}
	if *token != "" {
		opts = append(opts, sysflux.WithToken(*token))
	}
	if err := tail(ctx, *hub, opts, req, *count); err != nil {
		fmt.Fprintln(os.Stderr, "tail:", err)
		os.Exit(1)
	}
}

func tail(ctx context.Context, hub string, opts []sysflux.Option, req *hubv1.SubscribeRequest, count int) error {
	c, err := sysflux.Dial(ctx, hub, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	// Fail at once when the hub is not there, instead of retrying forever.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = c.ListAgents(pctx)
	cancel()
	if err != nil {
		return err
	}
	sub := c.Subscribe(ctx, req)
	defer sub.Close()
	for n := 0; (count <= 0 || n < count) && sub.Next(); n++ {
		r := sub.Record()
		fmt.Printf("%s %d %s %s\n", r.GetAgentId(), r.GetSeq(), sysflux.TypeName(r), sysflux.Summary(r))
	}
	if err := sub.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
