package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Limits of a dead-letter filter.
const (
	MaxFilterEventIDs = 1000
	maxFilterIDLen    = 1024
)

// DestinationService is the whole of plugs.v1.DestinationService: the
// destinations themselves, their dead letters and their delivery log.
type DestinationService struct {
	*Destinations
	*DeadLetters
	*Deliveries
}

// DeadLetters implements the dead-letter methods of
// plugs.v1.DestinationService. Dead letters live in the backbone, keyed by
// destination id only; the destination is looked up through the
// tenant-scoped client first, so a caller reaches the dead letters of its
// own tenant's destinations and of nothing else.
type DeadLetters struct {
	Client *ent.Client
	// JS reaches the backbone; nil answers FAILED_PRECONDITION.
	JS  jetstream.JetStream
	Log *slog.Logger
}

// ListDeadLetters implements plugs.v1.DestinationService.
func (d *DeadLetters) ListDeadLetters(ctx context.Context, req *plugsv1.ListDeadLettersRequest) (*plugsv1.ListDeadLettersResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodeDeadPageToken(id, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if err := d.ready(ctx, id); err != nil {
		return nil, err
	}
	letters, more, err := forward.ListDeadAfter(ctx, d.JS, id.String(), after, size)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		// No data plane has created the streams yet: nothing was ever
		// dead-lettered.
		letters, more, err = nil, false, nil
	}
	if err != nil {
		return nil, d.backboneErr(ctx, "list dead letters", err)
	}
	resp := &plugsv1.ListDeadLettersResponse{DeadLetters: make([]*plugsv1.DeadLetter, 0, len(letters))}
	for _, dl := range letters {
		resp.DeadLetters = append(resp.DeadLetters, deadLetterToProto(dl))
	}
	if more && len(letters) > 0 {
		resp.NextPageToken = encodeDeadPageToken(id, letters[len(letters)-1].Seq)
	}
	return resp, nil
}

