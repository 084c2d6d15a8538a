package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sysflux/sysflux/hub"
	"github.com/sysflux/sysflux/hub/ring"
	"github.com/sysflux/sysflux/hub/service"
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
}

func (f *hubFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:7700", "address the hub serves its API on (gRPC, gRPC-Web, Connect)")
	cmd.Flags().IntVar(&f.ringRecords, "ring-records", 1_000_000, "most records kept in memory for subscribers")
	cmd.Flags().Int64Var(&f.ringBytes, "ring-bytes", 512<<20, "most encoded bytes kept in memory for subscribers")
	cmd.Flags().StringArrayVar(&f.rules, "rules", nil, "Falco rules file to run instead of the default rules (repeatable, loaded in order; each goes by its base name)")
	cmd.Flags().StringVar(&f.sidekickURL, "sidekick-url", "", "post alerts to Falcosidekick at this URL, as Falco's http_output does (e.g. http://127.0.0.1:2801/)")
	cmd.Flags().BoolVar(&f.noDefaultRules, "no-default-rules", false, "start without rules when no --rules is given, rather than with Falco's default rules")
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

func (f *hubFlags) newHub(agents []string, log *slog.Logger) (*hub.Hub, error) {
	if f.ringRecords <= 0 || f.ringBytes <= 0 {
		return nil, usageError("--ring-records and --ring-bytes must be positive")
	}
	for _, a := range agents {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, usageError("--agent: %q is not host:port", a)
		}
	}
	rules, err := f.activeRules(log)
	if err != nil {
		return nil, err
	}
	if f.sidekickURL != "" {
		u, err := url.Parse(f.sidekickURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError("--sidekick-url: %q is not an http(s) URL", f.sidekickURL)
		}
	}
	host, _ := os.Hostname()
	return hub.New(hub.Config{
		ID:            host + "/" + f.listen,
		Agents:        agents,
		Ring:          ring.Limits{MaxRecords: f.ringRecords, MaxBytes: f.ringBytes},
		Rules:         rules,
		Falcosidekick: f.sidekickURL,
		Logger:        log,
	})
}

func newHubCommand(logs *logFlags) *cobra.Command {
	f := &hubFlags{}
	cmd := &cobra.Command{
		Use:     "hub",
		Short:   "Run a hub: read records from agents and serve them to clients",
		Example: `  sysflux hub --listen 127.0.0.1:7700 --agent 10.0.0.5:7701 --agent 10.0.0.6:7701`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger()
			if err != nil {
				return err
			}
			if len(f.agents) == 0 {
				return usageError("no agent: pass --agent HOST:PORT (repeatable)")
			}
			h, err := f.newHub(f.agents, log)
			if err != nil {
				return err
			}
			ln, err := listenTCP("listen", f.listen)
			if err != nil {
				return err
			}
			return h.Serve(cmd.Context(), ln)
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&f.agents, "agent", nil, "agent address HOST:PORT to read from (repeatable)")
	return cmd
}
