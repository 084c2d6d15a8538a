package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sysflux/sysflux/agent"
	"github.com/sysflux/sysflux/hub/alert"
	"github.com/sysflux/sysflux/hub/auth"
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
	// TLS, when set, serves the public API over TLS with it (requiring client certificates if
	// it says so); nil serves it in cleartext (HTTP/1.1 and HTTP/2).
	TLS *tls.Config
	// Tokens, when set, are the bearer tokens the public API admits, each with its scopes and
	// rate (see package auth); nil admits every caller.
	Tokens *auth.Tokens
	// AgentTLS, when set, dials agents over TLS with it: the agent's certificate must chain to
	// its RootCAs and carry the host name dialled, and its Certificates are the hub's client
	// certificate. nil dials in cleartext.
	AgentTLS *tls.Config
	// CORSOrigins are the web origins ("https://console.example.com", or "*" for any) whose
	// pages may call the public API from a browser, by the Connect or gRPC-Web protocol;
	// none allows no cross-origin call.
	CORSOrigins []string
	// API bounds what clients of the public API may ask: its Ring, Agents, Policy, Store,
	// Alerts and Logger are the hub's own and are ignored here; zero limits are the service's
	// defaults.
	API service.Config
	// Logger receives the hub's logs; nil discards them.
	Logger *slog.Logger
}

// Hub reads from agents and serves what it read.
type Hub struct {
	tls     *tls.Config
	origins []string          // CORS origins
	auth    *auth.Interceptor // nil admits every caller
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
		DialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(agent.MaxSendMessageBytes), grpc.MaxCallSendMsgSize(agent.MaxRecvMessageBytes))},
	}
	if cfg.AgentTLS != nil {
		fcfg.DialOptions = append(fcfg.DialOptions, grpc.WithTransportCredentials(credentials.NewTLS(cfg.AgentTLS)))
	}
	edge := &edgePolicy{rules: cfg.Rules, log: log.With("component", "edge")}
	fcfg.EdgePolicy = edge.current
	var p *policy
	if cfg.Rules != nil {
		p = &policy{rules: cfg.Rules, broker: alert.NewBroker(0), agents: map[string]*agentPolicy{},
			batchSeconds: newBatchHistogram(), log: log.With("component", "policy")}
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
	scfg := cfg.API
	scfg.Ring, scfg.Agents, scfg.Policy, scfg.Store, scfg.Alerts = r, f, cfg.Rules, cfg.Store, nil
	scfg.Logger = log.With("component", "api")
	if p != nil {
		scfg.Alerts = p.broker
	}
	svc := service.New(scfg)
	h := &Hub{tls: cfg.TLS, origins: cfg.CORSOrigins, ring: r, fanin: f, service: svc, policy: p, store: cfg.Store, log: log}
	if cfg.Tokens != nil {
		h.auth = auth.NewInterceptor(cfg.Tokens, log.With("component", "auth"))
	}
	return h, nil
}

// tlsConfig returns the API's TLS configuration, offering HTTP/2 and HTTP/1.1 by ALPN.
func (h *Hub) tlsConfig() *tls.Config {
	c := h.tls.Clone()
	if len(c.NextProtos) == 0 {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
	return c
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
// With Config.TLS the API is served over TLS (HTTP/1.1 and HTTP/2 by ALPN), else in cleartext
// (HTTP/1.1 and HTTP/2 with prior knowledge).
func (h *Hub) Serve(ctx context.Context, ln net.Listener) error {
	defer h.fanin.Close()
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	var opts []connect.HandlerOption
	if h.auth != nil {
		opts = append(opts, connect.WithInterceptors(h.auth))
	}
	if h.tls != nil {
		protocols.SetHTTP2(true)
		ln = tls.NewListener(ln, h.tlsConfig())
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv := &http.Server{
		Handler:           withCORS(h.service.Handler(opts...), h.origins),
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
	h.log.Info("hub serving", "addr", ln.Addr().String(), "agents", len(h.fanin.Status()),
		"tls", h.tls != nil, "client_certificates", h.tls != nil && h.tls.ClientAuth == tls.RequireAndVerifyClientCert, "tokens", h.auth != nil)
	return g.Wait()
}
