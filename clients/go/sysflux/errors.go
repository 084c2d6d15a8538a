package sysflux

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	policyv1 "github.com/sysflux/sysflux/gen/sysflux/policy/v1"
)

// Error is an error of a call to a hub. It keeps the call's gRPC status: status.FromError,
// status.Code and errors.Is with a status error see it. Its text names the call and the hub and
// says what went wrong in words, for example
//
//	query 127.0.0.1:7700: the hub cannot be reached: connection refused
//	query 127.0.0.1:7700: the hub wants a bearer token (pass WithToken or set SYSFLUX_TOKEN): no bearer token: ...
//	subscribe to 127.0.0.1:7700: invalid argument: filter:1:20: unknown field proc.nam
//
// Use errors.As to get it.
type Error struct {
	// Op is the call, as in "query" or "push rules to".
	Op string
	// Addr is the hub's address.
	Addr string
	// Code is the call's gRPC status code.
	Code codes.Code
	// Message is the hub's message, or the transport's reason when the hub was not reached.
	Message string
	// Rules are the problems the hub found in a filter or in rules files, with their file, line
	// and column: set when the hub refused a filter (file "filter") or rules that do not
	// compile.
	Rules []*policyv1.RulesError

	err error
}

// Error implements error.
func (e *Error) Error() string {
	var what string
	switch e.Code {
	case codes.Unavailable:
		what = "the hub cannot be reached: " + e.Message
	case codes.Unauthenticated:
		what = "the hub wants a valid bearer token (pass WithToken, or --token / SYSFLUX_TOKEN to the CLI): " + e.Message
	case codes.PermissionDenied:
		what = "the token does not allow this: " + e.Message
	default:
		what = codeWords(e.Code) + ": " + e.Message
	}
	return fmt.Sprintf("%s %s: %s", e.Op, e.Addr, what)
}

// Unwrap returns the gRPC status error.
func (e *Error) Unwrap() error { return e.err }

// GRPCStatus returns the call's gRPC status.
func (e *Error) GRPCStatus() *status.Status { return status.Convert(e.err) }

// FilterError returns the first problem the hub found in the filter of the request, with its
// line and column, or nil when the error is not about the filter.
func (e *Error) FilterError() *policyv1.RulesError {
	for _, r := range e.Rules {
		if r.GetFile() == "filter" {
			return r
		}
	}
	return nil
}

// wrap turns the error of a call into an *Error naming op and the hub; errors that are not gRPC
// statuses (the caller's own context, say) are wrapped in words only.
func (c *Client) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s %s: %w", op, c.addr, err)
	}
	e = &Error{Op: op, Addr: c.addr, Code: st.Code(), Message: st.Message(), err: err}
	if st.Code() == codes.Unavailable {
		e.Message = transportReason(st.Message())
	}
	for _, d := range st.Details() {
		if re, ok := d.(*policyv1.RulesErrors); ok {
			e.Rules = append(e.Rules, re.GetErrors()...)
		}
	}
	return e
}

// transportReason shortens grpc-go's description of a failed connection, such as
// `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect:
// connection refused"`, to its cause: "connection refused (dial tcp 127.0.0.1:1)".
func transportReason(msg string) string {
	for _, cause := range []error{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT, syscall.ECONNRESET} {
		if strings.Contains(msg, cause.Error()) {
			return cause.Error()
		}
	}
	if strings.Contains(msg, "no such host") {
		return "no such host"
	}
	msg = strings.TrimPrefix(msg, "connection error: desc = ")
	return strings.Trim(msg, `"`)
}

// codeWords returns a gRPC code in lower-case words, as in "invalid argument".
func codeWords(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}
