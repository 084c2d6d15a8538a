// Command sysflux runs the sysflux agent and hub and talks to a running hub.
//
// Exit codes: 0 success; 1 failure while running; 2 bad usage (unknown flags, bad values,
// unreadable input files); 3 a peer (hub or agent) could not be reached.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitFailure     = 1
	exitUsage       = 2
	exitUnreachable = 3
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func unreachableError(err error) error {
	return &exitError{code: exitUnreachable, err: err}
}

// logFlags configure logging, shared by every command.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, usageError("--log-level: %q is not one of debug, info, warn, error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(l.format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usageError("--log-format: %q is not text or json", l.format)
}

func newRootCommand() *cobra.Command {
	logs := &logFlags{}
	root := &cobra.Command{
		Use:   "sysflux",
		Short: "Security telemetry: SysFlow records from every node, over gRPC",
		Long: `sysflux records what processes do on Linux nodes as compact SysFlow records
(entities, events and flows), streams them from agents to a hub over gRPC,
and serves them to any gRPC, gRPC-Web or Connect client.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&logs.level, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&logs.format, "log-format", "text", "log format: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	root.AddCommand(
		newAgentCommand(logs),
		newHubCommand(logs),
		newUpCommand(logs),
		newTailCommand(logs),
		newRulesCommand(logs),
		newQueryCommand(logs),
		newProvenanceCommand(logs),
		newExportCommand(logs),
	)
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "sysflux:", err)
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "accepts ") {
		code = exitUsage
	}
	os.Exit(code)
}
