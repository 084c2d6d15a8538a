package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/auth"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
	"github.com/sysflux/sysflux/hub/store"
	"github.com/sysflux/sysflux/policy/defaults"
	"github.com/sysflux/sysflux/policy/engine"
)

// hubFlags configure a hub.
type hubFlags struct {
	listen      string
	agents      []string
	ringRecords int
	ringBytes   int64
	// rules are the rules files to run, in order, instead of the default rules.
	rules          []string
	noDefaultRules bool
	// sidekickURL is Falcosidekick's address, where alerts are posted.
	sidekickURL string
	// data is the store's directory, "" for none; retentionAge and retentionSize bound it.
	data          string
	retentionAge  time.Duration
	retentionSize string
	// maxSubscribers and maxFilterCost bound what API clients may ask.
	maxSubscribers int
	maxFilterCost  uint64
	// apiTLS, tokens and insecure protect the API.
	apiTLS   serverTLSFlags
	tokens   string
	insecure bool
	// corsOrigins are the web origins whose pages may call the API from a browser.
	corsOrigins []string
}

func (f *hubFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:7700", "address the hub serves its API on (gRPC, gRPC-Web, Connect)")
	cmd.Flags().IntVar(&f.ringRecords, "ring-records", 1_000_000, "most records kept in memory for subscribers")
	cmd.Flags().Int64Var(&f.ringBytes, "ring-bytes", 512<<20, "most encoded bytes kept in memory for subscribers")
	cmd.Flags().StringArrayVar(&f.rules, "rules", nil, "Falco rules file to run instead of the default rules (repeatable, loaded in order; each goes by its base name)")
	cmd.Flags().StringVar(&f.sidekickURL, "sidekick-url", "", "post alerts to Falcosidekick at this URL, as Falco's http_output does (e.g. http://127.0.0.1:2801/)")
	cmd.Flags().BoolVar(&f.noDefaultRules, "no-default-rules", false, "start without rules when no --rules is given, rather than with Falco's default rules")
	cmd.Flags().StringVar(&f.data, "data", defaultDataDir(), `directory of the hub's durable store; "" keeps records in memory only (no Query or Export)`)
	cmd.Flags().DurationVar(&f.retentionAge, "retention-age", 0, "keep records this far back from the newest one stored, or from now if that is earlier (e.g. 360h; 0 keeps records of any age)")
	cmd.Flags().StringVar(&f.retentionSize, "retention-size", "10GiB", "remove the oldest records when the store is larger than this (0 sets no bound)")
	cmd.Flags().IntVar(&f.maxSubscribers, "max-subscribers", service.DefaultMaxSubscribers, "most subscriptions served at once; more are refused (RESOURCE_EXHAUSTED)")
	cmd.Flags().Uint64Var(&f.maxFilterCost, "max-filter-cost", service.DefaultMaxFilterCost, "most a client's filter may cost to evaluate on one record, in CEL cost units (about 1 ms for the default); costlier filters are refused when they compile")
	f.apiTLS.register(cmd, "API clients")
	cmd.Flags().StringVar(&f.tokens, "tokens", "", "admit only API callers with a bearer token of this YAML file, each with its scopes (read, admin) and rate")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plaintext or unauthenticated connections on addresses that are not loopback (a warning names each)")
	cmd.Flags().StringArrayVar(&f.corsOrigins, "cors-origin", nil, `let web pages of this origin (e.g. https://console.example.com, or "*") call the API from a browser by Connect or gRPC-Web (repeatable)`)
}

