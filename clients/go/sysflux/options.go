package sysflux

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Default reconnection delays of a Subscription.
const (
	DefaultBackoffMin = 200 * time.Millisecond
	DefaultBackoffMax = 10 * time.Second
	// DefaultConnectTimeout is how long a Subscription tries to open its first stream.
	DefaultConnectTimeout = 30 * time.Second
)

// An Option configures a Client at Dial.
type Option func(*options)

type options struct {
	tls            *tls.Config
	tlsSet         bool
	insecureSet    bool
	token          string
	tokenSet       bool
	dialOpts       []grpc.DialOption
	backoffMin     time.Duration
	backoffMax     time.Duration
	connectTimeout time.Duration
	logger         *slog.Logger
}

// WithTLS makes the client connect over TLS with cfg. A nil cfg uses the system's roots and
// verifies the hub's name against addr.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) {
		o.tls = cfg
		o.tlsSet = true
	}
}

// WithInsecure makes the client connect without TLS (HTTP/2 cleartext). It is the default when
// WithTLS is not given, and cannot be combined with WithTLS.
func WithInsecure() Option {
	return func(o *options) { o.insecureSet = true }
}

// WithToken sends token as "authorization: Bearer <token>" with every call. The token is also
// sent over a cleartext connection; with WithTLS, gRPC refuses to send it without TLS.
func WithToken(token string) Option {
	return func(o *options) {
		o.token = token
		o.tokenSet = true
	}
}

// WithDialOptions adds grpc-go dial options, applied after the client's own.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithBackoff sets the shortest and longest delay between a Subscription's reconnection attempts.
// Delays grow exponentially with jitter from minDelay to maxDelay and start again at minDelay once
// a stream delivers a message. The defaults are DefaultBackoffMin and DefaultBackoffMax.
func WithBackoff(minDelay, maxDelay time.Duration) Option {
	return func(o *options) {
		o.backoffMin = minDelay
		o.backoffMax = maxDelay
	}
}

// WithConnectTimeout sets how long a Subscription keeps trying to open its first stream before
// it ends with the last error, such as an unreachable hub; zero tries until its context ends.
// Once a stream was opened, a subscription reconnects until its context ends. The default is
// DefaultConnectTimeout.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) { o.connectTimeout = d }
}

// WithLogger makes the client log reconnections and lost records to logger. A nil logger, the
// default, discards them.
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) { o.logger = logger }
}

// newOptions applies opts over the defaults and checks the result.
func newOptions(opts ...Option) (*options, error) {
	o := &options{backoffMin: DefaultBackoffMin, backoffMax: DefaultBackoffMax, connectTimeout: DefaultConnectTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	var errs []error
	if o.tlsSet && o.insecureSet {
		errs = append(errs, errors.New("WithTLS and WithInsecure exclude each other"))
	}
	if o.tokenSet && o.token == "" {
		errs = append(errs, errors.New("WithToken: empty token"))
	}
	if o.connectTimeout < 0 {
		errs = append(errs, fmt.Errorf("WithConnectTimeout: %v is negative", o.connectTimeout))
	}
	if o.backoffMin <= 0 {
		errs = append(errs, fmt.Errorf("WithBackoff: minimum delay %v is not positive", o.backoffMin))
	}
	if o.backoffMax < o.backoffMin {
		errs = append(errs, fmt.Errorf("WithBackoff: maximum delay %v is below minimum %v", o.backoffMax, o.backoffMin))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// DialOptions returns the grpc-go dial options that opts stand for (transport security and
// token), for a connection of one's own to a hub: for the services Client does not wrap.
func DialOptions(opts ...Option) ([]grpc.DialOption, error) {
	o, err := newOptions(opts...)
	if err != nil {
		return nil, err
	}
	return o.dialOptions(), nil
}

// dialOptions returns the grpc-go dial options that o stands for.
func (o *options) dialOptions() []grpc.DialOption {
	secure := o.tlsSet
	var creds credentials.TransportCredentials
	if secure {
		cfg := o.tls
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		creds = credentials.NewTLS(cfg)
	} else {
		creds = insecure.NewCredentials()
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("sysflux-go"),
	}
	if o.token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearerToken{token: o.token, secure: secure}))
	}
	return append(dopts, o.dialOpts...)
}

// bearerToken sends a bearer token with every call.
type bearerToken struct {
	token  string
	secure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: the token needs TLS unless
// the client was made to connect without it.
func (b bearerToken) RequireTransportSecurity() bool { return b.secure }
