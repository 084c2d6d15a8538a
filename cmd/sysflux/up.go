package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/sysflux/sysflux/agent"
)

func newUpCommand(logs *logFlags) *cobra.Command {
	var (
		af      = &agentFlags{}
		hf      = &hubFlags{}
		metrics = &metricsFlag{}
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run an agent and a hub in one process: everything for this node",
		Long: `up runs an agent and a hub in one process. The agent serves only that hub, in
plaintext on loopback (--agent-listen). The hub's API listens on loopback by default
(--listen), in plaintext; on another address it needs TLS and --tokens or
--tls-client-ca, as sysflux hub does.`,
		Example: `  sysflux up                      # capture this node live (root)
  sysflux up --replay trace.sf    # or replay a SysFlow trace
  sysflux tail --hub 127.0.0.1:7700`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			// The agent serves only the hub of this process: over plaintext on loopback.
			if err := exposed(log, "agent-listen", af.listen, hf.insecure, []string{"TLS", "client certificate check"},
				"keep --agent-listen on loopback (the hub of this process is its only reader)"); err != nil {
				return err
			}
			srcs, err := af.sources(log)
			if err != nil {
				return err
			}
			aln, err := listenTCP("agent-listen", af.listen)
			if err != nil {
				return err
			}
			a, err := af.newAgent(aln, log.With("component", "agent"))
			if err != nil {
				aln.Close()
				return err
			}
			h, closeStore, err := hf.newHub([]string{aln.Addr().String()}, nil, log.With("component", "hub"))
			if err != nil {
				aln.Close()
				return err
			}
			defer closeStore()
			hln, err := listenTCP("listen", hf.listen)
			if err != nil {
				aln.Close()
				return err
			}
			mln, err := metrics.listen(log)
			if err != nil {
				aln.Close()
				hln.Close()
				return err
			}
			return runWithMetrics(cmd.Context(), mln, log, []prometheus.Collector{a.Metrics(), h.Metrics()}, func(ctx context.Context) error {
				g, ctx := errgroup.WithContext(ctx)
				g.Go(func() error { return runAgent(ctx, a, aln, srcs, agent.ServerConfig{}, log.With("component", "agent")) })
				g.Go(func() error { return h.Serve(ctx, hln) })
				return g.Wait()
			})
		},
	}
	hf.register(cmd)
	af.register(cmd, "agent-listen")
	metrics.register(cmd, defaultHubMetrics)
	return cmd
}
