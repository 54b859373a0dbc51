package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/source"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Defaults of Listen's zero fields.
const (
	// DefaultListenHeartbeat is how long a stream stays silent before a
	// heartbeat: well inside the idle timeouts of proxies between a
	// laptop and the control plane.
	DefaultListenHeartbeat = 15 * time.Second
	// DefaultListenStreams bounds the streams a tenant holds open on one
	// control-plane replica: each holds a consumer in the backbone.
	DefaultListenStreams = 10
	// MaxListenSources bounds the sources one stream follows; each is a
	// filter subject of its consumer.
	MaxListenSources = 1000
)

// ChangeNotifier says when the configuration revision moves
// (config.Cache).
type ChangeNotifier interface {
	Changed() <-chan struct{}
}

// Listen implements plugs.v1.ListenService: it streams a tenant's accepted
// webhooks to a developer's machine, reading them through a ListenFeed.
type Listen struct {
	plugsv1.UnimplementedListenServiceServer

	Client *ent.Client
	// Feed reads the backbone; nil answers FAILED_PRECONDITION.
	Feed ListenFeed
	// Changes, when set, makes a stream following every source of the
	// tenant pick up sources created while it is open.
	Changes ChangeNotifier
	// Shutdown ends every stream when closed: the caller resumes on
	// another replica with its last cursor.
	Shutdown <-chan struct{}
	// Heartbeat is DefaultListenHeartbeat when zero.
	Heartbeat time.Duration
	// MaxStreams is DefaultListenStreams when zero.
	MaxStreams int
	Log        *slog.Logger

	mu   sync.Mutex
	open map[uuid.UUID]int // streams open, by tenant
}

// Listen implements plugs.v1.ListenService.
func (l *Listen) Listen(req *plugsv1.ListenRequest, stream grpc.ServerStreamingServer[plugsv1.ListenResponse]) error {
	ctx := stream.Context()
	var v violations
	var named []uuid.UUID
	for i, s := range req.GetSourceIds() {
		id, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			v.add(fmt.Sprintf("source_ids[%d]", i), "must be a UUID such as 0190c3d2-7f4e-7b7a-9c1d-2e3f4a5b6c7d")
			continue
		}
		if !slices.Contains(named, id) {
			named = append(named, id)
		}
	}
	if len(named) > MaxListenSources {
		v.add("source_ids", fmt.Sprintf("at most %d sources", MaxListenSources))
	}
	if err := v.err(); err != nil {
		return err
	}
	if l.Feed == nil {
		return noBackbone("usage events and receipts are")
	}
	if err := requireSources(ctx, l.Client.Source, named); err != nil {
		return statusOrInternal(ctx, l.log(), "look up sources", err)
	}
	vw, _ := viewer.FromContext(ctx)
	release, err := l.acquire(vw.TenantID)
	if err != nil {
		return err
	}
	defer release()

	s := &listenSession{l: l, stream: stream, all: len(named) == 0, q: ListenQuery{
		TenantID: vw.TenantID.String(), Raw: req.GetRaw(), Resume: req.GetResumeToken(),
	}}
	for _, id := range named {
		s.q.SourceIDs = append(s.q.SourceIDs, id.String())
	}
	return s.run(ctx)
}

// listenSession is one open stream.
type listenSession struct {
	l      *Listen
	stream grpc.ServerStreamingServer[plugsv1.ListenResponse]
	// all follows every source of the tenant, as the set changes.
	all    bool
	q      ListenQuery
	reader ListenReader
}

func (s *listenSession) run(ctx context.Context) error {
	if s.all {
		ids, err := s.tenantSources(ctx)
		if err != nil {
			return err
		}
		s.q.SourceIDs = ids
	}
	if err := s.open(ctx); err != nil {
		return err
	}
	defer func() { s.reader.Close() }()
	if err := s.stream.Send(&plugsv1.ListenResponse{Cursor: s.reader.Cursor(), Kind: &plugsv1.ListenResponse_Ready{
		Ready: &plugsv1.ListenReady{SourceIds: s.q.SourceIDs, Raw: s.q.Raw},
	}}); err != nil {
		return err
	}
	for {
		var changed <-chan struct{}
		if s.all && s.l.Changes != nil {
			changed = s.l.Changes.Changed()
		}
		ev, err := s.next(ctx, changed)
		switch {
		case err == nil:
			if err := s.stream.Send(&plugsv1.ListenResponse{Cursor: s.reader.Cursor(),
				Kind: &plugsv1.ListenResponse_Event{Event: ev}}); err != nil {
				return err
			}
		case ctx.Err() != nil:
			return status.FromContextError(ctx.Err()).Err()
		case closed(s.l.Shutdown):
			return status.Error(codes.Unavailable, "the control plane is shutting down; resume with the last cursor")
		case closed(changed):
			if err := s.follow(ctx); err != nil {
				return err
			}
		case errors.Is(err, context.DeadlineExceeded):
			if err := s.stream.Send(&plugsv1.ListenResponse{Cursor: s.reader.Cursor(),
				Kind: &plugsv1.ListenResponse_Heartbeat{Heartbeat: &plugsv1.ListenHeartbeat{}}}); err != nil {
				return err
			}
		default:
			return s.unavailable(ctx, "read the backbone", err)
		}
	}
}

