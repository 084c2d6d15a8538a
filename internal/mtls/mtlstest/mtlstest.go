// Package mtlstest writes a throwaway PKI to a test's temporary directory, for tests of TLS
// and mutual TLS between real servers and clients on loopback: a CA, a server certificate for
// 127.0.0.1, ::1 and localhost, client certificates, a CA nobody trusts with a client
// certificate of its own, an expired client certificate, and a server certificate for a
// name that is not the address dialled.
package mtlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Pair names the PEM files of a certificate and its key.
type Pair struct {
	Cert, Key string
}

// TLS returns the pair as a certificate for a tls.Config.
func (p Pair) TLS(tb testing.TB) tls.Certificate {
	tb.Helper()
	c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// PKI is a set of certificates written to a temporary directory.
type PKI struct {
	// Dir holds the files.
	Dir string
	// CA is the trusted CA's certificate.
	CA string
	// Server is signed by CA for 127.0.0.1, ::1 and localhost.
	Server Pair
	// Client is signed by CA for the name ClientName (DNS SAN and common name).
	Client Pair
	// OtherCA is a CA that nobody trusts; OtherClient and OtherServer are signed by it, with
	// the names of Client and Server.
	OtherCA                  string
	OtherClient, OtherServer Pair
	// Expired is a client certificate signed by CA, with ClientName, that expired an hour ago.
	Expired Pair
	// WrongName is a server certificate signed by CA for WrongServerName only.
	WrongName Pair

	ca, otherCA *authority
	n           int
}

// Names used in the PKI's certificates.
const (
	ClientName      = "hub-a.sysflux.test"
	WrongServerName = "elsewhere.sysflux.test"
)

// authority is a CA that can sign.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// New writes a PKI to a new temporary directory of tb.
func New(tb testing.TB) *PKI {
	tb.Helper()
	p := &PKI{Dir: tb.TempDir()}
	p.ca, p.CA = p.newCA(tb, "sysflux test CA")
	p.otherCA, p.OtherCA = p.newCA(tb, "untrusted test CA")
	now := time.Now()
	server := Spec{DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, Server: true}
	client := Spec{DNSNames: []string{ClientName}, Client: true}
	p.Server = p.Issue(tb, "server", server)
	p.Client = p.Issue(tb, "client", client)
	p.OtherServer = p.issue(tb, p.otherCA, "other-server", server)
	p.OtherClient = p.issue(tb, p.otherCA, "other-client", client)
	expired := client
	expired.NotBefore, expired.NotAfter = now.Add(-48*time.Hour), now.Add(-time.Hour)
	p.Expired = p.Issue(tb, "expired", expired)
	p.WrongName = p.Issue(tb, "wrong-name", Spec{DNSNames: []string{WrongServerName}, Server: true})
	return p
}

// Spec describes a certificate to issue.
type Spec struct {
	// CommonName defaults to the first DNS name.
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	// Server and Client set the extended key usages.
	Server, Client bool
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
}

// Issue writes a certificate signed by the PKI's CA, and its key, as name.crt and name.key.
func (p *PKI) Issue(tb testing.TB, name string, s Spec) Pair {
	tb.Helper()
	return p.issue(tb, p.ca, name, s)
}

func (p *PKI) issue(tb testing.TB, ca *authority, name string, s Spec) Pair {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	if s.NotBefore.IsZero() {
		s.NotBefore = now.Add(-time.Hour)
	}
	if s.NotAfter.IsZero() {
		s.NotAfter = now.Add(24 * time.Hour)
	}
	if s.CommonName == "" && len(s.DNSNames) > 0 {
		s.CommonName = s.DNSNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: p.serial(),
		Subject:      pkix.Name{CommonName: s.CommonName, Organization: []string{"sysflux tests"}},
		DNSNames:     s.DNSNames,
		IPAddresses:  s.IPs,
		NotBefore:    s.NotBefore,
		NotAfter:     s.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if s.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if s.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	pair := Pair{Cert: filepath.Join(p.Dir, name+".crt"), Key: filepath.Join(p.Dir, name+".key")}
	writePEM(tb, pair.Cert, "CERTIFICATE", der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, pair.Key, "PRIVATE KEY", kder)
	return pair
}

func (p *PKI) newCA(tb testing.TB, cn string) (*authority, string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          p.serial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"sysflux tests"}},
		NotBefore:             now.Add(-72 * time.Hour),
		NotAfter:              now.Add(72 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	p.n++
	path := filepath.Join(p.Dir, "ca-"+big.NewInt(int64(p.n)).String()+".crt")
	writePEM(tb, path, "CERTIFICATE", der)
	return &authority{cert: cert, key: key}, path
}

func (p *PKI) serial() *big.Int {
	p.n++
	return big.NewInt(int64(1000 + p.n))
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// ClientTLS returns a client configuration that trusts the PKI's CA and presents cert, when
// given.
func (p *PKI) ClientTLS(tb testing.TB, cert *Pair) *tls.Config {
	tb.Helper()
	return p.clientTLS(tb, p.CA, cert)
}

func (p *PKI) clientTLS(tb testing.TB, ca string, cert *Pair) *tls.Config {
	tb.Helper()
	data, err := os.ReadFile(ca)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		tb.Fatalf("no certificate in %s", ca)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS(tb)}
	}
	return cfg
}
