package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sysflux/sysflux/clients/go/sysflux"
	"github.com/sysflux/sysflux/internal/mtls"
)

// tokenEnv is the environment variable clients read their bearer token from.
const tokenEnv = "SYSFLUX_TOKEN"

// isLoopback reports whether addr (host:port) is on the loopback interface: localhost, an
// address of 127.0.0.0/8, or ::1. An empty host (every interface) is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// exposed checks what serving or dialling addr without protection is allowed: nothing on
// loopback; with insecure, anything, with a warning naming the address and what is missing;
// else it fails with a usage error naming the flag, what is missing and how to add it.
// missing lists what addr lacks ("TLS", "client authentication"); none means it is protected.
func exposed(log *slog.Logger, flag, addr string, insecure bool, missing []string, remedy string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usageError("--%s: %q is not host:port", flag, addr)
	}
	if len(missing) == 0 || isLoopback(addr) {
		return nil
	}
	what := strings.Join(missing, " and no ")
	if insecure {
		log.Warn("--insecure: --"+flag+" "+addr+" is not a loopback address and has no "+what, "flag", flag, "addr", addr, "missing", missing)
		return nil
	}
	return usageError("--%s %s is not a loopback address and has no %s: %s, or pass --insecure to accept that", flag, addr, what, remedy)
}

// serverTLSFlags are a server's TLS flags.
type serverTLSFlags struct {
	cert, key, clientCA string
}

// register adds --tls-cert, --tls-key and --tls-client-ca; who names the clients.
func (f *serverTLSFlags) register(cmd *cobra.Command, who string) {
	cmd.Flags().StringVar(&f.cert, "tls-cert", "", "serve over TLS with this PEM certificate (chain); needs --tls-key")
	cmd.Flags().StringVar(&f.key, "tls-key", "", "the PEM private key of --tls-cert")
	cmd.Flags().StringVar(&f.clientCA, "tls-client-ca", "", "require "+who+" to present a certificate signed by this PEM CA (needs --tls-cert)")
}

// config returns the TLS configuration the flags ask for, nil for none.
func (f *serverTLSFlags) config() (*tls.Config, error) {
	switch {
	case f.cert == "" && f.key == "" && f.clientCA == "":
		return nil, nil
	case f.cert == "" || f.key == "":
		return nil, usageError("--tls-cert and --tls-key: give both, to serve over TLS")
	}
	cfg, err := mtls.ServerConfig(mtls.ServerFiles{Cert: f.cert, Key: f.key, ClientCA: f.clientCA})
	if err != nil {
		return nil, usageError("--tls-cert, --tls-key, --tls-client-ca: %w", err)
	}
	return cfg, nil
}

// agentDialFlags are the hub's flags for dialling agents over TLS.
type agentDialFlags struct {
	ca, cert, key string
}

func (f *agentDialFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.ca, "agent-ca", "", "dial agents over TLS, verifying that their certificates chain to this PEM CA and name the host dialled")
	cmd.Flags().StringVar(&f.cert, "agent-cert", "", "the PEM client certificate the hub presents to agents (needs --agent-key and --agent-ca)")
	cmd.Flags().StringVar(&f.key, "agent-key", "", "the PEM private key of --agent-cert")
}

// config returns the TLS configuration of the hub's agent connections, nil for plaintext.
func (f *agentDialFlags) config() (*tls.Config, error) {
	switch {
	case f.ca == "" && f.cert == "" && f.key == "":
		return nil, nil
	case f.ca == "":
		return nil, usageError("--agent-cert and --agent-key need --agent-ca, the CA of the agents' certificates")
	case (f.cert == "") != (f.key == ""):
		return nil, usageError("--agent-cert and --agent-key: give both, or neither")
	}
	cfg, err := mtls.ClientConfig(mtls.ClientFiles{CA: f.ca, Cert: f.cert, Key: f.key})
	if err != nil {
		return nil, usageError("--agent-ca, --agent-cert, --agent-key: %w", err)
	}
	return cfg, nil
}

// clientFlags are the TLS and token flags of the commands that call a hub.
type clientFlags struct {
	ca, cert, key string
	token         string
	insecure      bool
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.ca, "tls-ca", "", "connect to the hub over TLS, trusting this PEM CA for its certificate")
	cmd.Flags().StringVar(&f.cert, "tls-cert", "", "the PEM client certificate to present to a hub that asks for one (needs --tls-key)")
	cmd.Flags().StringVar(&f.key, "tls-key", "", "the PEM private key of --tls-cert")
	cmd.Flags().StringVar(&f.token, "token", "", "bearer token for the hub (default: $"+tokenEnv+"; prefer the variable: flags show in ps)")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "connect without TLS to a hub that is not on loopback")
}

// clientConn is how a command connects to a hub: its TLS configuration (nil for plaintext)
// and bearer token ("" for none).
type clientConn struct {
	tls   *tls.Config
	token string
}

// resolve checks the flags for a hub at addr.
func (f *clientFlags) resolve(addr string, log *slog.Logger) (*clientConn, error) {
	c := &clientConn{token: f.token}
	if c.token == "" {
		c.token = strings.TrimSpace(os.Getenv(tokenEnv))
	}
	useTLS := f.ca != "" || f.cert != "" || f.key != ""
	if useTLS && f.insecure {
		return nil, usageError("--insecure and --tls-ca, --tls-cert, --tls-key: give TLS flags or --insecure, not both")
	}
	if !useTLS {
		missing := []string{"TLS"}
		remedy := "pass --tls-ca FILE to connect over TLS"
		if err := exposed(log, "hub", addr, f.insecure, missing, remedy); err != nil {
			return nil, err
		}
		return c, nil
	}
	cfg, err := mtls.ClientConfig(mtls.ClientFiles{CA: f.ca, Cert: f.cert, Key: f.key})
	if err != nil {
		return nil, usageError("--tls-ca, --tls-cert, --tls-key: %w", err)
	}
	c.tls = cfg
	return c, nil
}

// dialOptions returns the grpc-go dial options of the connection, as the Go client makes them.
func (c *clientConn) dialOptions() ([]grpc.DialOption, error) {
	return sysflux.DialOptions(c.clientOptions()...)
}

// clientOptions returns the Go client's options for the connection.
func (c *clientConn) clientOptions() []sysflux.Option {
	var opts []sysflux.Option
	if c.tls != nil {
		opts = append(opts, sysflux.WithTLS(c.tls))
	} else {
		opts = append(opts, sysflux.WithInsecure())
	}
	if c.token != "" {
		opts = append(opts, sysflux.WithToken(c.token))
	}
	return opts
}

// authError returns the command's error for a call the hub refused for its token, nil when
// err is not such a refusal.
func authError(addr string, err error) error {
	st := status.Convert(err)
	var hint string
	switch st.Code() {
	case codes.Unauthenticated:
		hint = "pass a token the hub holds with --token or $" + tokenEnv
	case codes.PermissionDenied:
		hint = "the token lacks the scope this command needs"
	case codes.ResourceExhausted:
		hint = "the token made too many calls: wait and retry"
	default:
		return nil
	}
	return &exitError{code: exitFailure, err: fmt.Errorf("hub %s refused the call: %s: %s (%s)", addr, st.Code(), st.Message(), hint)}
}
