package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/stats"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/deliveryattempt"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/source"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const (
	// MaxStatsSources bounds the sources of one BatchGetSourceStats.
	MaxStatsSources = 100
	// topCauses is how many rejection causes an overview lists.
	topCauses = 10
)

// Stats implements plugs.v1.StatsService over the per-minute rollups of
// package stats. Rows are tenant-scoped by the ORM.
type Stats struct {
	plugsv1.UnimplementedStatsServiceServer

	Client *ent.Client
	// JS reaches the backbone, where dead letters are counted; nil leaves
	// the dead-letter counts unset.
	JS  jetstream.JetStream
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// GetOverview implements plugs.v1.StatsService.
func (s *Stats) GetOverview(ctx context.Context, _ *plugsv1.GetOverviewRequest) (*plugsv1.Overview, error) {
	start, end := stats.LastDay(s.now())
	out := &plugsv1.Overview{
		StartTime: timestamppb.New(start), EndTime: timestamppb.New(end),
		Webhooks: &plugsv1.OutcomeCounts{}, Deliveries: &plugsv1.DeliveryCounts{},
	}
	sums, err := stats.ReceiptMinutes(ctx, s.Client, start)
	if err != nil {
		return nil, internal(ctx, s.log(), "overview", err)
	}
	minutes := map[time.Time]*plugsv1.OutcomeCounts{}
	causes := map[string]int64{}
	for _, m := range sums {
		c := minutes[m.Minute]
		if c == nil {
			c = &plugsv1.OutcomeCounts{}
			minutes[m.Minute] = c
		}
		addOutcome(c, m.Outcome, m.Count)
		addOutcome(out.Webhooks, m.Outcome, m.Count)
		if m.Outcome == string(receipt.OutcomeRejected) {
			causes[cmp.Or(m.Cause, "unknown")] += m.Count
		}
	}
	for _, t := range slices.SortedFunc(maps.Keys(minutes), time.Time.Compare) {
		out.Minutes = append(out.Minutes, &plugsv1.MinuteCounts{StartTime: timestamppb.New(t), Counts: minutes[t]})
	}
	for cause, n := range causes {
		out.RejectionCauses = append(out.RejectionCauses, &plugsv1.CauseCount{Cause: cause, Count: n})
	}
	slices.SortFunc(out.RejectionCauses, func(a, b *plugsv1.CauseCount) int {
		return cmp.Or(cmp.Compare(b.GetCount(), a.GetCount()), strings.Compare(a.GetCause(), b.GetCause()))
	})
	out.RejectionCauses = out.RejectionCauses[:min(len(out.RejectionCauses), topCauses)]

	deliveries, err := stats.DeliveryTotals(ctx, s.Client, start)
	if err != nil {
		return nil, internal(ctx, s.log(), "overview", err)
	}
	byDest := map[uuid.UUID]*plugsv1.DestinationStats{}
	dest := func(id uuid.UUID) *plugsv1.DestinationStats {
		d := byDest[id]
		if d == nil {
			d = &plugsv1.DestinationStats{DestinationId: id.String(), Deliveries: &plugsv1.DeliveryCounts{}}
			byDest[id] = d
		}
		return d
	}
	for _, d := range deliveries {
		addDelivery(dest(d.DestinationID).Deliveries, d.Outcome, d.Count)
		addDelivery(out.Deliveries, d.Outcome, d.Count)
	}
	if s.JS != nil {
		// The tenant's own destinations: the backbone keys dead letters
		// by destination alone.
		ids, err := s.Client.Destination.Query().IDs(ctx)
		if err != nil {
			return nil, internal(ctx, s.log(), "overview", err)
		}
		depth, err := deadLetterDepth(ctx, s.JS)
		if err != nil {
			s.log().WarnContext(ctx, "overview: dead letters not counted", "error", err)
		} else {
			var total int64
			for _, id := range ids {
				n := depth[id.String()]
				total += n
				if n > 0 || byDest[id] != nil {
					dest(id).DeadLetterCount = &n
				}
			}
			out.DeadLetterCount = &total
		}
	}
	for _, id := range slices.SortedFunc(maps.Keys(byDest), func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) }) {
		out.Destinations = append(out.Destinations, byDest[id])
	}
	return out, nil
}

