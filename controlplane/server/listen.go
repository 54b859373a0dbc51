package server

import (
	"net/http"
	"time"
)

// listenPath is the REST form of ListenService.Listen, a stream that lasts
// as long as the caller keeps it open.
const listenPath = "/v1/events:listen"

// endlessWrite lifts the HTTP server's WriteTimeout, which bounds every
// other answer, for a streamed answer: the stream sends a heartbeat at
// least every 15 s and ends when the caller goes away or the server stops.
func endlessWrite(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}
