package forward

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DeadLetter is a delivery a destination never took.
type DeadLetter struct {
	// Seq is its sequence in the dead-letter stream.
	Seq           uint64
	DestinationID string
	EventID       string
	// Event is the usage event; nil when the delivery held none
	// (ReasonMalformed).
	Event  *plugsv1.UsageEvent
	Reason Reason
	// Attempts is how many requests were made.
	Attempts int
	// LastStatus is the last answer's status, 0 when there was none.
	LastStatus int
	LastError  string
	// Accepted is when the webhook was accepted; Time when the delivery
	// was dead-lettered.
	Accepted time.Time
	Time     time.Time
}

// Limits of ListDead.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ListDead returns the oldest dead letters of a destination, at most limit
// of them (0 means DefaultListLimit, more than MaxListLimit is
// MaxListLimit).
func ListDead(ctx context.Context, js jetstream.JetStream, destID string, limit int) ([]DeadLetter, error) {
	out, _, err := ListDeadAfter(ctx, js, destID, 0, limit)
	return out, err
}

// ListDeadAfter returns, oldest first, the dead letters of a destination
// whose sequence (DeadLetter.Seq) is greater than after, at most limit of
// them (as in ListDead), and whether more follow them. Paging with the
// last Seq of one page as the next page's after neither skips nor repeats
// a dead letter, whatever is dead-lettered or re-driven in between.
func ListDeadAfter(ctx context.Context, js jetstream.JetStream, destID string, after uint64, limit int) ([]DeadLetter, bool, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	if after == math.MaxUint64 {
		return nil, false, nil
	}
	var out []DeadLetter
	more := false
	err := eachDead(ctx, js, destID, after+1, func(dl DeadLetter, _ *jetstream.RawStreamMsg) (bool, error) {
		if len(out) == limit {
			more = true
			return false, nil
		}
		out = append(out, dl)
		return true, nil
	})
	return out, more, err
}

// Redrive queues again the dead letters of a destination that filter
// accepts (nil accepts all) and removes them from the dead letters. A
// re-driven delivery counts its attempts from 1 again and its max_age from
// now. It returns how many were re-driven; on an error, those counted are
// re-driven and the rest are still dead letters, so the call can be
// repeated.
func Redrive(ctx context.Context, js jetstream.JetStream, destID string, filter func(DeadLetter) bool) (int, error) {
	stream, err := js.Stream(ctx, backbone.DeadStream)
	if err != nil {
		return 0, fmt.Errorf("%w: stream %s: %w", ErrBackbone, backbone.DeadStream, err)
	}
	// Only the letters there now: a re-driven delivery the destination
	// refuses again comes back as a new letter, which this call must not
	// pick up again, or it would go round while the destination refuses.
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: stream %s: %w", ErrBackbone, backbone.DeadStream, err)
	}
	last := info.State.LastSeq
	n := 0
	err = eachDead(ctx, js, destID, 1, func(dl DeadLetter, raw *jetstream.RawStreamMsg) (bool, error) {
		if raw.Sequence > last {
			return false, nil
		}
		if filter != nil && !filter(dl) {
			return true, nil
		}
		// A new id, or the deliveries stream would take it for the
		// original delivery; derived from the dead letter, so a re-drive
		// repeated after a failure does not queue it twice.
		if err := requeue(ctx, js, destID, raw, "redrive:"+destID+":"+strconv.FormatUint(raw.Sequence, 10)); err != nil {
			return false, fmt.Errorf("%w: re-drive %d: %w", ErrBackbone, raw.Sequence, err)
		}
		if err := stream.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return false, fmt.Errorf("%w: delete dead letter %d: %w", ErrBackbone, raw.Sequence, err)
		}
		n++
		return true, nil
	})
	return n, err
}

// ListDead lists the dead letters of a destination; see the function
// ListDead.
func (f *Forwarder) ListDead(ctx context.Context, destID string, limit int) ([]DeadLetter, error) {
	return ListDead(ctx, f.js, destID, limit)
}

// Redrive re-drives dead letters of a destination; see the function
// Redrive. Deliveries to a paused destination wait until it is resumed.
func (f *Forwarder) Redrive(ctx context.Context, destID string, filter func(DeadLetter) bool) (int, error) {
	return Redrive(ctx, f.js, destID, filter)
}

// eachDead calls fn with each dead letter of the destination from
// sequence from on, oldest first, until fn returns false or an error. It
// reads one message at a time by subject, so a destination with few dead
// letters among many is listed without reading the others.
func eachDead(ctx context.Context, js jetstream.JetStream, destID string, from uint64, fn func(DeadLetter, *jetstream.RawStreamMsg) (bool, error)) error {
	if err := checkID(destID); err != nil {
		return err
	}
	stream, err := js.Stream(ctx, backbone.DeadStream)
	if err != nil {
		return fmt.Errorf("%w: stream %s: %w", ErrBackbone, backbone.DeadStream, err)
	}
	subject := backbone.DeadSubject(destID)
	for seq := max(from, 1); ; {
		raw, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: read dead letters: %w", ErrBackbone, err)
		}
		more, err := fn(decodeDead(raw, destID), raw)
		if err != nil || !more {
			return err
		}
		seq = raw.Sequence + 1
	}
}

func decodeDead(raw *jetstream.RawStreamMsg, destID string) DeadLetter {
	h := raw.Header
	dl := DeadLetter{
		Seq:           raw.Sequence,
		DestinationID: destID,
		EventID:       h.Get(HeaderEventID),
		Reason:        Reason(h.Get(HeaderReason)),
		LastError:     h.Get(HeaderLastError),
		Time:          raw.Time,
	}
	dl.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempts))
	dl.LastStatus, _ = strconv.Atoi(h.Get(HeaderLastStatus))
	dl.Accepted, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderAccepted))
	ev := &plugsv1.UsageEvent{}
	if proto.Unmarshal(raw.Data, ev) == nil {
		dl.Event = ev
		if dl.EventID == "" {
			dl.EventID = ev.GetId()
		}
	}
	return dl
}
