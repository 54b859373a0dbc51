package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// serverTLSFlags are the control plane's TLS settings: a certificate for
// both listeners and, for mTLS, the CA that signs data planes' client
// certificates.
type serverTLSFlags struct {
	cert, key, clientCA string
}

func (f *serverTLSFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cert, "tls-cert", envOr("PLUGS_TLS_CERT", ""), "PEM certificate (chain) served on the gRPC and REST listeners (PLUGS_TLS_CERT)")
	fs.StringVar(&f.key, "tls-key", envOr("PLUGS_TLS_KEY", ""), "PEM private key of --tls-cert (PLUGS_TLS_KEY)")
	fs.StringVar(&f.clientCA, "tls-client-ca", envOr("PLUGS_TLS_CLIENT_CA", ""),
		"PEM CA whose client certificates authenticate data planes without a token; callers without a certificate still use tokens and API keys (PLUGS_TLS_CLIENT_CA)")
}

// load returns the listeners' TLS configuration, nil for plaintext.
func (f *serverTLSFlags) load() (*tls.Config, error) {
	cert, err := loadKeyPair("--tls-cert", "--tls-key", f.cert, f.key)
	if err != nil {
		return nil, err
	}
	if cert == nil {
		if f.clientCA != "" {
			return nil, usageErr("--tls-client-ca needs --tls-cert and --tls-key: client certificates exist only over TLS")
		}
		return nil, nil
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	if f.clientCA != "" {
		if cfg.ClientCAs, err = loadCAPool("--tls-client-ca", f.clientCA); err != nil {
			return nil, err
		}
		// If given, not required: API-key callers and data planes with a
		// token have no certificate.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// clientTLSFlags are how a client reaches the control plane over TLS.
type clientTLSFlags struct {
	ca, cert, key, serverName string
}

// register adds the flags; withCert adds the client certificate, which only
// a data plane can authenticate with.
func (f *clientTLSFlags) register(fs *flag.FlagSet, withCert bool) {
	fs.StringVar(&f.ca, "tls-ca", envOr("PLUGS_TLS_CA", ""),
		"PEM CA that signed the control plane's certificate; any --tls-* flag turns TLS on, and without this one the system roots verify (PLUGS_TLS_CA)")
	fs.StringVar(&f.serverName, "tls-server-name", envOr("PLUGS_TLS_SERVER_NAME", ""),
		"name to verify the control plane's certificate against, when it differs from the host dialed (PLUGS_TLS_SERVER_NAME)")
	if withCert {
		fs.StringVar(&f.cert, "tls-cert", envOr("PLUGS_TLS_CERT", ""),
			"PEM client certificate for mTLS; signed by the control plane's --tls-client-ca it replaces the token (PLUGS_TLS_CERT)")
		fs.StringVar(&f.key, "tls-key", envOr("PLUGS_TLS_KEY", ""), "PEM private key of --tls-cert (PLUGS_TLS_KEY)")
	}
}

func (f *clientTLSFlags) enabled() bool {
	return f.ca != "" || f.cert != "" || f.key != "" || f.serverName != ""
}

// credentials returns the transport credentials to dial with: TLS when any
// TLS flag is set, plaintext otherwise.
func (f *clientTLSFlags) credentials() (credentials.TransportCredentials, error) {
	if !f.enabled() {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{ServerName: f.serverName, MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pool, err := loadCAPool("--tls-ca", f.ca)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	cert, err := loadKeyPair("--tls-cert", "--tls-key", f.cert, f.key)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return credentials.NewTLS(cfg), nil
}

// loadKeyPair loads a certificate and its key, nil when neither is given.
func loadKeyPair(certFlag, keyFlag, certFile, keyFile string) (*tls.Certificate, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case keyFile == "":
		return nil, usageErr("%s needs %s", certFlag, keyFlag)
	case certFile == "":
		return nil, usageErr("%s needs %s", keyFlag, certFlag)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s %s / %s %s: %w", certFlag, certFile, keyFlag, keyFile, err)
	}
	return &cert, nil
}

// loadCAPool reads a PEM file of CA certificates.
func loadCAPool(flagName, path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in the file", flagName, path)
	}
	return pool, nil
}

// isLoopback reports whether a host:port dials this machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
