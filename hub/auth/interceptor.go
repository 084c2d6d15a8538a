package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"

	"github.com/sysflux/sysflux/gen/sysflux/hub/v1/hubv1connect"
	"github.com/sysflux/sysflux/gen/sysflux/policy/v1/policyv1connect"
)

// open are the procedures that need no token.
var open = map[string]bool{
	"/grpc.health.v1.Health/Check":                                   true,
	"/grpc.health.v1.Health/Watch":                                   true,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// readProcedures are the procedures the read scope allows; the others need admin.
var readProcedures = map[string]bool{
	hubv1connect.HubServiceSubscribeProcedure:           true,
	hubv1connect.HubServiceListAgentsProcedure:          true,
	hubv1connect.HubServiceQueryProcedure:               true,
	hubv1connect.HubServiceGetProvenanceProcedure:       true,
	hubv1connect.HubServiceExportProcedure:              true,
	policyv1connect.PolicyServiceValidateRulesProcedure: true,
	policyv1connect.PolicyServiceListRulesProcedure:     true,
}

// Required returns the scope a procedure needs, and false for a procedure that needs no token.
// Procedures the package does not know need Admin.
func Required(procedure string) (Scope, bool) {
	switch {
	case open[procedure]:
		return "", false
	case readProcedures[procedure]:
		return Read, true
	}
	return Admin, true
}

// Interceptor is a connect.Interceptor that checks the bearer token of every call a handler
// receives. It is safe for concurrent use.
type Interceptor struct {
	tokens []*token
	log    *slog.Logger
}

// token is a Token with its limiter.
type token struct {
	Token
	limiter *rate.Limiter
}

// NewInterceptor returns an interceptor that admits the calls of tokens; refusals are logged
// to log (nil discards them).
func NewInterceptor(tokens *Tokens, log *slog.Logger) *Interceptor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	i := &Interceptor{log: log}
	for _, t := range tokens.List() {
		i.tokens = append(i.tokens, &token{Token: t, limiter: rate.NewLimiter(t.Rate, t.Burst)})
	}
	return i
}

// WrapUnary implements connect.Interceptor: it checks unary calls a handler receives.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.check(ctx, req.Spec().Procedure, req.Header(), req.Peer())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor; client streams pass unchanged.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor: it checks a stream when it opens.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.check(ctx, conn.Spec().Procedure, conn.RequestHeader(), conn.Peer())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// nameKey is the context key of the calling token's name.
type nameKey struct{}

// TokenName returns the name of the token a call was admitted with, if any.
func TokenName(ctx context.Context) (string, bool) {
	n, ok := ctx.Value(nameKey{}).(string)
	return n, ok
}

// check admits a call or returns the error it fails with.
func (i *Interceptor) check(ctx context.Context, procedure string, h http.Header, peer connect.Peer) (context.Context, error) {
	scope, needed := Required(procedure)
	if !needed {
		return ctx, nil
	}
	refuse := func(code connect.Code, msg, reason, name string) error {
		attrs := []any{"procedure", procedure, "peer", peer.Addr, "protocol", peer.Protocol, "reason", reason}
		if name != "" {
			attrs = append(attrs, "token", name)
		}
		i.log.WarnContext(ctx, "call refused", attrs...)
		err := connect.NewError(code, errors.New(msg))
		// gRPC sends an error's metadata as HTTP trailers, where HTTP forbids this header (the
		// server would log that it dropped it); Connect and gRPC-Web carry it.
		if code == connect.CodeUnauthenticated && peer.Protocol != connect.ProtocolGRPC {
			err.Meta().Set("WWW-Authenticate", `Bearer realm="sysflux"`)
		}
		return err
	}
	secret, ok := bearer(h.Get("Authorization"))
	if !ok {
		return nil, refuse(connect.CodeUnauthenticated, `no bearer token: send the header "authorization: Bearer TOKEN"`, "no bearer token", "")
	}
	t := i.find(secret)
	if t == nil {
		return nil, refuse(connect.CodeUnauthenticated, "the bearer token is not valid", "unknown token", "")
	}
	if !t.limiter.Allow() {
		return nil, refuse(connect.CodeResourceExhausted, "the token's rate limit is exceeded: retry later", "rate limit", t.Name)
	}
	if !t.has(scope) {
		return nil, refuse(connect.CodePermissionDenied, "the token lacks the "+string(scope)+" scope this call needs", "lacks scope "+string(scope), t.Name)
	}
	return context.WithValue(ctx, nameKey{}, t.Name), nil
}

// find returns the token whose hash is secret's, comparing with every token in constant time.
func (i *Interceptor) find(secret string) *token {
	sum := sha256.Sum256([]byte(secret))
	var found *token
	for _, t := range i.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.Hash[:]) == 1 {
			found = t
		}
	}
	return found
}

// bearer returns the token of an Authorization header value "Bearer TOKEN".
func bearer(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
