package mtls_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sysflux/sysflux/internal/mtls"
	"github.com/sysflux/sysflux/internal/mtls/mtlstest"
)

func TestServerConfig(t *testing.T) {
	p := mtlstest.New(t)
	cfg, err := mtls.ServerConfig(mtls.ServerFiles{Cert: p.Server.Cert, Key: p.Server.Key})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.NoClientCert || len(cfg.Certificates) != 1 {
		t.Errorf("ServerConfig without client CA: MinVersion %x, ClientAuth %v, %d certificates; want TLS 1.2, no client certificate, 1",
			cfg.MinVersion, cfg.ClientAuth, len(cfg.Certificates))
	}
	cfg, err = mtls.ServerConfig(mtls.ServerFiles{Cert: p.Server.Cert, Key: p.Server.Key, ClientCA: p.CA})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Errorf("ServerConfig with client CA: ClientAuth %v, want RequireAndVerifyClientCert with a pool", cfg.ClientAuth)
	}
}

// TestLoadErrors checks that every file that cannot be used is named in the error, with why.
func TestLoadErrors(t *testing.T) {
	p := mtlstest.New(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		load func() error
		want []string
	}{
		{"missing certificate", server(missing, p.Server.Key, ""), []string{"certificate file", missing}},
		{"missing key", server(p.Server.Cert, missing, ""), []string{"key file", missing}},
		{"certificate not PEM", server(garbage, p.Server.Key, ""), []string{"certificate file " + garbage, "no PEM data"}},
		{"key not PEM", server(p.Server.Cert, garbage, ""), []string{"key file " + garbage, "no PEM data"}},
		{"key of another certificate", server(p.Server.Cert, p.Client.Key, ""), []string{p.Server.Cert, p.Client.Key}},
		{"key given as certificate", server(p.Server.Key, p.Server.Key, ""), []string{p.Server.Key}},
		{"expired certificate", server(p.Expired.Cert, p.Expired.Key, ""), []string{p.Expired.Cert, "expired at"}},
		{"missing client CA", server(p.Server.Cert, p.Server.Key, missing), []string{"CA file", missing}},
		{"client CA not PEM", server(p.Server.Cert, p.Server.Key, garbage), []string{"CA file " + garbage, "no PEM certificate"}},
		{"client CA is a key", server(p.Server.Cert, p.Server.Key, p.Server.Key), []string{"CA file " + p.Server.Key, "no PEM certificate"}},
		{"server without key", server(p.Server.Cert, "", ""), []string{"both a certificate and a key"}},
		{"missing CA", client(missing, "", ""), []string{"CA file", missing}},
		{"client certificate without key", client(p.CA, p.Client.Cert, ""), []string{"both a certificate and a key"}},
		{"expired client certificate", client(p.CA, p.Expired.Cert, p.Expired.Key), []string{p.Expired.Cert, "expired at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.load()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func server(cert, key, ca string) func() error {
	return func() error {
		_, err := mtls.ServerConfig(mtls.ServerFiles{Cert: cert, Key: key, ClientCA: ca})
		return err
	}
}

func client(ca, cert, key string) func() error {
	return func() error {
		_, err := mtls.ClientConfig(mtls.ClientFiles{CA: ca, Cert: cert, Key: key})
		return err
	}
}

// TestHandshake runs real handshakes on loopback between the configurations the package
// builds, and checks which client certificates a server that requires them takes.
func TestHandshake(t *testing.T) {
	p := mtlstest.New(t)
	srv, err := mtls.ServerConfig(mtls.ServerFiles{Cert: p.Server.Cert, Key: p.Server.Key, ClientCA: p.CA})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					io.WriteString(c, "ok")
				}
			}()
		}
	}()
	tests := []struct {
		name   string
		files  mtls.ClientFiles
		server string // ServerName; "" verifies the address dialled
		ok     bool
	}{
		{name: "client certificate of the CA", files: mtls.ClientFiles{CA: p.CA, Cert: p.Client.Cert, Key: p.Client.Key}, ok: true},
		{name: "no client certificate", files: mtls.ClientFiles{CA: p.CA}},
		{name: "client certificate of another CA", files: mtls.ClientFiles{CA: p.CA, Cert: p.OtherClient.Cert, Key: p.OtherClient.Key}},
		{name: "server not signed by the trusted CA", files: mtls.ClientFiles{CA: p.OtherCA, Cert: p.Client.Cert, Key: p.Client.Key}},
		{name: "server name does not match", files: mtls.ClientFiles{CA: p.CA, Cert: p.Client.Cert, Key: p.Client.Key}, server: mtlstest.WrongServerName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := mtls.ClientConfig(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ServerName = tt.server
			if cfg.ServerName == "" {
				cfg.ServerName = "127.0.0.1"
			}
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
			var got []byte
			if err == nil {
				// TLS 1.3 reports the server's refusal of a client certificate on the first read.
				c.SetDeadline(time.Now().Add(5 * time.Second))
				got, err = io.ReadAll(c)
				c.Close()
				if err == nil && string(got) != "ok" {
					err = errors.New("connection closed without a handshake")
				}
			}
			if tt.ok && err != nil {
				t.Errorf("handshake: %v, want success", err)
			}
			if !tt.ok && err == nil {
				t.Error("handshake succeeded, want a failure")
			}
		})
	}
}
