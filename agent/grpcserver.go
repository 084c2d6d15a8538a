package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/sysflux/sysflux/agent/rawcodec"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
)

// The largest messages of the agent's stream. A hub dials agents with the same bounds.
const (
	// MaxSendMessageBytes bounds a message the agent sends: a batch of at most BatchRecords
	// records (512 by default), 128 KiB a record on average. A SysFlow record takes far less:
	// the largest of the test traces takes 3.8 KiB (its longest fields are a command line and
	// paths), so a default batch of them takes 2 MiB, and grpc-go's default of 4 MiB would
	// refuse a batch of 1100.
	MaxSendMessageBytes = 64 << 20
	// MaxRecvMessageBytes bounds a message the agent receives from a hub: an Open, an
	// acknowledgement, or an edge policy (the hub's drop rules).
	MaxRecvMessageBytes = 16 << 20
)

// ServerConfig configures the agent's grpc-go server.
type ServerConfig struct {
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// TLS, when set, serves over TLS with it. With ClientCAs and RequireAndVerifyClientCert,
	// only hubs with a certificate signed by one of those CAs get through the handshake.
	TLS *tls.Config
	// AllowedHubs, when set, are the names a hub's verified client certificate must carry (as
	// a DNS name, a URI or its common name, compared without regard to case) for its calls to
	// be served; TLS must then require client certificates. Empty serves any hub that got
	// through the handshake.
	AllowedHubs []string
	// Options are added after the server's own.
	Options []grpc.ServerOption
}

// NewGRPCServer returns a grpc-go server that serves a's AgentService, gRPC health and
// reflection in plaintext, with slog logging and panic recovery; opts are added after the
// server's own.
func NewGRPCServer(a *Agent, log *slog.Logger, opts ...grpc.ServerOption) *grpc.Server {
	srv, err := NewServer(a, ServerConfig{Logger: log, Options: opts})
	if err != nil {
		panic(err) // a config without TLS or allowed hubs cannot fail
	}
	return srv
}

// NewServer returns a grpc-go server that serves a's AgentService, gRPC health and reflection,
// with slog logging, panic recovery, and the hub checks cfg asks for. Health checks are served
// to any client that got through the handshake; AgentService and reflection only to allowed
// hubs.
func NewServer(a *Agent, cfg ServerConfig) (*grpc.Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.AllowedHubs) > 0 && (cfg.TLS == nil || cfg.TLS.ClientAuth != tls.RequireAndVerifyClientCert || cfg.TLS.ClientCAs == nil) {
		return nil, errors.New("allowed hubs need TLS that requires and verifies client certificates")
	}
	rpcLog := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.StartCall, logging.FinishCall)}
	onPanic := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	checkHub := hubAuth(cfg.AllowedHubs, log)
	notHealth := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthpb.Health_ServiceDesc.ServiceName
	})
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(rawcodec.Codec{}),
		grpc.MaxRecvMsgSize(MaxRecvMessageBytes),
		grpc.MaxSendMsgSize(MaxSendMessageBytes),
		grpc.ChainUnaryInterceptor(
			logging.UnaryServerInterceptor(rpcLog, logOpts...),
			selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(checkHub), notHealth),
			recovery.UnaryServerInterceptor(onPanic),
		),
		grpc.ChainStreamInterceptor(
			logging.StreamServerInterceptor(rpcLog, logOpts...),
			selector.StreamServerInterceptor(auth.StreamServerInterceptor(checkHub), notHealth),
			recovery.StreamServerInterceptor(onPanic),
		),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	srv := grpc.NewServer(append(opts, cfg.Options...)...)
	agentv1.RegisterAgentServiceServer(srv, a)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(agentv1.AgentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	return srv, nil
}

// hubAuth returns the check of the hub calling: with allowed names, its verified client
// certificate must carry one of them. Refusals are logged with the method, the peer's address
// and the certificate's names.
func hubAuth(allowed []string, log *slog.Logger) auth.AuthFunc {
	return func(ctx context.Context) (context.Context, error) {
		method, _ := grpc.Method(ctx)
		var (
			addr string
			leaf *x509.Certificate
		)
		if p, ok := peer.FromContext(ctx); ok {
			addr = p.Addr.String()
			if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 && len(info.State.VerifiedChains[0]) > 0 {
				leaf = info.State.VerifiedChains[0][0]
			}
		}
		if len(allowed) == 0 {
			return ctx, nil
		}
		if leaf == nil {
			log.WarnContext(ctx, "call refused", "method", method, "peer", addr, "reason", "no verified client certificate")
			return nil, status.Error(codes.Unauthenticated, "a verified client certificate is required")
		}
		names := certNames(leaf)
		for _, n := range names {
			if slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, n) }) {
				return ctx, nil
			}
		}
		log.WarnContext(ctx, "call refused", "method", method, "peer", addr, "reason", "certificate names no allowed hub", "certificate", names)
		return nil, status.Error(codes.PermissionDenied, "the client certificate names no hub this agent serves")
	}
}

// certNames returns the names a certificate carries: DNS names, URIs and its common name.
func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	if c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return names
}
