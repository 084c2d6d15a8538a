package main

import (
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/ring"
)

// hubFlags configure a hub.
type hubFlags struct {
	listen      string
	agents      []string
	ringRecords int
	ringBytes   int64
}

func (f *hubFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:7700", "address the hub serves its API on (gRPC, gRPC-Web, Connect)")
	cmd.Flags().IntVar(&f.ringRecords, "ring-records", 1_000_000, "most records kept in memory for subscribers")
	cmd.Flags().Int64Var(&f.ringBytes, "ring-bytes", 512<<20, "most encoded bytes kept in memory for subscribers")
}

func (f *hubFlags) newHub(agents []string, log *slog.Logger) (*hub.Hub, error) {
	if f.ringRecords <= 0 || f.ringBytes <= 0 {
		return nil, usageError("--ring-records and --ring-bytes must be positive")
	}
	for _, a := range agents {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, usageError("--agent: %q is not host:port", a)
		}
	}
	host, _ := os.Hostname()
	return hub.New(hub.Config{
		ID:     host + "/" + f.listen,
		Agents: agents,
		Ring:   ring.Limits{MaxRecords: f.ringRecords, MaxBytes: f.ringBytes},
		Logger: log,
	})
}

func newHubCommand(logs *logFlags) *cobra.Command {
	f := &hubFlags{}
	cmd := &cobra.Command{
		Use:     "hub",
		Short:   "Run a hub: read records from agents and serve them to clients",
		Example: `  sysflux hub --listen 127.0.0.1:7700 --agent 10.0.0.5:7701 --agent 10.0.0.6:7701`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			if len(f.agents) == 0 {
				return usageError("no agent: pass --agent HOST:PORT (repeatable)")
			}
			h, err := f.newHub(f.agents, log)
			if err != nil {
				return err
			}
			ln, err := listenTCP("listen", f.listen)
			if err != nil {
				return err
			}
			return h.Serve(cmd.Context(), ln)
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&f.agents, "agent", nil, "agent address HOST:PORT to read from (repeatable)")
	return cmd
}
