package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/agent/capture"
	"github.com/sysflux/sysflux/agent/replay"
	"github.com/sysflux/sysflux/agent/spool"
)

// agentFlags configure an agent.
type agentFlags struct {
	listen        string
	replays       []string
	replayRate    float64
	agentID       string
	nodeID        string
	windowRecords int
	windowBytes   int64
	batchRecords  int
	flowInterval  time.Duration
	flowIdle      time.Duration
	statsInterval time.Duration

	capture *capture.Source // the live source, when not replaying
}

func (f *agentFlags) register(cmd *cobra.Command, listenFlag string) {
	cmd.Flags().StringVar(&f.listen, listenFlag, "127.0.0.1:7701", "address the agent serves hubs on")
	cmd.Flags().StringArrayVar(&f.replays, "replay", nil, "replay this SysFlow Avro trace file instead of capturing live (repeatable; replayed in order)")
	cmd.Flags().Float64Var(&f.replayRate, "replay-rate", 0, "most records replayed per second (0: as fast as the hub takes them)")
	cmd.Flags().StringVar(&f.agentID, "agent-id", "", "agent id stamped on records (default: NODE/PORT)")
	cmd.Flags().StringVar(&f.nodeID, "node", "", "node id stamped on records (default: host name)")
	cmd.Flags().IntVar(&f.windowRecords, "window-records", 1_000_000, "most records kept for hubs")
	cmd.Flags().Int64Var(&f.windowBytes, "window-bytes", 256<<20, "most encoded bytes kept for hubs")
	cmd.Flags().IntVar(&f.batchRecords, "batch-records", 512, "most records sent to a hub in one message")
	cmd.Flags().DurationVar(&f.flowInterval, "flow-interval", 30*time.Second, "how often an active flow is reported (live capture)")
	cmd.Flags().DurationVar(&f.statsInterval, "stats-interval", 10*time.Second, "how often the agent sends its counters to hubs")
	_ = cmd.Flags().MarkHidden("stats-interval")
	cmd.Flags().DurationVar(&f.flowIdle, "flow-idle", 60*time.Second, "how long a flow may be idle before it is reported and forgotten (live capture)")
}

// sources checks the flags and returns the agent's sources: the replayed files, or live
// capture of this node when there are none.
func (f *agentFlags) sources(log *slog.Logger) ([]agent.Source, error) {
	if f.replayRate < 0 {
		return nil, usageError("--replay-rate: %v is negative", f.replayRate)
	}
	if len(f.replays) == 0 {
		if f.flowInterval <= 0 || f.flowIdle <= 0 {
			return nil, usageError("--flow-interval and --flow-idle must be positive")
		}
		if err := capture.Check(); err != nil {
			return nil, fmt.Errorf("live capture: %w; pass --replay FILE to replay a SysFlow trace instead", err)
		}
		f.capture = capture.New(capture.Config{FlowInterval: f.flowInterval, IdleTimeout: f.flowIdle, Logger: log.With("component", "capture")})
		return []agent.Source{f.capture}, nil
	}
	var srcs []agent.Source
	for _, p := range f.replays {
		src := replay.File{Path: p, Rate: f.replayRate}
		if err := src.Check(); err != nil {
			return nil, usageError("--replay: %w", err)
		}
		srcs = append(srcs, src)
	}
	return srcs, nil
}

// listenTCP listens on addr, naming the flag in errors.
func listenTCP(flag, addr string) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, usageError("--%s: %q is not host:port: %w", flag, addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return ln, nil
}

// newAgent builds an agent for a listener.
func (f *agentFlags) newAgent(ln net.Listener, log *slog.Logger) (*agent.Agent, error) {
	if f.windowRecords <= 0 || f.windowBytes <= 0 || f.batchRecords <= 0 {
		return nil, usageError("--window-records, --window-bytes and --batch-records must be positive")
	}
	node := f.nodeID
	if node == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host name: %w", err)
		}
		node = h
	}
	id := f.agentID
	if id == "" {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		id = node + "/" + port
	}
	// A replay waits for the hub rather than lose records; live capture cannot wait, so it
	// drops the oldest unacknowledged records and counts them.
	overflow := spool.Block
	if f.capture != nil {
		overflow = spool.DropOldest
	}
	cfg := agent.Config{
		Window: spool.Config{
			NodeID: node, AgentID: id, Epoch: time.Now().UnixNano(),
			MaxRecords: f.windowRecords, MaxBytes: f.windowBytes, Overflow: overflow,
		},
		BatchRecords:  f.batchRecords,
		StatsInterval: f.statsInterval,
		Logger:        log,
	}
	if f.capture != nil {
		cfg.KernelDrops, cfg.DecodeErrors = f.capture.KernelDrops, f.capture.DecodeErrors
		cfg.ObservedSyscalls = f.capture.ObservedSyscalls
	}
	return agent.New(cfg), nil
}

// agentSecurityFlags are how an agent protects its records: TLS, the hubs it serves.
type agentSecurityFlags struct {
	tls         serverTLSFlags
	allowedHubs []string
	insecure    bool
}