// BatchGetSourceStats implements plugs.v1.StatsService.
func (s *Stats) BatchGetSourceStats(ctx context.Context, req *plugsv1.BatchGetSourceStatsRequest) (*plugsv1.BatchGetSourceStatsResponse, error) {
	var v violations
	if len(req.GetSourceIds()) > MaxStatsSources {
		v.add("source_ids", fmt.Sprintf("at most %d sources at once", MaxStatsSources))
	}
	ids := make([]uuid.UUID, 0, len(req.GetSourceIds()))
	for i, raw := range req.GetSourceIds() {
		id, err := uuid.Parse(raw)
		if err != nil || len(raw) != 36 {
			v.add(fmt.Sprintf("source_ids[%d]", i), "must be a UUID such as 0190c3d2-7f4e-7b7a-9c1d-2e3f4a5b6c7d")
			continue
		}
		ids = append(ids, id)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	// Every source must be the caller's tenant's: another tenant's is not
	// found, exactly like a missing one.
	have, err := s.Client.Source.Query().Where(source.IDIn(ids...)).IDs(ctx)
	if err != nil {
		return nil, internal(ctx, s.log(), "source stats", err)
	}
	for _, id := range ids {
		if !slices.Contains(have, id) {
			return nil, notFound("source", id.String())
		}
	}
	start, _ := stats.LastDay(s.now())
	sums, err := stats.SourceTotals(ctx, s.Client, start, ids)
	if err != nil {
		return nil, internal(ctx, s.log(), "source stats", err)
	}
	last, err := stats.LastReceived(ctx, s.Client, ids)
	if err != nil {
		return nil, internal(ctx, s.log(), "source stats", err)
	}
	counts := map[uuid.UUID]*plugsv1.OutcomeCounts{}
	for _, id := range ids {
		counts[id] = &plugsv1.OutcomeCounts{}
	}
	for _, sum := range sums {
		addOutcome(counts[sum.SourceID], sum.Outcome, sum.Count)
	}
	resp := &plugsv1.BatchGetSourceStatsResponse{SourceStats: make([]*plugsv1.SourceStats, 0, len(ids))}
	for _, id := range ids {
		st := &plugsv1.SourceStats{SourceId: id.String(), Webhooks: counts[id]}
		if t, ok := last[id]; ok {
			st.LastReceiveTime = timestamppb.New(t)
		}
		resp.SourceStats = append(resp.SourceStats, st)
	}
	return resp, nil
}

// addOutcome adds n webhooks of a stored receipt outcome to c; a nil c or
// an outcome the API has no counter for adds nothing.
func addOutcome(c *plugsv1.OutcomeCounts, outcome string, n int64) {
	if c == nil {
		return
	}
	switch receipt.Outcome(outcome) {
	case receipt.OutcomeAccepted:
		c.Accepted += n
	case receipt.OutcomeDuplicate:
		c.Duplicate += n
	case receipt.OutcomeFiltered:
		c.Filtered += n
	case receipt.OutcomeRejected:
		c.Rejected += n
	case receipt.OutcomeHandshake:
		c.Handshake += n
	}
}

// addDelivery adds n attempts of a stored delivery outcome to c.
func addDelivery(c *plugsv1.DeliveryCounts, outcome string, n int64) {
	switch deliveryattempt.Outcome(outcome) {
	case deliveryattempt.OutcomeDelivered:
		c.Delivered += n
	case deliveryattempt.OutcomeRetrying:
		c.Retrying += n
	case deliveryattempt.OutcomeDeadLettered:
		c.DeadLettered += n
	}
}

// deadLetterDepth counts the dead letters of every destination holding
// some, by destination id, with one stream-info request: its cost grows
// with the destinations that hold dead letters, not with the letters.
func deadLetterDepth(ctx context.Context, js jetstream.JetStream) (map[string]int64, error) {
	stream, err := js.Stream(ctx, backbone.DeadStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // no data plane has created it: nothing died yet
	}
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	prefix := backbone.DeadSubject("")
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	out := make(map[string]int64, len(info.State.Subjects))
	for subject, n := range info.State.Subjects {
		out[strings.TrimPrefix(subject, prefix)] = int64(n)
	}
	return out, nil
}

func (s *Stats) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Stats) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
