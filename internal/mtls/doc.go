// Package mtls builds the TLS configurations of sysflux's servers and clients from PEM files:
// a server's certificate and key, the CA its clients' certificates must be signed by, the CA a
// client trusts for its server, and a client's own certificate. Every configuration requires
// TLS 1.2 or later, and every error names the file it is about.
//
// Certificates and keys are read once, when the configuration is built: a certificate that is
// replaced on disk is used from the next start.
package mtls
