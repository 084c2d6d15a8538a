package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/hub/service"
	"github.com/sysflux/sysflux/policy/engine"
)

func newRulesCommand(logs *logFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check Falco rules files, and manage the rules a hub runs",
		Long: `A hub runs Falco rules files, loaded in order: Falco's default rules unless it was
started with --rules or --no-default-rules. validate checks files here, without a hub;
push, list and delete change and show the rules a running hub has in force. A change
that does not compile is rejected whole, and the hub keeps the rules it had.`,
		Example: `  sysflux rules validate falco_rules.yaml my_rules.yaml
  sysflux rules push --hub 127.0.0.1:7700 my_rules.yaml
  sysflux rules list --hub 127.0.0.1:7700
  sysflux rules delete --hub 127.0.0.1:7700 my_rules.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRulesValidateCommand(), newRulesPushCommand(logs), newRulesListCommand(logs), newRulesDeleteCommand(logs))
	return cmd
}

// filesArgs requires at least one argument, naming what it stands for in the error.
func filesArgs(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageError("no %s given", what)
		}
		return nil
	}
}

func newRulesValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Compile rules files, in order, and report on every rule; needs no hub",
		Long: `validate loads the rules files in order, as a hub would, and prints the rules that
are not applicable to SysFlow records (with the reason) or disabled, the loader's
warnings, and a summary line. Errors go to the standard error, each with its file,
line, column and rule. The exit code is 0 when the files compile, 1 when they do not,
2 when a file cannot be read.`,
		Example: `  sysflux rules validate falco_rules.yaml falco-incubating_rules.yaml`,
		Args:    filesArgs("rules file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := readRulesFiles(args, false)
			if err != nil {
				return err
			}
			set, err := engine.Load(files...)
			if err != nil {
				return rulesFailure(cmd.ErrOrStderr(), service.PolicyErrors(err), "the rules do not compile")
			}
			return printReport(cmd.OutOrStdout(), service.PolicyReport(set))
		},
	}
}

// policyFlags are the flags of the commands that call a hub's PolicyService.
type policyFlags struct {
	addr    string
	timeout time.Duration
	sec     clientFlags
	logs    *logFlags
}

func (f *policyFlags) register(cmd *cobra.Command, logs *logFlags) {
	f.logs = logs
	cmd.Flags().StringVar(&f.addr, "hub", "127.0.0.1:7700", "hub address HOST:PORT")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the hub's answer")
	f.sec.register(cmd)
}

// call connects to the hub and calls fn with a PolicyService client, within the timeout.
func (f *policyFlags) call(ctx context.Context, fn func(context.Context, policyv1.PolicyServiceClient) error) error {
	if f.timeout <= 0 {
		return usageError("--timeout: %v is not positive", f.timeout)
	}
	log, err := f.logs.logger()
	if err != nil {
		return err
	}
	cc, err := f.sec.resolve(f.addr, log)
	if err != nil {
		return err
	}
	opts, err := cc.dialOptions()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(f.addr, append(opts, grpc.WithUserAgent("sysflux-cli"))...)
	if err != nil {
		return usageError("--hub: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return fn(ctx, policyv1.NewPolicyServiceClient(conn))
}

func newRulesPushCommand(logs *logFlags) *cobra.Command {
	var (
		f       policyFlags
		replace bool
	)
	cmd := &cobra.Command{
		Use:   "push FILE...",
		Short: "Put rules files in force on a hub",
		Long: `push sends rules files to a hub, which compiles them with the files it has in force
and puts the result in force if it compiles. Each file goes by its base name: a file
of the name of one in force replaces it in place (falco_rules.yaml replaces the
default rules), the others are loaded after the files in force. With --replace the
files replace all those in force. When the result does not compile the hub rejects
it, keeps the rules it had, and the errors are printed; the exit code is then 1.`,
		Example: `  sysflux rules push --hub 127.0.0.1:7700 my_rules.yaml
  sysflux rules push --hub 127.0.0.1:7700 --replace falco_rules.yaml my_rules.yaml`,
		Args: filesArgs("rules file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := readRulesFiles(args, true)
			if err != nil {
				return err
			}
			req := &policyv1.PutRulesRequest{ReplaceAll: replace}
			for _, file := range files {
				req.Files = append(req.Files, &policyv1.RulesFile{Name: file.Name, Content: string(file.Data)})
			}
			return f.call(cmd.Context(), func(ctx context.Context, c policyv1.PolicyServiceClient) error {
				resp, err := c.PutRules(ctx, req)
				if err != nil {
					return hubError(cmd.ErrOrStderr(), f.addr, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rules version %d in force on %s\n", resp.GetVersion(), f.addr)
				return printReport(cmd.OutOrStdout(), resp.GetReport())
			})
		},
	}
	f.register(cmd, logs)
	cmd.Flags().BoolVar(&replace, "replace", false, "replace all the files in force, rather than add to them")
	return cmd
}

func newRulesListCommand(logs *logFlags) *cobra.Command {
	var (
		f      policyFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show the rules files in force on a hub and what each rule became",
		Example: `  sysflux rules list --hub 127.0.0.1:7700
  sysflux rules list --json | jq '.report.rules[] | select(.status != "RULE_STATUS_COMPILED")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.call(cmd.Context(), func(ctx context.Context, c policyv1.PolicyServiceClient) error {
				resp, err := c.ListRules(ctx, &policyv1.ListRulesRequest{})
				if err != nil {
					return hubError(cmd.ErrOrStderr(), f.addr, err)
				}
				out := cmd.OutOrStdout()
				if asJSON {
					b, err := protojson.MarshalOptions{Multiline: true}.Marshal(resp)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(out, "%s\n", b)
					return err
				}
				return printList(out, f.addr, resp)
			})
		},
	}
	f.register(cmd, logs)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the hub's answer as protojson")
	return cmd
}

