// Command alerts prints the alerts a sysflux hub's rules raise, as Falco prints them:
//
//	go run ./clients/go/examples/alerts -hub 127.0.0.1:7700 -token "$SYSFLUX_TOKEN"
//
// Each line is the alert's output, prefixed with its time and priority. With -json it prints
// each alert in Falco's JSON alert format instead. alerts runs until interrupted, or until
// -count alerts; the subscription survives hub restarts.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	hubv1 "github.com/sysflux/sysflux/gen/sysflux/hub/v1"
)

func main() {
	hub := flag.String("hub", "127.0.0.1:7700", "`address` of the hub's public API")
	token := flag.String("token", os.Getenv("SYSFLUX_TOKEN"), "bearer `token` (default $SYSFLUX_TOKEN)")
	count := flag.Int("count", 0, "exit after `N` alerts; 0 prints until interrupted")
	asJSON := flag.Bool("json", false, "print each alert as JSON, in Falco's format")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *hub, *token, *count, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "alerts:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, hub, token string, count int, asJSON bool) error {
	var opts []sysflux.Option
	if token != "" {
		opts = append(opts, sysflux.WithToken(token))
	}
	c, err := sysflux.Dial(ctx, hub, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	sub := c.Subscribe(ctx, &hubv1.SubscribeRequest{
		Content:           hubv1.SubscribeContent_SUBSCRIBE_CONTENT_ALERTS,
		HeartbeatInterval: durationpb.New(5 * time.Second),
	})
	defer sub.Close()
	enc := json.NewEncoder(os.Stdout)
	for n := 0; (count <= 0 || n < count) && sub.Next(); n++ {
		a := sub.Alert()
		if !asJSON {
			fmt.Println(a.GetOutput())
			continue
		}
		// Falco's JSON alert fields.
		if err := enc.Encode(map[string]any{
			"time": a.GetTime().AsTime().Format(time.RFC3339Nano), "rule": a.GetRule(), "priority": a.GetPriority(),
			"output": a.GetOutput(), "output_fields": a.GetOutputFields(), "source": a.GetSource(),
			"tags": a.GetTags(), "hostname": a.GetHostname(),
		}); err != nil {
			return err
		}
	}
	if err := sub.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
