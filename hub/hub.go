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

	"github.com/sysflux/sysflux/hub/alert"
	"github.com/sysflux/sysflux/hub/fanin"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/engine"
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
	// Rules is the rule set the hub evaluates records against; nil evaluates none.
	Rules *engine.Active
	// Falcosidekick is the URL alerts are posted to, as Falco posts them; "" posts none.
	Falcosidekick string
	// Store, when set, keeps every record durably: records are acknowledged to agents once it
	// holds them, and Query, GetProvenance and Export read it. The hub applies its retention
	// while it serves; the caller opens and closes it.
	Store *store.Store
	// Logger receives the hub's logs; nil discards them.
	Logger *slog.Logger
}

// Hub reads from agents and serves what it read.
type Hub struct {
	ring    *ring.Ring
	fanin   *fanin.Fanin
	service *service.Service
	policy  *policy // nil without rules
	store   *store.Store
	log     *slog.Logger
}

// New returns a hub; nothing runs until Serve.
func New(cfg Config) (*Hub, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := ring.New(cfg.Ring)
	fcfg := fanin.Config{
		Agents: cfg.Agents, HubID: cfg.ID, Ring: r,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff,
		Logger: log.With("component", "fanin"),
	}
	edge := &edgePolicy{rules: cfg.Rules, log: log.With("component", "edge")}
	fcfg.EdgePolicy = edge.current
	var p *policy
	if cfg.Rules != nil {
		p = &policy{rules: cfg.Rules, broker: alert.NewBroker(0), agents: map[string]*agentPolicy{}, log: log.With("component", "policy")}
		if cfg.Falcosidekick != "" {
			p.sender = alert.NewSender(alert.SenderConfig{URL: cfg.Falcosidekick, Logger: log.With("component", "falcosidekick")})
		}
		fcfg.Inspect = p.inspect
	}
	if cfg.Store != nil {
		fcfg.Store = cfg.Store
	}
	f, err := fanin.New(fcfg)
	if err != nil {
		return nil, err
	}
	scfg := service.Config{Ring: r, Agents: f, Policy: cfg.Rules, Store: cfg.Store, Logger: log.With("component", "api")}
	if p != nil {
		scfg.Alerts = p.broker
	}
	svc := service.New(scfg)
	return &Hub{ring: r, fanin: f, service: svc, policy: p, store: cfg.Store, log: log}, nil
}

// PolicyStats are counts of the hub's rule evaluation.
type PolicyStats struct {
	// Evaluated records (entities excluded), Alerts raised, records Dropped and Tagged by rules,
	// and records that could not be decoded for evaluation.
	Evaluated, Alerts, Dropped, Tagged, DecodeErrors int64
	// Sent, SendDropped and SendFailures count alerts posted to Falcosidekick, alerts it never
	// took, and failed attempts.
	Sent, SendDropped, SendFailures int64
}

// PolicyStats returns the counts of the hub's rule evaluation; zero without rules.
func (h *Hub) PolicyStats() PolicyStats {
	p := h.policy
	if p == nil {
		return PolicyStats{}
	}
	st := PolicyStats{
		Evaluated: p.evaluated.Load(), Alerts: p.alerts.Load(), Dropped: p.dropped.Load(),
		Tagged: p.tagged.Load(), DecodeErrors: p.decodeErrors.Load(),
	}
	if p.sender != nil {
		st.Sent, st.SendDropped, st.SendFailures = p.sender.Stats()
	}
	return st
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
	if h.store != nil {
		g.Go(func() error { return h.store.Run(ctx) })
	}
	if h.policy != nil && h.policy.sender != nil {
		g.Go(func() error { return h.policy.sender.Run(ctx) })
	}
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
