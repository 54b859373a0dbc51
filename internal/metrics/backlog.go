package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/forward"
)

// PollBacklog sets the dead-letter and consumer gauges from JetStream every
// interval until ctx ends. The figures are the backbone's, shared by every
// data plane: each reports the same values, so dashboards take the max.
// Reading them at scrape time instead would make a scrape wait on NATS.
func (m *DataPlane) PollBacklog(ctx context.Context, js jetstream.JetStream, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := m.pollBacklog(ctx, js); err != nil && ctx.Err() == nil {
			log.Debug("backlog metrics not read", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *DataPlane) pollBacklog(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	dead, err := js.Stream(ctx, backbone.DeadStream)
	if err != nil {
		return err
	}
	info, err := dead.Info(ctx)
	if err != nil {
		return err
	}
	m.deadLetters.Set(float64(info.State.Msgs))

	if router, err := js.Consumer(ctx, backbone.EventsStream, forward.RouterName); err == nil {
		if ci, err := router.Info(ctx); err == nil {
			m.consumerPending.WithLabelValues("router").Set(float64(ci.NumPending) + float64(ci.NumAckPending))
		}
	}
	deliveries, err := js.Stream(ctx, backbone.DeliveriesStream)
	if err != nil {
		return err
	}
	var pending uint64
	lister := deliveries.ListConsumers(ctx)
	for ci := range lister.Info() {
		pending += ci.NumPending + uint64(ci.NumAckPending)
	}
	if err := lister.Err(); err != nil {
		return err
	}
	m.consumerPending.WithLabelValues("deliveries").Set(float64(pending))
	return nil
}
