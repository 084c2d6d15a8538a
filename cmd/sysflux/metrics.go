package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
)

// Where metrics are served by default: next to the hub's API (7700) and the agent's stream
// (7701).
const (
	defaultHubMetrics   = "127.0.0.1:7710"
	defaultAgentMetrics = "127.0.0.1:7711"
)

// metricsFlag is the address a process serves its Prometheus metrics on. Metrics are counts,
// agent addresses and ids, never records or tokens: they are served in plaintext, without
// authentication, as Prometheus scrapes them, on loopback unless told otherwise.
type metricsFlag struct {
	addr string
	cmd  *cobra.Command
}

func (f *metricsFlag) register(cmd *cobra.Command, def string) {
	f.cmd = cmd
	cmd.Flags().StringVar(&f.addr, "metrics-listen", def, `address to serve Prometheus metrics on, at /metrics, in plaintext ("" serves none)`)
}

// listen opens the metrics listener, nil when there is none to serve. When the default address
// is taken (another sysflux process on this node has it), metrics are not served, with a
// warning; an address given with the flag must be free.
func (f *metricsFlag) listen(log *slog.Logger) (net.Listener, error) {
	if f.addr == "" {
		return nil, nil
	}
	ln, err := listenTCP("metrics-listen", f.addr)
	if err != nil && !f.cmd.Flags().Changed("metrics-listen") {
		log.Warn("metrics not served: the default address is taken; pass --metrics-listen", "addr", f.addr, "err", err)
		return nil, nil
	}
	return ln, err
}

// serveMetrics serves the collectors, with the Go runtime's and the process's metrics, at
// /metrics on ln until ctx ends. A nil ln serves nothing.
func serveMetrics(ctx context.Context, ln net.Listener, log *slog.Logger, cs ...prometheus.Collector) error {
	if ln == nil {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		EnableOpenMetrics: true,
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics on %s: %w", ln.Addr(), err)
	}
	return nil
}

// runWithMetrics runs run, serving the collectors' metrics on ln (if not nil) until it returns.
func runWithMetrics(ctx context.Context, ln net.Listener, log *slog.Logger, cs []prometheus.Collector, run func(context.Context) error) error {
	if ln == nil {
		return run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serveMetrics(ctx, ln, log, cs...) }()
	err := run(ctx)
	cancel()
	return errors.Join(err, <-served)
}
