package agent

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/sysflux/sysflux/agent/rawcodec"
	agentv1 "github.com/sysflux/sysflux/gen/sysflux/agent/v1"
)

// NewGRPCServer returns a grpc-go server that serves a's AgentService, gRPC health and
// reflection, with slog logging and panic recovery. Callers add transport options (TLS) in opts.
func NewGRPCServer(a *Agent, log *slog.Logger, opts ...grpc.ServerOption) *grpc.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rpcLog := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.StartCall, logging.FinishCall)}
	onPanic := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	opts = append([]grpc.ServerOption{
		grpc.ForceServerCodecV2(rawcodec.Codec{}),
		grpc.ChainUnaryInterceptor(
			logging.UnaryServerInterceptor(rpcLog, logOpts...),
			recovery.UnaryServerInterceptor(onPanic),
		),
		grpc.ChainStreamInterceptor(
			logging.StreamServerInterceptor(rpcLog, logOpts...),
			recovery.StreamServerInterceptor(onPanic),
		),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}, opts...)
	srv := grpc.NewServer(opts...)
	agentv1.RegisterAgentServiceServer(srv, a)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(agentv1.AgentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	return srv
}
