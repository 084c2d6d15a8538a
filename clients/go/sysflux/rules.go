package sysflux

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
)

// A RulesOption changes how PushRules puts a rules file in force.
type RulesOption func(*policyv1.PutRulesRequest)

// RulesName puts the file in force under name rather than its base name.
func RulesName(name string) RulesOption {
	return func(r *policyv1.PutRulesRequest) {
		for _, f := range r.Files {
			f.Name = name
		}
	}
}

// ReplaceAllRules makes the file replace every rules file in force rather than add to them.
func ReplaceAllRules() RulesOption {
	return func(r *policyv1.PutRulesRequest) { r.ReplaceAll = true }
}

// PushRules reads the Falco rules file at path and puts it in force on the hub under its base
// name: after the files in force, or in place of the file of that name. When the rules do not
// compile the hub keeps the rules it has, and the error is an *Error whose Rules name the file,
// line and column of each problem. It needs a token with the admin scope.
func (c *Client) PushRules(ctx context.Context, path string, opts ...RulesOption) (*policyv1.PutRulesResponse, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("push rules to %s: %w", c.addr, err)
	}
	req := &policyv1.PutRulesRequest{Files: []*policyv1.RulesFile{{Name: filepath.Base(path), Content: string(content)}}}
	for _, o := range opts {
		o(req)
	}
	return c.PutRules(ctx, req)
}

// PutRules puts the rules files of req in force; see PushRules.
func (c *Client) PutRules(ctx context.Context, req *policyv1.PutRulesRequest) (*policyv1.PutRulesResponse, error) {
	resp, err := c.policy.PutRules(ctx, req)
	return resp, c.wrap("push rules to", err)
}

// DeleteRules removes the rules files of those names from the hub's rules in force.
func (c *Client) DeleteRules(ctx context.Context, names ...string) (*policyv1.DeleteRulesResponse, error) {
	resp, err := c.policy.DeleteRules(ctx, &policyv1.DeleteRulesRequest{Names: names})
	return resp, c.wrap("delete rules on", err)
}

// ListRules returns the rules files in force on the hub and what each rule became, with the
// files' content when includeContent is set.
func (c *Client) ListRules(ctx context.Context, includeContent bool) (*policyv1.ListRulesResponse, error) {
	resp, err := c.policy.ListRules(ctx, &policyv1.ListRulesRequest{IncludeContent: includeContent})
	return resp, c.wrap("list rules of", err)
}

// ValidateRules compiles the rules files at paths on the hub, without putting them in force,
// and returns what each rule became or the problems found. With includeActive they are
// compiled after the files in force, as PushRules would put them.
func (c *Client) ValidateRules(ctx context.Context, includeActive bool, paths ...string) (*policyv1.ValidateRulesResponse, error) {
	req := &policyv1.ValidateRulesRequest{IncludeActive: includeActive}
	for _, p := range paths {
		content, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("validate rules on %s: %w", c.addr, err)
		}
		req.Files = append(req.Files, &policyv1.RulesFile{Name: filepath.Base(p), Content: string(content)})
	}
	resp, err := c.policy.ValidateRules(ctx, req)
	return resp, c.wrap("validate rules on", err)
}