// RedriveDeadLetters implements plugs.v1.DestinationService.
func (d *DeadLetters) RedriveDeadLetters(ctx context.Context, req *plugsv1.RedriveDeadLettersRequest) (*plugsv1.RedriveDeadLettersResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	match, err := deadLetterMatcher(req.GetFilter())
	if err != nil {
		return nil, err
	}
	if err := d.ready(ctx, id); err != nil {
		return nil, err
	}
	// forward.Redrive takes only the letters present when it starts.
	n, err := forward.Redrive(ctx, d.JS, id.String(), func(dl forward.DeadLetter) bool {
		return match == nil || match(dl)
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) && n == 0 {
		n, err = 0, nil
	}
	vw, _ := viewer.FromContext(ctx)
	if err != nil {
		if n > 0 {
			d.logger().WarnContext(ctx, "dead letters partly re-driven", "destination_id", id, "tenant_id", vw.TenantID, "count", n)
		}
		return nil, d.backboneErr(ctx, "re-drive dead letters", err)
	}
	d.logger().InfoContext(ctx, "dead letters re-driven", "destination_id", id, "tenant_id", vw.TenantID, "count", n)
	return &plugsv1.RedriveDeadLettersResponse{RedrivenCount: int32(min(n, math.MaxInt32))}, nil
}

// ready checks that the destination is the caller's tenant's (NOT_FOUND
// otherwise, exactly like a missing one) and that the backbone is
// configured.
func (d *DeadLetters) ready(ctx context.Context, id uuid.UUID) error {
	if err := requireDestination(ctx, d.Client, d.logger(), id); err != nil {
		return err
	}
	if d.JS == nil {
		return noBackbone("dead letters are")
	}
	return nil
}

// backboneErr turns a failed read or write of the dead letters into a
// status: UNAVAILABLE, worth retrying, when the backbone did not answer.
func (d *DeadLetters) backboneErr(ctx context.Context, what string, err error) error {
	return backboneErr(ctx, d.logger(), what, err)
}

func (d *DeadLetters) logger() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// Page tokens of the dead letters carry the destination and the stream
// sequence of the last dead letter shown: a page continues after it, so
// dead letters re-driven or added meanwhile never shift a page.
func encodeDeadPageToken(destID uuid.UUID, seq uint64) string {
	return encodePageToken(destID.String() + "/" + strconv.FormatUint(seq, 10))
}

func decodeDeadPageToken(destID uuid.UUID, tok string) (uint64, error) {
	key, err := decodePageToken(tok)
	if err != nil || key == "" {
		return 0, err
	}
	dest, seq, ok := strings.Cut(key, "/")
	n, perr := strconv.ParseUint(seq, 10, 64)
	if !ok || dest != destID.String() || perr != nil || n == 0 {
		return 0, invalid("page_token", "not a page token of this list")
	}
	return n, nil
}

var reasons = map[forward.Reason]plugsv1.DeadLetter_Reason{
	forward.ReasonRejected:          plugsv1.DeadLetter_REASON_REJECTED,
	forward.ReasonAttemptsExhausted: plugsv1.DeadLetter_REASON_ATTEMPTS_EXHAUSTED,
	forward.ReasonExpired:           plugsv1.DeadLetter_REASON_EXPIRED,
	forward.ReasonMalformed:         plugsv1.DeadLetter_REASON_MALFORMED,
}

func deadLetterToProto(dl forward.DeadLetter) *plugsv1.DeadLetter {
	out := &plugsv1.DeadLetter{
		DestinationId:   dl.DestinationID,
		UsageEventId:    dl.EventID,
		ProviderEventId: dl.Event.GetEventId(),
		EventType:       dl.Event.GetEventType(),
		SourceId:        dl.Event.GetSourceId(),
		Reason:          reasons[dl.Reason],
		Attempts:        int32(min(dl.Attempts, math.MaxInt32)),
		LastStatusCode:  int32(min(dl.LastStatus, math.MaxInt32)),
		LastError:       dl.LastError,
	}
	if !dl.Accepted.IsZero() {
		out.AcceptTime = timestamppb.New(dl.Accepted)
	}
	if !dl.Time.IsZero() {
		out.DeadTime = timestamppb.New(dl.Time)
	}
	return out
}

// deadLetterMatcher validates a filter and returns what selects the dead
// letters it matches; nil, for no filter, selects all of them.
func deadLetterMatcher(f *plugsv1.DeadLetterFilter) (func(forward.DeadLetter) bool, error) {
	if f == nil {
		return nil, nil
	}
	var v violations
	checkIDs := func(field string, ids []string) {
		if len(ids) > MaxFilterEventIDs {
			v.add("filter."+field, fmt.Sprintf("at most %d ids", MaxFilterEventIDs))
			return
		}
		for i, s := range ids {
			if s == "" || len(s) > maxFilterIDLen {
				v.add(fmt.Sprintf("filter.%s[%d]", field, i), fmt.Sprintf("must be 1 to %d bytes", maxFilterIDLen))
			}
		}
	}
	checkIDs("usage_event_ids", f.GetUsageEventIds())
	checkIDs("provider_event_ids", f.GetProviderEventIds())
	var want forward.Reason
	if r := f.GetReason(); r != plugsv1.DeadLetter_REASON_UNSPECIFIED {
		for k, p := range reasons {
			if p == r {
				want = k
			}
		}
		if want == "" {
			v.add("filter.reason", "must be a DeadLetter.Reason")
		}
	}
	var start, end time.Time
	if t := f.GetDeadTimeStart(); t != nil {
		if t.CheckValid() != nil {
			v.add("filter.dead_time_start", "must be a valid timestamp")
		}
		start = t.AsTime()
	}
	if t := f.GetDeadTimeEnd(); t != nil {
		if t.CheckValid() != nil {
			v.add("filter.dead_time_end", "must be a valid timestamp")
		}
		end = t.AsTime()
	}
	if f.GetDeadTimeStart() != nil && f.GetDeadTimeEnd() != nil && !start.Before(end) {
		v.add("filter.dead_time_end", "must be after dead_time_start")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	usageIDs, providerIDs := stringSet(f.GetUsageEventIds()), stringSet(f.GetProviderEventIds())
	hasStart, hasEnd := f.GetDeadTimeStart() != nil, f.GetDeadTimeEnd() != nil
	return func(dl forward.DeadLetter) bool {
		switch {
		case usageIDs != nil && !usageIDs[dl.EventID]:
			return false
		case providerIDs != nil && (dl.Event == nil || !providerIDs[dl.Event.GetEventId()]):
			return false
		case want != "" && dl.Reason != want:
			return false
		case hasStart && dl.Time.Before(start):
			return false
		case hasEnd && !dl.Time.Before(end):
			return false
		}
		return true
	}, nil
}

// stringSet is the strings of a list as a set; nil for an empty list.
func stringSet(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	out := make(map[string]bool, len(list))
	for _, s := range list {
		out[s] = true
	}
	return out
}
