package listen

import "errors"

var (
	// ErrIdle means the stream carried nothing, not even a heartbeat, for
	// the idle timeout: the connection is taken for dead and opened again.
	ErrIdle = errors.New("listen: no message within the idle timeout")
	// ErrNotForwarded means a webhook could not be posted as it arrived:
	// its body was kept only in part.
	ErrNotForwarded = errors.New("listen: not forwarded")
)
