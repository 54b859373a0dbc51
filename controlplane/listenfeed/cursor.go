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
// base64url-encoded. A message of the receipts stream may carry a batch
// of receipts: a cursor taken part way through one is "v1:r:<seq>:<k>",
// the first k receipts of message seq read and the rest not. Callers treat
// it as opaque, so what it counts can change with how webhooks are stored;
// the version says which form it is.
const cursorVersion = "v1"

// Which stream a cursor counts in.
const (
	streamEvents   = "e"
	streamReceipts = "r"
)

// position is where a cursor points: after message seq, or, with done
// above 0, after the first done records of message seq.
type position struct {
	seq  uint64
	done int
}

func encodeCursor(stream string, p position) string {
	raw := cursorVersion + ":" + stream + ":" + strconv.FormatUint(p.seq, 10)
	if p.done > 0 {
		raw += ":" + strconv.Itoa(p.done)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeCursor reads a cursor of stream; anything else wraps
// api.ErrResumeToken.
func decodeCursor(stream, tok string) (position, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return position{}, fmt.Errorf("%w: not base64url", api.ErrResumeToken)
	}
	parts := strings.Split(string(raw), ":")
	if (len(parts) != 3 && len(parts) != 4) || parts[0] != cursorVersion {
		return position{}, fmt.Errorf("%w: not a cursor", api.ErrResumeToken)
	}
	if parts[1] != stream {
		return position{}, fmt.Errorf("%w: a cursor of the other mode", api.ErrResumeToken)
	}
	seq, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return position{}, fmt.Errorf("%w: not a cursor", api.ErrResumeToken)
	}
	p := position{seq: seq}
	if len(parts) == 4 {
		if p.done, err = strconv.Atoi(parts[3]); err != nil || p.done <= 0 || seq == 0 || stream != streamReceipts {
			return position{}, fmt.Errorf("%w: not a cursor", api.ErrResumeToken)
		}
	}
	return p, nil
}
