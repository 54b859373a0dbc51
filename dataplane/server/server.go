// Package server runs a data plane's public HTTP listener: the ingest
// endpoint, health and readiness. Timeouts on every phase keep a slow client
// from holding a pod.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/plugshq/plugs/dataplane/snapshot"
)

// Server is a running data-plane listener.
type Server struct {
	Addr string
	http *http.Server
}

// Config configures the listener.
type Config struct {
	Addr  string
	Store *snapshot.Store
	// Ingest adds the ingest routes.
	Ingest interface{ Register(*http.ServeMux) }
	// Backbone, when set, must be connected for /readyz: a data plane that
	// cannot store answers every webhook 503, so a load balancer should
	// send them elsewhere.
	Backbone interface{ Connected() bool }
	Log      *slog.Logger
	// ReadHeaderTimeout, ReadTimeout (headers and body) and IdleTimeout
	// bound how long a client may hold a connection; zero means 5 s, 30 s
	// and 120 s.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// TLS, when set, serves the listener over TLS with its Certificates;
	// nil serves plaintext, for a pod behind a proxy that terminates TLS.
	TLS *tls.Config
}

// Start listens on cfg.Addr and serves until Stop.
func Start(cfg Config) (*Server, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	store := cfg.Store
	var tlsCfg *tls.Config
	if cfg.TLS != nil {
		if len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil {
			return nil, errors.New("dataplane: the TLS configuration has no certificate")
		}
		tlsCfg = cfg.TLS.Clone()
		if tlsCfg.MinVersion == 0 {
			tlsCfg.MinVersion = tls.VersionTLS12
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dataplane: listen: %w", err)
	}
	mux := http.NewServeMux()
	if cfg.Ingest != nil {
		cfg.Ingest.Register(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		conf := store.Load()
		if conf == nil {
			writeJSON(w, http.StatusServiceUnavailable, `{"ready":false,"reason":"no configuration loaded yet"}`)
			return
		}
		if cfg.Backbone != nil && !cfg.Backbone.Connected() {
			writeJSON(w, http.StatusServiceUnavailable, `{"ready":false,"reason":"backbone unreachable"}`)
			return
		}
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"ready":true,"version":%q,"sources":%d}`, conf.Version, len(conf.Sources)))
	})
	s := &Server{
		Addr: ln.Addr().String(),
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: or(cfg.ReadHeaderTimeout, 5*time.Second),
			ReadTimeout:       or(cfg.ReadTimeout, 30*time.Second),
			WriteTimeout:      or(cfg.ReadTimeout, 30*time.Second) + 10*time.Second,
			IdleTimeout:       or(cfg.IdleTimeout, 120*time.Second),
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			TLSConfig:         tlsCfg,
		},
	}
	go func() {
		var err error
		if tlsCfg != nil {
			// The certificates are in TLSConfig; ServeTLS also offers h2.
			err = s.http.ServeTLS(ln, "", "")
		} else {
			err = s.http.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("data plane listener stopped", "error", err)
		}
	}()
	log.Info("data plane listening", "addr", s.Addr, "tls", tlsCfg != nil)
	return s, nil
}

// Stop drains in-flight requests within ctx.
func (s *Server) Stop(ctx context.Context) { _ = s.http.Shutdown(ctx) }

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
