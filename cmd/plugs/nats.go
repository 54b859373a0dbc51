package main

import (
	"crypto/tls"
	"flag"
	"log/slog"

	"github.com/plugshq/plugs/backbone"
)

// natsFlags say how a command reaches the backbone; the control plane and
// the data plane take the same ones.
type natsFlags struct {
	url, creds      string
	ca, cert, key   string
	tlsConfig       *tls.Config
	urlHelp, defURL string
}

func (f *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "nats-url", envOr("PLUGS_NATS_URL", f.defURL), f.urlHelp+" (PLUGS_NATS_URL)")
	fs.StringVar(&f.creds, "nats-creds", envOr("PLUGS_NATS_CREDS", ""), "NATS credentials file, JWT and seed (PLUGS_NATS_CREDS)")
	fs.StringVar(&f.ca, "nats-tls-ca", envOr("PLUGS_NATS_TLS_CA", ""), "PEM CA certificates verifying the NATS servers (PLUGS_NATS_TLS_CA)")
	fs.StringVar(&f.cert, "nats-tls-cert", envOr("PLUGS_NATS_TLS_CERT", ""), "PEM client certificate for NATS (PLUGS_NATS_TLS_CERT)")
	fs.StringVar(&f.key, "nats-tls-key", envOr("PLUGS_NATS_TLS_KEY", ""), "PEM key of --nats-tls-cert (PLUGS_NATS_TLS_KEY)")
}

// load checks the TLS flags and reads their files.
func (f *natsFlags) load() error {
	cert, err := loadKeyPair("--nats-tls-cert", "--nats-tls-key", f.cert, f.key)
	if err != nil {
		return err
	}
	if cert == nil && f.ca == "" {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	if f.ca != "" {
		if cfg.RootCAs, err = loadCAPool("--nats-tls-ca", f.ca); err != nil {
			return err
		}
	}
	f.tlsConfig = cfg
	return nil
}

func (f *natsFlags) options(name string) backbone.Options {
	return backbone.Options{URL: f.url, CredsFile: f.creds, TLS: f.tlsConfig, Name: name, Log: slog.Default()}
}
