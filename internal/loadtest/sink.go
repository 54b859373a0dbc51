package loadtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/plugshq/plugs/consumer"
)

// SinkPath is where the destination receives deliveries.
const SinkPath = "/usage"

// Sink is the destination: a customer's endpoint in this process that
// verifies every delivery with the consumer package, as a customer would,
// and notes its provider event id in the ledger.
type Sink struct {
	// URL is the delivery URL to register.
	URL string
	// Key is the destination's shared key.
	Key      string
	srv      *Server
	rejected atomic.Int64
}

// StartSink starts a destination with a fresh random key, noting
// deliveries in ledger.
func StartSink(ledger *Ledger) (*Sink, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("loadtest: sink key: %w", err)
	}
	s := &Sink{Key: "whsec_" + base64.StdEncoding.EncodeToString(raw)}
	v := &consumer.Verifier{Key: s.Key}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+SinkPath, func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.VerifyRequest(r)
		if err != nil {
			// Refused deliveries are retried by Plugs; counting them
			// shows a harness bug rather than hiding it.
			s.rejected.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ledger.Delivered(ev.Usage.GetEventId())
		w.WriteHeader(http.StatusNoContent)
	})
	srv, err := Serve(mux)
	if err != nil {
		return nil, err
	}
	s.srv, s.URL = srv, srv.URL+SinkPath
	return s, nil
}

// Rejected is how many deliveries did not verify.
func (s *Sink) Rejected() int64 { return s.rejected.Load() }

// Close stops the destination.
func (s *Sink) Close() { s.srv.Close() }
