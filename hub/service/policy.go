package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"connectrpc.com/connect"

	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
	"github.com/sysflux/sysflux/policy/engine"
	"github.com/sysflux/sysflux/policy/rules"
)

// policyService implements PolicyService over the hub's rules in force.
type policyService struct {
	active *engine.Active
	log    *slog.Logger
	// mu serialises the RPCs that change the rules with those that read the version, so that
	// a response's version is that of the rules it reports on.
	mu sync.Mutex
}

func newPolicyService(active *engine.Active, log *slog.Logger) *policyService {
	return &policyService{active: active, log: log}
}

// ValidateRules compiles the request's files, alone or over the files in force, and reports
// on them without changing anything.
func (p *policyService) ValidateRules(_ context.Context, req *connect.Request[policyv1.ValidateRulesRequest]) (*connect.Response[policyv1.ValidateRulesResponse], error) {
	files, err := requestFiles(req.Msg.GetFiles())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	var base []engine.File
	if req.Msg.GetIncludeActive() {
		base = p.active.Files()
	}
	set, err := engine.Load(mergeFiles(base, files)...)
	resp := &policyv1.ValidateRulesResponse{}
	if err != nil {
		resp.Errors = PolicyErrors(err)
	} else {
		resp.Report = PolicyReport(set)
	}
	return connect.NewResponse(resp), nil
}

// PutRules adds or replaces rules files and puts the result in force if it compiles.
func (p *policyService) PutRules(_ context.Context, req *connect.Request[policyv1.PutRulesRequest]) (*connect.Response[policyv1.PutRulesResponse], error) {
	files, err := requestFiles(req.Msg.GetFiles())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	replaceAll := req.Msg.GetReplaceAll()
	if len(files) == 0 && !replaceAll {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("files: no rules file to put"))
	}
	names := fileNames(files)
	log := p.log.With("peer", req.Peer().Addr, "user_agent", req.Header().Get("User-Agent"))
	p.mu.Lock()
	defer p.mu.Unlock()
	from := p.active.Version()
	set, err := p.active.Put(files, replaceAll)
	if err != nil {
		log.Warn("rules change rejected", "op", "put", "files", names, "replace_all", replaceAll, "version", from, "error", err)
		return nil, rejected(err)
	}
	version := p.active.Version()
	log.Info("rules changed", "op", "put", "files", names, "replace_all", replaceAll,
		"from_version", from, "version", version, "in_force", fileNames(p.active.Files()), "rules", set.Summary())
	return connect.NewResponse(&policyv1.PutRulesResponse{Version: version, Report: PolicyReport(set)}), nil
}

// ListRules reports the rules in force.
func (p *policyService) ListRules(_ context.Context, req *connect.Request[policyv1.ListRulesRequest]) (*connect.Response[policyv1.ListRulesResponse], error) {
	p.mu.Lock()
	version, files, set := p.active.Version(), p.active.Files(), p.active.Set()
	p.mu.Unlock()
	resp := &policyv1.ListRulesResponse{Version: version, Report: PolicyReport(set)}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		af := &policyv1.ActiveRulesFile{Name: f.Name, SizeBytes: int64(len(f.Data)), Sha256: hex.EncodeToString(sum[:])}
		if req.Msg.GetIncludeContent() {
			af.Content = string(f.Data)
		}
		resp.Files = append(resp.Files, af)
	}
	return connect.NewResponse(resp), nil
}

// DeleteRules removes rules files and puts what the others compile to in force.
func (p *policyService) DeleteRules(_ context.Context, req *connect.Request[policyv1.DeleteRulesRequest]) (*connect.Response[policyv1.DeleteRulesResponse], error) {
	var names []string
	for i, n := range req.Msg.GetNames() {
		if n == "" {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("names[%d]: empty name", i))
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("names: no rules file to delete"))
	}
	log := p.log.With("peer", req.Peer().Addr, "user_agent", req.Header().Get("User-Agent"))
	p.mu.Lock()
	defer p.mu.Unlock()
	inForce := fileNames(p.active.Files())
	var unknown []string
	for _, n := range names {
		if !slices.Contains(inForce, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("not in force: %s (the files in force: %s)", quoteList(unknown), quoteList(inForce)))
	}
	from := p.active.Version()
	set, err := p.active.Delete(names...)
	if errors.Is(err, engine.ErrUnknownFile) { // not expected: the names were checked under p.mu
		return nil, connect.NewError(connect.CodeNotFound, err)
	}
	if err != nil {
		log.Warn("rules change rejected", "op", "delete", "files", names, "version", from, "error", err)
		return nil, rejected(err)
	}
	version := p.active.Version()
	log.Info("rules changed", "op", "delete", "files", names,
		"from_version", from, "version", version, "in_force", fileNames(p.active.Files()), "rules", set.Summary())
	return connect.NewResponse(&policyv1.DeleteRulesResponse{Version: version, Report: PolicyReport(set)}), nil
}

