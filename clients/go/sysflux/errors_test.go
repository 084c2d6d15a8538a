package sysflux

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
)

func TestErrorWords(t *testing.T) {
	c := &Client{addr: "127.0.0.1:7700"}
	refused := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:7700: connect: connection refused"`)
	st, err := status.New(codes.InvalidArgument, "filter:1:20: unknown field proc.nam").WithDetails(&policyv1.RulesErrors{
		Errors: []*policyv1.RulesError{{File: "filter", Line: 1, Column: 20, Message: "unknown field proc.nam"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{refused, "query 127.0.0.1:7700: the hub cannot be reached: connection refused"},
		{status.Error(codes.Unauthenticated, "no bearer token"), "query 127.0.0.1:7700: the hub wants a valid bearer token"},
		{status.Error(codes.PermissionDenied, "the token lacks the admin scope"), "query 127.0.0.1:7700: the token does not allow this: the token lacks the admin scope"},
		{st.Err(), "query 127.0.0.1:7700: invalid argument: filter:1:20: unknown field proc.nam"},
		{status.Error(codes.ResourceExhausted, "too many subscribers"), "query 127.0.0.1:7700: resource exhausted: too many subscribers"},
	} {
		err := c.wrap("query", tt.err)
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v:\n got %q\nwant %q...", tt.err, err, tt.want)
		}
		if status.Code(err) != status.Code(tt.err) || !errors.Is(err, tt.err) {
			t.Errorf("%v: the status does not show through: %v", tt.err, status.Code(err))
		}
		if c.wrap("again", err) != err {
			t.Errorf("%v: wrapped twice", tt.err)
		}
	}
	var e *Error
	if !errors.As(c.wrap("query", st.Err()), &e) || e.FilterError().GetColumn() != 20 {
		t.Errorf("the filter's problem is not kept: %+v", e)
	}
	if err := c.wrap("query", errors.New("plain")); err.Error() != "query 127.0.0.1:7700: plain" {
		t.Errorf("a plain error: %q", err)
	}
}
