package streamindex

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Text makes a string storable everywhere: PostgreSQL refuses NUL in text
// and in jsonb, and a sender controls much of what a receipt quotes, as a
// destination does what an attempt's error quotes. Raw bytes (a receipt's
// body) are kept as they are.
func Text(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// Stamp is t as stored: UTC, cut to microseconds. PostgreSQL keeps
// microseconds; cutting here makes the stored value the same on every
// dialect, and page tokens exact.
func Stamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// RowTime is a row's time as stored: the message's own, or published, the
// time the stream stored it, when the message has none.
func RowTime(own *timestamppb.Timestamp, published time.Time) time.Time {
	if own != nil && own.IsValid() {
		return Stamp(own.AsTime())
	}
	return Stamp(published)
}
