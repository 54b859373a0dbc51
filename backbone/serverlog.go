package backbone

import (
	"fmt"
	"log/slog"
)

// serverLog is the embedded nats-server's logger. Its warnings and errors
// go to log; its notices (the start-up banner) and debug lines do not. A
// fatal error, which an embedded server only logs (it neither stops nor
// exits), goes to fatal, so that StartEmbeddedWith fails at once rather
// than wait for a server that will never accept connections.
type serverLog struct {
	log   *slog.Logger
	fatal chan error // buffered; the first fatal error is kept
}

func (l *serverLog) Noticef(string, ...any) {}
func (l *serverLog) Debugf(string, ...any)  {}
func (l *serverLog) Tracef(string, ...any)  {}

func (l *serverLog) Warnf(format string, v ...any) {
	l.log.Warn("embedded NATS: " + fmt.Sprintf(format, v...))
}

func (l *serverLog) Errorf(format string, v ...any) {
	l.log.Error("embedded NATS: " + fmt.Sprintf(format, v...))
}

// Fatalf keeps the error: ErrNotStarted with the server's words, wrapping
// the error the server was given (a listener's *net.OpError, say).
func (l *serverLog) Fatalf(format string, v ...any) {
	err := &fatalError{msg: fmt.Sprintf(format, v...)}
	for _, a := range v {
		if cause, ok := a.(error); ok {
			err.cause = cause
			break
		}
	}
	select {
	case l.fatal <- err:
	default:
	}
}

// fatalError is a fatal error of the embedded server.
type fatalError struct {
	msg   string
	cause error
}

func (e *fatalError) Error() string { return ErrNotStarted.Error() + ": " + e.msg }

func (e *fatalError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrNotStarted}
	}
	return []error{ErrNotStarted, e.cause}
}
