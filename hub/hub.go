package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sysflux/sysflux/hub/fanin"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
)

// Config configures a Hub.
type Config struct {
	// ID names the hub in agents' logs.
	ID string
	// Agents are the agent addresses to read from.
	Agents []string
	// Ring bounds the in-memory log of records.
	Ring ring.Limits
	// MinBackoff and MaxBackoff bound the wait between agent connection attempts.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the hub's logs; nil discards them.
	Logger *slog.Logger
}

// Hub reads from agents and serves what it read.
type Hub struct {
	ring    *ring.Ring
	fanin   *fanin.Fanin
	service *service.Service
	log     *slog.Logger
}

// New returns a hub; nothing runs until Serve.
func New(cfg Config) (*Hub, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := ring.New(cfg.Ring)
	f, err := fanin.New(fanin.Config{
		Agents: cfg.Agents, HubID: cfg.ID, Ring: r,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff,
		Logger: log.With("component", "fanin"),
	})
	if err != nil {
		return nil, err
	}
	svc := service.New(service.Config{Ring: r, Agents: f, Logger: log.With("component", "api")})
	return &Hub{ring: r, fanin: f, service: svc, log: log}, nil
}

// Ring returns the hub's ring.
func (h *Hub) Ring() *ring.Ring { return h.ring }

// Serve reads from the agents and serves the public API on ln until ctx ends, then shuts down.
func (h *Hub) Serve(ctx context.Context, ln net.Listener) error {
	defer h.fanin.Close()
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h.service.Handler(),
		Protocols:         protocols,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	g, ctx := errgroup.WithContext(ctx)
	srv.BaseContext = func(net.Listener) context.Context { return ctx } // ends streams on shutdown
	g.Go(func() error { return h.fanin.Run(ctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", ln.Addr(), err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return srv.Close()
		}
		return nil
	})
	h.log.Info("hub serving", "addr", ln.Addr().String(), "agents", len(h.fanin.Status()))
	return g.Wait()
}