// next waits for the reader's next webhook, at most one heartbeat, and
// less when the server shuts down or changed closes.
func (s *listenSession) next(ctx context.Context, changed <-chan struct{}) (*plugsv1.ListenEvent, error) {
	wait, cancel := context.WithTimeout(ctx, s.l.heartbeat())
	defer cancel()
	go func() {
		select {
		case <-s.l.Shutdown:
		case <-changed:
		case <-wait.Done():
		}
		cancel()
	}()
	return s.reader.Next(wait)
}

// open opens the reader at s.q.
func (s *listenSession) open(ctx context.Context) error {
	r, err := s.l.Feed.Open(ctx, s.q)
	if errors.Is(err, ErrResumeToken) {
		return invalid("resume_token", "not a cursor of a stream of this mode; leave it empty to start from now")
	}
	if err != nil {
		return s.unavailable(ctx, "open the backbone", err)
	}
	s.reader = r
	return nil
}

// follow reopens the reader where it is when the tenant's sources are no
// longer those it reads, so a source created meanwhile is followed from
// the cursor on, its first webhooks included.
func (s *listenSession) follow(ctx context.Context) error {
	ids, err := s.tenantSources(ctx)
	if err != nil {
		return err
	}
	if slices.Equal(ids, s.q.SourceIDs) {
		return nil
	}
	s.q.SourceIDs, s.q.Resume = ids, s.reader.Cursor()
	s.reader.Close()
	return s.open(ctx)
}

// tenantSources lists the ids of every source of the tenant, sorted.
func (s *listenSession) tenantSources(ctx context.Context) ([]string, error) {
	ids, err := s.l.Client.Source.Query().Order(ent.Asc(source.FieldID)).Limit(MaxListenSources + 1).IDs(ctx)
	if err != nil {
		return nil, statusOrInternal(ctx, s.l.log(), "list sources", err)
	}
	if len(ids) > MaxListenSources {
		st := status.New(codes.FailedPrecondition, fmt.Sprintf("the tenant has more than %d sources; name those to follow", MaxListenSources))
		if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
			Field: "source_ids", Description: "required when the tenant has this many sources",
		}}}); err == nil {
			st = d
		}
		return nil, st.Err()
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out, nil
}

// unavailable is UNAVAILABLE, worth resuming, for a backbone that did not
// answer.
func (s *listenSession) unavailable(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	s.l.log().WarnContext(ctx, "listen: "+what, "error", err)
	return unavailable("backbone unavailable; resume with the last cursor")
}

// acquire counts a stream of the tenant, refusing one past MaxStreams.
func (l *Listen) acquire(tenant uuid.UUID) (release func(), err error) {
	limit := l.MaxStreams
	if limit <= 0 {
		limit = DefaultListenStreams
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == nil {
		l.open = map[uuid.UUID]int{}
	}
	if l.open[tenant] >= limit {
		st := status.New(codes.ResourceExhausted, fmt.Sprintf("the tenant has %d listen streams open on this control plane, the most it may", limit))
		if d, derr := st.WithDetails(&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject: "tenant", Description: fmt.Sprintf("at most %d listen streams at once", limit),
		}}}); derr == nil {
			st = d
		}
		return nil, st.Err()
	}
	l.open[tenant]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.open[tenant]--; l.open[tenant] <= 0 {
			delete(l.open, tenant)
		}
	}, nil
}

func (l *Listen) heartbeat() time.Duration {
	if l.Heartbeat <= 0 {
		return DefaultListenHeartbeat
	}
	return l.Heartbeat
}

func (l *Listen) log() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.Default()
}

// closed reports whether ch is closed; a nil channel never is.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
