package sysflux

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		wantErr string // empty: no error
	}{
		{name: "defaults"},
		{name: "insecure", opts: []Option{WithInsecure()}},
		{name: "tls", opts: []Option{WithTLS(&tls.Config{})}},
		{name: "tls nil config", opts: []Option{WithTLS(nil)}},
		{name: "token", opts: []Option{WithToken("s3cret")}},
		{name: "nil option ignored", opts: []Option{nil}},
		{name: "backoff", opts: []Option{WithBackoff(time.Millisecond, time.Millisecond)}},
		{name: "tls and insecure", opts: []Option{WithTLS(nil), WithInsecure()}, wantErr: "exclude each other"},
		{name: "empty token", opts: []Option{WithToken("")}, wantErr: "empty token"},
		{name: "zero backoff", opts: []Option{WithBackoff(0, time.Second)}, wantErr: "not positive"},
		{name: "inverted backoff", opts: []Option{WithBackoff(time.Second, time.Millisecond)}, wantErr: "below minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := newOptions(tt.opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newOptions() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newOptions() error = %v", err)
			}
			if o.logger == nil {
				t.Error("newOptions() left the logger nil")
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name       string
		opts       []Option
		wantSecure bool
	}{
		{name: "plaintext by default", opts: []Option{WithToken("t")}, wantSecure: false},
		{name: "explicit insecure", opts: []Option{WithInsecure(), WithToken("t")}, wantSecure: false},
		{name: "tls", opts: []Option{WithTLS(nil), WithToken("t")}, wantSecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := newOptions(tt.opts...)
			if err != nil {
				t.Fatalf("newOptions() error = %v", err)
			}
			b := bearerToken{token: o.token, secure: o.tlsSet}
			if got := b.RequireTransportSecurity(); got != tt.wantSecure {
				t.Errorf("RequireTransportSecurity() = %t, want %t", got, tt.wantSecure)
			}
			md, err := b.GetRequestMetadata(context.Background())
			if err != nil {
				t.Fatalf("GetRequestMetadata() error = %v", err)
			}
			if got, want := md["authorization"], "Bearer t"; got != want {
				t.Errorf("authorization = %q, want %q", got, want)
			}
		})
	}
}

func TestDialRejectsBadOptions(t *testing.T) {
	_, err := Dial(context.Background(), "127.0.0.1:1", WithBackoff(0, 0))
	if err == nil || !strings.Contains(err.Error(), "dial 127.0.0.1:1: ") {
		t.Errorf("Dial() error = %v, want one naming the address", err)
	}
}