func newRulesDeleteCommand(logs *logFlags) *cobra.Command {
	var f policyFlags
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Remove rules files from those in force on a hub",
		Long: `delete removes rules files, by the names they went by when put (see list), and puts
what the other files compile to in force. A name not in force, or files that do not
compile without the deleted ones, make it fail with exit code 1, changing nothing.`,
		Example: `  sysflux rules delete --hub 127.0.0.1:7700 my_rules.yaml`,
		Args:    filesArgs("rules file name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.call(cmd.Context(), func(ctx context.Context, c policyv1.PolicyServiceClient) error {
				resp, err := c.DeleteRules(ctx, &policyv1.DeleteRulesRequest{Names: args})
				if err != nil {
					return hubError(cmd.ErrOrStderr(), f.addr, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rules version %d in force on %s\n", resp.GetVersion(), f.addr)
				return printReport(cmd.OutOrStdout(), resp.GetReport())
			})
		},
	}
	f.register(cmd, logs)
	return cmd
}

// readRulesFiles reads rules files. With baseNames each file goes by its base name, which must
// then be unique; else by its path as given.
func readRulesFiles(paths []string, baseNames bool) ([]engine.File, error) {
	files := make([]engine.File, 0, len(paths))
	byName := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, usageError("read rules file: %w", err)
		}
		if !utf8.Valid(data) {
			return nil, usageError("rules file %s is not UTF-8 text", p)
		}
		name := p
		if baseNames {
			name = filepath.Base(p)
		}
		if other, dup := byName[name]; dup {
			return nil, usageError("rules files %s and %s would both go by the name %s", other, p, name)
		}
		byName[name] = p
		files = append(files, engine.File{Name: name, Data: data})
	}
	return files, nil
}

