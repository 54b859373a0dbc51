package forward

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/backbone"
)

// forgetDeleted clears, once each, what the destinations deleted
// explicitly (Destinations.Deleted) leave in the backbone: the durable
// consumer and the deliveries still queued (the API says a deletion drops
// them). Nothing else does: a destination absent from the configuration,
// because the control plane could not build it or a snapshot left it out,
// keeps its queue until it comes back.
//
// A deletion of a destination this forwarder never saw may still have
// left a consumer behind (every data plane was away when it happened), so
// the stream's consumers are listed, once per batch of such deletions,
// and those of deleted destinations are removed too.
func (f *Forwarder) forgetDeleted(ctx context.Context) {
	var consumers map[string]bool
	for _, id := range f.dests.Deleted() {
		if f.forgotten[id] || checkID(id) != nil {
			continue
		}
		if !f.known[id] {
			if consumers == nil {
				var err error
				if consumers, err = f.consumerNames(ctx); err != nil {
					f.log.Warn("consumers not listed; deleted destinations are cleared at the next reconciliation", "error", err)
					return
				}
			}
			if !consumers[ConsumerName(id)] {
				f.forgotten[id] = true
				continue
			}
		}
		if f.forget(ctx, id) {
			f.forgotten[id] = true
			delete(f.known, id)
		}
	}
}

// consumerNames lists the durable consumers of the deliveries stream.
func (f *Forwarder) consumerNames(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.PublishTimeout)
	defer cancel()
	s, err := f.js.Stream(ctx, backbone.DeliveriesStream)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	l := s.ConsumerNames(ctx)
	for n := range l.Name() {
		names[n] = true
	}
	return names, l.Err()
}

// forget clears what a deleted destination leaves in the backbone and
// reports whether it did. Another data plane doing the same at the same
// time is harmless; a data plane on an older configuration that still has
// the destination recreates the consumer until it catches up, and forgets
// it then.
func (f *Forwarder) forget(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, f.opts.PublishTimeout)
	defer cancel()
	if err := f.js.DeleteConsumer(ctx, backbone.DeliveriesStream, ConsumerName(id)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		f.log.Warn("consumer of a deleted destination not removed", "destination", id, "error", err)
		return false
	}
	s, err := f.js.Stream(ctx, backbone.DeliveriesStream)
	if err == nil {
		err = s.Purge(ctx, jetstream.WithPurgeSubject(backbone.DeliverySubject(id)))
	}
	if err != nil {
		f.log.Warn("deliveries of a deleted destination not purged", "destination", id, "error", err)
		return false
	}
	f.log.Info("deleted destination forgotten: consumer and queued deliveries removed", "destination", id)
	return true
}
