package api

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// pageSize clamps a requested page size.
func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalid("page_size", "must not be negative")
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

// Page tokens are opaque to callers: "v1:" and the last key of the previous
// page, base64url-encoded. Keys are time-ordered UUIDv7 ids (or template ids),
// so rows inserted meanwhile never shift a page.
func encodePageToken(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + lastKey))
}

func decodePageToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(raw), "v1:") || len(raw) == 3 {
		return "", invalid("page_token", "not a page token of this list")
	}
	return string(raw[3:]), nil
}

// decodeIDPageToken decodes a token whose key is a UUID.
func decodeIDPageToken(tok string) (uuid.UUID, error) {
	key, err := decodePageToken(tok)
	if err != nil || key == "" {
		return uuid.Nil, err
	}
	id, perr := uuid.Parse(key)
	if perr != nil {
		return uuid.Nil, invalid("page_token", "not a page token of this list")
	}
	return id, nil
}

// idPage reads the paging fields of a list keyed by UUID.
func idPage(size int32, token string) (int, uuid.UUID, error) {
	n, err := pageSize(size)
	if err != nil {
		return 0, uuid.Nil, err
	}
	after, err := decodeIDPageToken(token)
	return n, after, err
}

// parseID checks a resource id.
func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, invalid(field, "must be a UUID such as 0190c3d2-7f4e-7b7a-9c1d-2e3f4a5b6c7d")
	}
	return id, nil
}

// trimPage cuts rows fetched with limit size+1 to one page and returns the
// token of the next page, empty on the last.
func trimPage[T any](rows []T, size int, key func(T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, encodePageToken(key(rows[len(rows)-1]))
}

// timeKey is a row's place in a list ordered by time then id, newest
// first: receipts, delivery attempts.
type timeKey struct {
	time time.Time
	id   uuid.UUID
}

// A time-ordered list's page token holds the list's owner (a source, a
// destination) and the last row's key: "<owner id>/<time, Unix
// nanoseconds>/<row id>". Binding the owner keeps a token of one list from
// being used on another's.
func encodeTimePageToken(ownerID uuid.UUID, k timeKey) string {
	return encodePageToken(ownerID.String() + "/" + strconv.FormatInt(k.time.UnixNano(), 10) + "/" + k.id.String())
}

func decodeTimePageToken(ownerID uuid.UUID, tok string) (timeKey, bool, error) {
	key, err := decodePageToken(tok)
	if err != nil || key == "" {
		return timeKey{}, false, err
	}
	bad := invalid("page_token", "not a page token of this list")
	parts := strings.Split(key, "/")
	if len(parts) != 3 || parts[0] != ownerID.String() {
		return timeKey{}, false, bad
	}
	ns, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return timeKey{}, false, bad
	}
	id, err := uuid.Parse(parts[2])
	if err != nil {
		return timeKey{}, false, bad
	}
	// UTC, as stored: SQLite compares times as text.
	return timeKey{time: time.Unix(0, ns).UTC(), id: id}, true, nil
}
