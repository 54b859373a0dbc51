package backbone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/tracing"
)

// Server error codes that mean "this subject already holds an event".
const (
	codeWrongLastSubjectSeq = 10071 // the expected-empty subject is not
	// codeStoreFailed is any refusal to store: DiscardNewPerSubject
	// refusing a second event on a subject (a duplicate), but also the
	// stream's own limits (messages, bytes) refusing a new one, which is
	// no duplicate. Only its description tells them apart.
	codeStoreFailed = 10077
)

// perSubjectRefusal is the description of codeStoreFailed when it means a
// duplicate (nats-server's ErrMaxMsgsPerSubject).
const perSubjectRefusal = "maximum messages per subject exceeded"

// DefaultDedupWindow is used for an event whose source sets none.
const DefaultDedupWindow = 72 * time.Hour

// EventIDHeader carries the usage event id of a stored event, and of its
// deliveries and dead letters.
const EventIDHeader = "Plugs-Event-Id"

// EventStore stores usage events in EventsStream. It is a pipeline.Sink.
type EventStore struct {
	JS jetstream.JetStream
	// Timeout bounds one store; past it the webhook is answered 503 and
	// the provider retries. Zero means 2 s.
	Timeout time.Duration
	// Window returns the dedup window of a source; nil or zero means
	// DefaultDedupWindow.
	Window func(sourceID string) time.Duration
	// GroupCommit stores the events of concurrent webhooks together, as
	// one atomic batch the server syncs to disk once (see groupcommit.go).
	// Set it when the server syncs every write (--nats-fsync) and
	// EventsStream allows atomic publishing (StreamOptions.GroupCommit);
	// otherwise each event is published on its own.
	GroupCommit bool

	// events is EventsStream, looked up once for reading duplicates.
	mu     sync.Mutex
	events jetstream.Stream
	// group is the committer of GroupCommit, made on first use.
	group *committer
}

// Subject is where ev lives: one subject per source, kind of event and
// provider event id, so the stream remembers each id once per kind. Test
// events (SendTestEvent) and unverified ones (a plugs dev bypass) have id
// spaces of their own: a test body, or an unsigned request, carrying the id
// of a real event can never make the provider's signed event a duplicate,
// nor the other way round. The id is hashed: provider ids may hold
// characters subjects cannot. The kinds differ in their number of tokens,
// so no id of one can land in another's space.
func Subject(ev *plugsv1.UsageEvent) string {
	sum := sha256.Sum256([]byte(ev.GetEventId()))
	kind := ""
	switch {
	case ev.GetTest() && ev.GetUnverified():
		kind = "test-unverified."
	case ev.GetTest():
		kind = "test."
	case ev.GetUnverified():
		kind = "unverified."
	}
	return "plugs.events." + ev.GetSourceId() + "." + kind + hex.EncodeToString(sum[:16])
}

// Enqueue stores ev unless its (source, kind, event id) is already stored. It
// returns once the server has confirmed the write (or the duplicate).
//
// On a duplicate, ev.Id becomes the id of the event already stored, so
// what reports the duplicate (its receipt) names an event that exists, not
// the id generated for this request and never stored. The server's refusal
// does not carry that id, so it is read from the subject's message: one
// more round trip, on duplicates only. When that read fails (the event aged
// out in between, or the backbone did not answer) ev.Id is cleared rather
// than left naming nothing; the duplicate is a duplicate all the same.
func (s *EventStore) Enqueue(ctx context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	data, err := proto.Marshal(ev)
	if err != nil {
		return false, fmt.Errorf("backbone: encode event: %w", err)
	}
	window := DefaultDedupWindow
	if s.Window != nil {
		if w := s.Window(ev.GetSourceId()); w > 0 {
			window = min(w, MaxDedupWindow)
		}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg := &nats.Msg{Subject: Subject(ev), Data: data, Header: nats.Header{}}
	msg.Header.Set(EventIDHeader, ev.GetId())
	// The webhook's trace travels with the event to its deliveries. Dedup
	// is on the subject alone, so a retry carrying another trace is still
	// refused; the stored event keeps the first one.
	tracing.Inject(ctx, msg.Header)
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	msg.Header.Set(jetstream.MsgTTLHeader, window.String())
	msg.Header.Set(jetstream.ExpectedStreamHeader, EventsStream)
	if s.GroupCommit {
		err = s.committer().store(ctx, msg)
	} else {
		_, err = s.JS.PublishMsg(ctx, msg)
	}
	if err == nil {
		return false, nil
	}
	if isDuplicate(err) {
		ev.Id = s.storedID(ctx, msg.Subject)
		return true, nil
	}
	return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// isDuplicate reports whether err is the server refusing an event because
// its subject already holds one.
func isDuplicate(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == codeWrongLastSubjectSeq ||
		(apiErr.ErrorCode == codeStoreFailed && apiErr.Description == perSubjectRefusal))
}

// storedID returns the usage event id of the event stored on subject, ""
// when it cannot be read.
func (s *EventStore) storedID(ctx context.Context, subject string) string {
	st, err := s.eventsStream(ctx)
	if err != nil {
		return ""
	}
	raw, err := st.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return ""
	}
	return StoredEventID(raw)
}

// StoredEventID is the usage event id of a stored event or delivery: its
// header, or the event's own id; "" when it has neither.
func StoredEventID(raw *jetstream.RawStreamMsg) string {
	if id := raw.Header.Get(EventIDHeader); id != "" {
		return id
	}
	ev := &plugsv1.UsageEvent{}
	if proto.Unmarshal(raw.Data, ev) != nil {
		return ""
	}
	return ev.GetId()
}

func (s *EventStore) committer() *committer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.group == nil {
		s.group = &committer{js: s.JS}
	}
	return s.group
}

func (s *EventStore) eventsStream(ctx context.Context) (jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events == nil {
		st, err := s.JS.Stream(ctx, EventsStream)
		if err != nil {
			return nil, err
		}
		s.events = st
	}
	return s.events, nil
}
