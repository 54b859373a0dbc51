// Package server runs a data plane's public HTTP listener: health and
// readiness now, the ingest endpoint as it is added. Timeouts on every phase
// keep a slow client from holding a pod.
package server

import (
	"context"
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

// Start listens on addr and serves until Stop.
func Start(addr string, store *snapshot.Store, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dataplane: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		cfg := store.Load()
		if cfg == nil {
			writeJSON(w, http.StatusServiceUnavailable, `{"ready":false,"reason":"no configuration loaded yet"}`)
			return
		}
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"ready":true,"version":%q,"sources":%d}`, cfg.Version, len(cfg.Sources)))
	})
	s := &Server{
		Addr: ln.Addr().String(),
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("data plane listener stopped", "error", err)
		}
	}()
	log.Info("data plane listening", "addr", s.Addr)
	return s, nil
}

// Stop drains in-flight requests within ctx.
func (s *Server) Stop(ctx context.Context) { _ = s.http.Shutdown(ctx) }

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
