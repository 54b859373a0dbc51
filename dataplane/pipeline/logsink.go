package pipeline

import (
	"context"
	"log/slog"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// LogSink writes each event's identifiers to the log and stores nothing: a
// data plane running without a backbone acknowledges events it cannot keep.
// Never a payload, never a property value.
type LogSink struct {
	Log *slog.Logger
}

// Enqueue logs ev.
func (s LogSink) Enqueue(_ context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	s.Log.Info("usage event", "id", ev.GetId(), "source", ev.GetSourceId(), "event_id", ev.GetEventId(),
		"event_type", ev.GetEventType(), "customer", ev.GetCustomerId(), "quantity", ev.GetQuantity(), "unverified", ev.GetUnverified())
	return false, nil
}
