package egress

import "errors"

// ErrForbiddenAddress means an outbound connection was refused because the
// address it resolved to is not on the public internet (loopback, private,
// link-local, shared, multicast, …) and not on the operator's allowlist.
var ErrForbiddenAddress = errors.New("egress: destination address not allowed")