// apiSecurity checks the API's TLS and token flags for the --listen address, and returns its
// TLS configuration and tokens (nil for none).
func (f *hubFlags) apiSecurity(log *slog.Logger) (*tls.Config, *auth.Tokens, error) {
	tlsCfg, err := f.apiTLS.config()
	if err != nil {
		return nil, nil, err
	}
	var tokens *auth.Tokens
	if f.tokens != "" {
		if tokens, err = auth.LoadFile(f.tokens); err != nil {
			return nil, nil, usageError("--tokens: %w", err)
		}
		var plain []string
		for _, t := range tokens.List() {
			if t.Plaintext {
				plain = append(plain, t.Name)
			}
		}
		if len(plain) > 0 {
			log.Warn("the tokens file holds tokens in plaintext: give their sha256 instead", "file", f.tokens, "tokens", plain)
		}
		log.Info("tokens loaded", "file", f.tokens, "tokens", len(tokens.List()))
	}
	var missing []string
	if tlsCfg == nil {
		missing = append(missing, "TLS")
	}
	if tokens == nil && f.apiTLS.clientCA == "" {
		missing = append(missing, "caller authentication")
	}
	remedy := "serve the API over TLS with --tls-cert and --tls-key, and admit callers by --tokens or --tls-client-ca"
	if err := exposed(log, "listen", f.listen, f.insecure, missing, remedy); err != nil {
		return nil, nil, err
	}
	return tlsCfg, tokens, nil
}

// defaultDataDir is the store's directory under the user's state directory:
// $XDG_STATE_HOME/sysflux/hub, else ~/.local/state/sysflux/hub.
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "sysflux", "hub")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "sysflux", "hub")
	}
	return filepath.Join(home, ".local", "state", "sysflux", "hub")
}

// openStore opens the hub's store, nil when --data is "".
func (f *hubFlags) openStore(log *slog.Logger) (*store.Store, error) {
	if f.data == "" {
		return nil, nil
	}
	size, err := humanize.ParseBytes(f.retentionSize)
	if err != nil {
		return nil, usageError("--retention-size: %v", err)
	}
	if f.retentionAge < 0 {
		return nil, usageError("--retention-age: %v is negative", f.retentionAge)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	st, err := store.Open(store.Options{
		Dir: f.data, RetentionAge: f.retentionAge, RetentionBytes: int64(size),
		Logger: log.With("component", "store"),
	})
	if err != nil {
		return nil, err
	}
	log.Info("store open", "dir", f.data, "retention_age", f.retentionAge, "retention_size", humanize.IBytes(size))
	return st, nil
}

// activeRules loads the rules the hub starts with: the --rules files, else none with
// --no-default-rules, else the default rules.
func (f *hubFlags) activeRules(log *slog.Logger) (*engine.Active, error) {
	var files []engine.File
	switch {
	case len(f.rules) > 0:
		var err error
		if files, err = readRulesFiles(f.rules, true); err != nil {
			return nil, usageError("--rules: %w", err)
		}
	case !f.noDefaultRules:
		files = defaults.Files()
	}
	a, err := engine.NewActive(files...)
	switch {
	case err != nil && len(f.rules) > 0:
		var msgs []string
		for _, e := range service.PolicyErrors(err) {
			msgs = append(msgs, formatRulesError(e))
		}
		return nil, usageError("--rules: the rules do not compile:\n%s", strings.Join(msgs, "\n"))
	case err != nil:
		return nil, fmt.Errorf("default rules: %w", err)
	}
	names := make([]string, len(files))
	for i, file := range files {
		names[i] = file.Name
	}
	for _, w := range a.Set().Warnings() {
		log.Debug("rules warning", "warning", w)
	}
	log.Info("rules loaded", "files", names, "rules", a.Set().Summary(), "warnings", len(a.Set().Warnings()))
	return a, nil
}

// newHub returns a hub reading from agents, dialled over TLS with agentTLS when set, and what
// closes its store once it stopped serving.
func (f *hubFlags) newHub(agents []string, agentTLS *tls.Config, log *slog.Logger) (*hub.Hub, func() error, error) {
	if f.maxSubscribers <= 0 || f.maxFilterCost == 0 {
		return nil, nil, usageError("--max-subscribers and --max-filter-cost must be positive")
	}
	if f.ringRecords <= 0 || f.ringBytes <= 0 {
		return nil, nil, usageError("--ring-records and --ring-bytes must be positive")
	}
	for _, o := range f.corsOrigins {
		if err := hub.CheckCORSOrigin(o); err != nil {
			return nil, nil, usageError("--cors-origin: %w", err)
		}
	}
	apiTLS, tokens, err := f.apiSecurity(log)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range agents {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, nil, usageError("--agent: %q is not host:port", a)
		}
	}
	rules, err := f.activeRules(log)
	if err != nil {
		return nil, nil, err
	}
	if f.sidekickURL != "" {
		u, err := url.Parse(f.sidekickURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, usageError("--sidekick-url: %q is not an http(s) URL", f.sidekickURL)
		}
	}
	st, err := f.openStore(log)
	if err != nil {
		return nil, nil, err
	}
	closeStore := func() error { return nil }
	if st != nil {
		closeStore = st.Close
	}
	host, _ := os.Hostname()
	h, err := hub.New(hub.Config{
		ID:            host + "/" + f.listen,
		Agents:        agents,
		Ring:          ring.Limits{MaxRecords: f.ringRecords, MaxBytes: f.ringBytes},
		Rules:         rules,
		Falcosidekick: f.sidekickURL,
		Store:         st,
		TLS:           apiTLS,
		Tokens:        tokens,
		AgentTLS:      agentTLS,
		CORSOrigins:   f.corsOrigins,
		API:           service.Config{MaxSubscribers: f.maxSubscribers, MaxFilterCost: f.maxFilterCost},
		Logger:        log,
	})
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return h, closeStore, nil
}

