package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// MinVersion is the oldest TLS version sysflux accepts.
const MinVersion = tls.VersionTLS12

// ServerFiles name the PEM files of a TLS server.
type ServerFiles struct {
	// Cert and Key are the server's certificate (chain) and private key.
	Cert, Key string
	// ClientCA, when set, is the CA (one or more PEM certificates) that clients' certificates
	// must be signed by: the server then requires and verifies a client certificate.
	ClientCA string
}

// ClientFiles name the PEM files of a TLS client.
type ClientFiles struct {
	// CA is the CA (one or more PEM certificates) the server's certificate must chain to; ""
	// trusts the system's roots.
	CA string
	// Cert and Key, when set, are the client's certificate (chain) and private key, presented
	// to servers that ask for one.
	Cert, Key string
}

// ServerConfig returns the TLS configuration of a server presenting f.Cert. With f.ClientCA it
// requires and verifies client certificates.
func ServerConfig(f ServerFiles) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("a TLS server needs both a certificate and a key file")
	}
	cert, err := loadKeyPair(f.Cert, f.Key, time.Now())
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: MinVersion, Certificates: []tls.Certificate{cert}}
	if f.ClientCA != "" {
		pool, err := loadPool(f.ClientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientConfig returns the TLS configuration of a client that verifies its server against
// f.CA (the system's roots when ""), and presents f.Cert when set. The server's name is
// verified against the address dialled unless the caller sets ServerName.
func ClientConfig(f ClientFiles) (*tls.Config, error) {
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("a TLS client certificate needs both a certificate and a key file")
	}
	cfg := &tls.Config{MinVersion: MinVersion}
	if f.CA != "" {
		pool, err := loadPool(f.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if f.Cert != "" {
		cert, err := loadKeyPair(f.Cert, f.Key, time.Now())
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadKeyPair reads a certificate and its key, and checks that the certificate is valid now.
func loadKeyPair(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key file: %w", err)
	}
	if b, _ := pem.Decode(certPEM); b == nil {
		return tls.Certificate{}, fmt.Errorf("certificate file %s: no PEM data", certFile)
	}
	if b, _ := pem.Decode(keyPEM); b == nil {
		return tls.Certificate{}, fmt.Errorf("key file %s: no PEM data", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s with key %s: %w", certFile, keyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("certificate file %s: %w", certFile, err)
		}
	}
	switch {
	case now.After(leaf.NotAfter):
		return tls.Certificate{}, fmt.Errorf("certificate file %s: certificate %q expired at %s",
			certFile, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return tls.Certificate{}, fmt.Errorf("certificate file %s: certificate %q is not valid before %s",
			certFile, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// loadPool reads the CA certificates of a PEM file.
func loadPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: certificate %d: %w", file, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %s: no PEM certificate", file)
	}
	return pool, nil
}
