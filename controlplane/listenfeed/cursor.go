package listenfeed

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/plugshq/plugs/controlplane/api"
)

// A cursor is "v1:", the stream it counts in (e: usage events, r:
// receipts), ":" and the stream sequence of the last message read,
// base64url-encoded. Callers treat it as opaque, so what it counts can
// change with how webhooks are stored; the version says which form it is.
const cursorVersion = "v1"

// Which stream a cursor counts in.
const (
	streamEvents   = "e"
	streamReceipts = "r"
)

func encodeCursor(stream string, seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + ":" + stream + ":" + strconv.FormatUint(seq, 10)))
}

// decodeCursor reads a cursor of stream; anything else wraps
// api.ErrResumeToken.
func decodeCursor(stream, tok string) (uint64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, fmt.Errorf("%w: not base64url", api.ErrResumeToken)
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return 0, fmt.Errorf("%w: not a cursor", api.ErrResumeToken)
	}
	if parts[1] != stream {
		return 0, fmt.Errorf("%w: a cursor of the other mode", api.ErrResumeToken)
	}
	seq, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: not a cursor", api.ErrResumeToken)
	}
	return seq, nil
}