func newHubCommand(logs *logFlags) *cobra.Command {
	f := &hubFlags{}
	metrics := &metricsFlag{}
	dial := &agentDialFlags{}
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Run a hub: read records from agents and serve them to clients",
		Long: `hub dials agents, reads their records, and serves them to clients (gRPC, gRPC-Web and
Connect on one port).

Agents that are not on loopback are dialled over TLS: --agent-ca is the CA their
certificates must chain to, for the host name or address dialled, and --agent-cert and
--agent-key the client certificate the hub presents them. The API on an address that is
not loopback is served over TLS (--tls-cert, --tls-key) to callers with a bearer token
of --tokens or a client certificate of --tls-client-ca. --insecure allows less, with a
warning naming each address.`,
		Example: `  sysflux hub --listen 127.0.0.1:7700 --agent 127.0.0.1:7701
  sysflux hub --listen 10.0.0.2:7700 --tls-cert hub.crt --tls-key hub.key --tokens tokens.yaml \
      --agent 10.0.0.5:7701 --agent-ca agents-ca.crt --agent-cert hub-client.crt --agent-key hub-client.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			if len(f.agents) == 0 {
				return usageError("no agent: pass --agent HOST:PORT (repeatable)")
			}
			agentTLS, err := dial.config()
			if err != nil {
				return err
			}
			if agentTLS == nil {
				for _, a := range f.agents {
					if err := exposed(log, "agent", a, f.insecure, []string{"TLS"}, "dial agents over mutual TLS with --agent-ca, --agent-cert and --agent-key"); err != nil {
						return err
					}
				}
			}
			h, closeStore, err := f.newHub(f.agents, agentTLS, log)
			if err != nil {
				return err
			}
			ln, err := listenTCP("listen", f.listen)
			if err != nil {
				return errors.Join(err, closeStore())
			}
			mln, err := metrics.listen(log)
			if err != nil {
				return errors.Join(err, ln.Close(), closeStore())
			}
			err = runWithMetrics(cmd.Context(), mln, log, []prometheus.Collector{h.Metrics()}, func(ctx context.Context) error {
				return h.Serve(ctx, ln)
			})
			return errors.Join(err, closeStore())
		},
	}
	f.register(cmd)
	metrics.register(cmd, defaultHubMetrics)
	cmd.Flags().StringArrayVar(&f.agents, "agent", nil, "agent address HOST:PORT to read from (repeatable)")
	dial.register(cmd)
	return cmd
}