// printReport prints the rules that do not run, with the reason, then the warnings, then the
// summary line.
func printReport(w io.Writer, r *policyv1.RulesReport) error {
	for _, rule := range r.GetRules() {
		switch rule.GetStatus() {
		case policyv1.RuleStatus_RULE_STATUS_NOT_APPLICABLE:
			fmt.Fprintf(w, "%s: rule %q: not applicable: %s\n", ruleLocation(rule), rule.GetName(), rule.GetReason())
		case policyv1.RuleStatus_RULE_STATUS_DISABLED:
			fmt.Fprintf(w, "%s: rule %q: disabled\n", ruleLocation(rule), rule.GetName())
		}
	}
	for _, warning := range r.GetWarnings() {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	_, err := fmt.Fprintln(w, summary(r))
	return err
}

// summary is engine.Set.Summary for a report.
func summary(r *policyv1.RulesReport) string {
	return fmt.Sprintf("%d rules: %d compiled, %d not applicable, %d disabled",
		r.GetTotalCount(), r.GetCompiledCount(), r.GetNotApplicableCount(), r.GetDisabledCount())
}

func ruleLocation(r *policyv1.Rule) string {
	if r.GetLine() > 0 {
		return fmt.Sprintf("%s:%d", r.GetFile(), r.GetLine())
	}
	return r.GetFile()
}

// printList prints the files in force and a table of the rules.
func printList(w io.Writer, addr string, resp *policyv1.ListRulesResponse) error {
	fmt.Fprintf(w, "rules version %d in force on %s\n\n", resp.GetVersion(), addr)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tBYTES\tSHA256")
	for _, f := range resp.GetFiles() {
		fmt.Fprintf(tw, "%s\t%d\t%.12s\n", f.GetName(), f.GetSizeBytes(), f.GetSha256())
	}
	tw.Flush()
	fmt.Fprintln(w)
	report := resp.GetReport()
	if len(report.GetRules()) > 0 {
		fmt.Fprintln(tw, "RULE\tSTATUS\tPRIORITY\tLOCATION\tREASON")
		for _, r := range report.GetRules() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.GetName(), enumName(r.GetStatus().String(), "RULE_STATUS_"),
				enumName(r.GetPriority().String(), "PRIORITY_"), ruleLocation(r), r.GetReason())
		}
		tw.Flush()
	}
	for _, warning := range report.GetWarnings() {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	_, err := fmt.Fprintln(w, summary(report))
	return err
}

// enumName turns an enum value's name into lower-case words: RULE_STATUS_NOT_APPLICABLE is
// "not applicable".
func enumName(name, prefix string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, prefix), "_", " "))
}

// hubError turns the error of a PolicyService call into the command's error: exit code 3 when
// the hub cannot be reached; otherwise 1, after printing the errors of rules the hub rejected.
func hubError(stderr io.Writer, addr string, err error) error {
	if aerr := authError(addr, err); aerr != nil {
		return aerr
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return unreachableError(fmt.Errorf("hub %s is not reachable: %w", addr, err))
	case codes.Unimplemented:
		return &exitError{code: exitFailure, err: fmt.Errorf("hub %s does not serve rules: %s", addr, st.Message())}
	}
	var errs []*policyv1.RulesError
	for _, d := range st.Details() {
		if re, ok := d.(*policyv1.RulesErrors); ok {
			errs = append(errs, re.GetErrors()...)
		}
	}
	if len(errs) > 0 {
		return rulesFailure(stderr, errs, fmt.Sprintf("hub %s rejected the change and kept the rules it had in force", addr))
	}
	return &exitError{code: exitFailure, err: fmt.Errorf("hub %s: %s: %s", addr, st.Code(), st.Message())}
}

// rulesFailure prints errors in rules files, one a line, and returns the command's error.
func rulesFailure(w io.Writer, errs []*policyv1.RulesError, what string) error {
	for _, e := range errs {
		fmt.Fprintln(w, formatRulesError(e))
	}
	n := "1 error"
	if len(errs) != 1 {
		n = fmt.Sprintf("%d errors", len(errs))
	}
	return &exitError{code: exitFailure, err: errors.New(what + ": " + n)}
}

// formatRulesError writes an error as the rules loader does: "file:line:col: kind "name":
// message".
func formatRulesError(e *policyv1.RulesError) string {
	var b strings.Builder
	b.WriteString(e.GetFile())
	if e.GetLine() > 0 {
		fmt.Fprintf(&b, ":%d", e.GetLine())
		if e.GetColumn() > 0 {
			fmt.Fprintf(&b, ":%d", e.GetColumn())
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.GetKind() != "" {
		fmt.Fprintf(&b, "%s %q: ", e.GetKind(), e.GetName())
	}
	b.WriteString(e.GetMessage())
	return b.String()
}