func (f *agentSecurityFlags) register(cmd *cobra.Command) {
	f.tls.register(cmd, "hubs")
	cmd.Flags().StringArrayVar(&f.allowedHubs, "allowed-hub", nil, "serve only hubs whose client certificate names this host (DNS name, URI or common name; repeatable; needs --tls-client-ca; default: any hub with a certificate of the CA)")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow serving hubs on an address that is not loopback without TLS or client certificates (a warning is logged)")
}

// serverConfig checks the flags for an agent listening on addr and returns its server's
// configuration.
func (f *agentSecurityFlags) serverConfig(addr string, log *slog.Logger) (agent.ServerConfig, error) {
	cfg := agent.ServerConfig{AllowedHubs: f.allowedHubs}
	tlsCfg, err := f.tls.config()
	if err != nil {
		return cfg, err
	}
	if len(f.allowedHubs) > 0 && f.tls.clientCA == "" {
		return cfg, usageError("--allowed-hub needs --tls-client-ca: hubs are known by their client certificates")
	}
	for _, h := range f.allowedHubs {
		if strings.TrimSpace(h) == "" {
			return cfg, usageError("--allowed-hub: empty name")
		}
	}
	var missing []string
	switch {
	case tlsCfg == nil:
		missing = []string{"TLS", "client certificate check"}
	case f.tls.clientCA == "":
		missing = []string{"client certificate check"}
	}
	remedy := "serve hubs over mutual TLS with --tls-cert, --tls-key and --tls-client-ca"
	if err := exposed(log, "listen", addr, f.insecure, missing, remedy); err != nil {
		return cfg, err
	}
	cfg.TLS = tlsCfg
	return cfg, nil
}

// drainTimeout bounds how long a stopping agent waits for a hub to acknowledge its records.
const drainTimeout = 5 * time.Second

// runAgent serves a on ln with the server configuration and runs its sources until ctx ends.
func runAgent(ctx context.Context, a *agent.Agent, ln net.Listener, srcs []agent.Source, scfg agent.ServerConfig, log *slog.Logger) error {
	if scfg.Logger == nil {
		scfg.Logger = log.With("component", "grpc")
	}
	srv, err := agent.NewServer(a, scfg)
	if err != nil {
		ln.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil {
			return fmt.Errorf("serve %s: %w", ln.Addr(), err)
		}
		return nil
	})
	sourcesDone := make(chan struct{})
	g.Go(func() error {
		<-ctx.Done()
		<-sourcesDone // their last records (flows flushed at the end) are in the window
		// Give the hub a moment to take what the window holds: a graceful stop loses nothing
		// a connected hub acknowledges in time.
		dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		drained := a.Drain(dctx)
		cancel()
		if !drained {
			st := a.Window().Stats()
			log.Warn("stopping with records no hub acknowledged", "unacked", st.Next-1-st.Acked, "waited", drainTimeout)
		}
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			srv.Stop()
		}
		return nil
	})
	g.Go(func() error {
		defer close(sourcesDone)
		return a.Run(ctx, srcs...)
	})
	log.Info("agent serving", "addr", ln.Addr().String(), "agent", a.Window().AgentID(), "node", a.Window().NodeID(), "epoch", a.Window().Epoch(),
		"tls", scfg.TLS != nil, "client_certificates", scfg.TLS != nil && scfg.TLS.ClientCAs != nil, "allowed_hubs", scfg.AllowedHubs)
	return g.Wait()
}

func newAgentCommand(logs *logFlags) *cobra.Command {
	f := &agentFlags{}
	sec := &agentSecurityFlags{}
	metrics := &metricsFlag{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent: record this node (or replay traces) and serve the records to hubs",
		Long: `agent records this node (or replays SysFlow traces) and serves the records to the hubs
that dial it. On a loopback address it may serve in plaintext. On any other address it
serves hubs over mutual TLS: --tls-cert and --tls-key are its certificate, and hubs must
present a client certificate signed by --tls-client-ca (and, with --allowed-hub, naming
one of the hubs listed). --insecure allows less, with a warning.`,
		Example: `  sysflux agent --listen 127.0.0.1:7701 --replay trace.sf
  sysflux agent --listen 10.0.0.5:7701 --tls-cert agent.crt --tls-key agent.key \
      --tls-client-ca hubs-ca.crt --allowed-hub hub-a.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			scfg, err := sec.serverConfig(f.listen, log)
			if err != nil {
				return err
			}
			srcs, err := f.sources(log)
			if err != nil {
				return err
			}
			ln, err := listenTCP("listen", f.listen)
			if err != nil {
				return err
			}
			a, err := f.newAgent(ln, log)
			if err != nil {
				ln.Close()
				return err
			}
			mln, err := metrics.listen(log)
			if err != nil {
				ln.Close()
				return err
			}
			return runWithMetrics(cmd.Context(), mln, log, []prometheus.Collector{a.Metrics()}, func(ctx context.Context) error {
				return runAgent(ctx, a, ln, srcs, scfg, log)
			})
		},
	}
	f.register(cmd, "listen")
	sec.register(cmd)
	metrics.register(cmd, defaultAgentMetrics)
	return cmd
}
