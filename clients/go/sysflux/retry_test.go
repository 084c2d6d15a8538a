package sysflux

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{err: io.EOF, want: true},
		{err: fmt.Errorf("no message for 30s: %w", errIdle), want: true},
		{err: errors.New("transport is closing"), want: true}, // not a status: Unknown
		{err: status.Error(codes.Unavailable, "connection refused"), want: true},
		{err: status.Error(codes.Internal, ""), want: true},
		{err: status.Error(codes.Unknown, ""), want: true},
		{err: status.Error(codes.ResourceExhausted, ""), want: true},
		{err: status.Error(codes.Aborted, ""), want: true},
		{err: status.Error(codes.DeadlineExceeded, ""), want: true},
		{err: status.Error(codes.Canceled, ""), want: true},
		{err: fmt.Errorf("wrapped: %w", status.Error(codes.Unavailable, "")), want: true},
		{err: status.Error(codes.InvalidArgument, ""), want: false},
		{err: status.Error(codes.Unauthenticated, ""), want: false},
		{err: status.Error(codes.PermissionDenied, ""), want: false},
		{err: status.Error(codes.Unimplemented, ""), want: false},
		{err: status.Error(codes.NotFound, ""), want: false},
		{err: status.Error(codes.FailedPrecondition, ""), want: false},
		{err: status.Error(codes.OutOfRange, ""), want: false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
}

func TestErrorKeepsStatus(t *testing.T) {
	err := fmt.Errorf("subscribe to %s: %w", "127.0.0.1:7000", status.Error(codes.PermissionDenied, "no"))
	if got := status.Code(err); got != codes.PermissionDenied {
		t.Errorf("status.Code(%v) = %v, want %v", err, got, codes.PermissionDenied)
	}
	if _, ok := status.FromError(err); !ok {
		t.Errorf("status.FromError(%v) found no status", err)
	}
}