// requestFiles checks the files of a request and returns them for the engine.
func requestFiles(in []*policyv1.RulesFile) ([]engine.File, error) {
	files := make([]engine.File, 0, len(in))
	for i, f := range in {
		if f.GetName() == "" {
			return nil, fmt.Errorf("files[%d]: empty name", i)
		}
		if slices.ContainsFunc(files, func(g engine.File) bool { return g.Name == f.GetName() }) {
			return nil, fmt.Errorf("files[%d]: name %q given twice", i, f.GetName())
		}
		files = append(files, engine.File{Name: f.GetName(), Data: []byte(f.GetContent())})
	}
	return files, nil
}

// mergeFiles returns the files that putting files over base makes, as engine.Active.Put makes
// them: a file of the name of one in base replaces it in place, the others go after.
func mergeFiles(base, files []engine.File) []engine.File {
	out := slices.Clone(base)
	for _, f := range files {
		if i := slices.IndexFunc(out, func(g engine.File) bool { return g.Name == f.Name }); i >= 0 {
			out[i] = f
		} else {
			out = append(out, f)
		}
	}
	return out
}

// quoteList quotes names and joins them with commas; "none" when there are none.
func quoteList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func fileNames(files []engine.File) []string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	return names
}

// rejected is the error of a change whose rules do not compile: INVALID_ARGUMENT, with the
// problems as a RulesErrors detail.
func rejected(err error) error {
	errs := PolicyErrors(err)
	cerr := connect.NewError(connect.CodeInvalidArgument,
		fmt.Errorf("the rules do not compile (%d errors), the rules in force stay as they were:\n%w", len(errs), err))
	if d, derr := connect.NewErrorDetail(&policyv1.RulesErrors{Errors: errs}); derr == nil {
		cerr.AddDetail(d)
	}
	return cerr
}

// PolicyErrors returns the problems an error of engine.Load lists, one message each.
func PolicyErrors(err error) []*policyv1.RulesError {
	var out []*policyv1.RulesError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *rules.Error:
			out = append(out, &policyv1.RulesError{
				File: e.File, Line: int32(e.Line), Column: int32(e.Column), Kind: e.Kind, Name: e.Name, Message: e.Msg,
			})
		case *engine.RuleError:
			msgs := []error{e.Err}
			if j, ok := e.Err.(interface{ Unwrap() []error }); ok {
				msgs = j.Unwrap()
			}
			for _, m := range msgs {
				out = append(out, &policyv1.RulesError{File: e.File, Line: int32(e.Line), Kind: "rule", Name: e.Rule, Message: m.Error()})
			}
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			out = append(out, &policyv1.RulesError{Message: err.Error()})
		}
	}
	walk(err)
	return out
}

// PolicyReport says what each rule of s became.
func PolicyReport(s *engine.Set) *policyv1.RulesReport {
	total, compiled, notApplicable, disabled := s.Counts()
	r := &policyv1.RulesReport{
		TotalCount:         int64(total),
		CompiledCount:      int64(compiled),
		NotApplicableCount: int64(notApplicable),
		DisabledCount:      int64(disabled),
		Warnings:           s.Warnings(),
	}
	for _, rule := range s.Rules() {
		r.Rules = append(r.Rules, &policyv1.Rule{
			Name:      rule.Name,
			Status:    ruleStatus(rule.Status),
			Reason:    rule.Reason,
			Priority:  priority(rule.Priority),
			Source:    rule.Source,
			Tags:      rule.Tags,
			File:      rule.File,
			Line:      int32(rule.Line),
			Cel:       rule.CEL,
			Desc:      rule.Desc,
			Output:    rule.Output,
			Condition: rule.ConditionText,
		})
	}
	return r
}

func ruleStatus(s engine.Status) policyv1.RuleStatus {
	switch s {
	case engine.Compiled:
		return policyv1.RuleStatus_RULE_STATUS_COMPILED
	case engine.NotApplicable:
		return policyv1.RuleStatus_RULE_STATUS_NOT_APPLICABLE
	case engine.Disabled:
		return policyv1.RuleStatus_RULE_STATUS_DISABLED
	}
	return policyv1.RuleStatus_RULE_STATUS_UNSPECIFIED
}

func priority(p rules.Priority) policyv1.Priority {
	if p < rules.PriorityEmergency || p > rules.PriorityDebug {
		return policyv1.Priority_PRIORITY_UNSPECIFIED
	}
	return policyv1.Priority(int32(p) + 1) // the enum lists Falco's priorities in order, from 1
}
