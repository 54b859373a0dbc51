package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is an HTTP server of this process on a free loopback port: the
// bare reference handler or the destination.
type Server struct {
	// URL is "http://127.0.0.1:port".
	URL string
	srv *http.Server
}

// Serve starts h on a free loopback port.
func Serve(h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loadtest: listen: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("loadtest: server stopped", "url", s.URL, "error", err)
		}
	}()
	return s, nil
}

// Close stops the server, letting requests under way finish for a moment.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		_ = s.srv.Close()
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a child process to listen on. Another process could take it in
// between; on a test machine that is rare enough.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("loadtest: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
