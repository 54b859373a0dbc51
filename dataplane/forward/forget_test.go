package forward_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

func (e *env) hasConsumer(destID string) bool {
	_, err := e.conn.JS.Consumer(context.Background(), "PLUGS_DELIVERIES", forward.ConsumerName(destID))
	return err == nil
}

func (e *env) consumerGone(destID string) bool {
	_, err := e.conn.JS.Consumer(context.Background(), "PLUGS_DELIVERIES", forward.ConsumerName(destID))
	return errors.Is(err, jetstream.ErrConsumerNotFound)
}

func (e *env) queued(destID string) uint64 {
	subject := "plugs.deliveries." + destID
	s, err := e.conn.JS.Stream(context.Background(), "PLUGS_DELIVERIES")
	if err != nil {
		return 0
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0
	}
	return info.State.Subjects[subject]
}

// queue makes the destination's consumer exist, pauses it and queues n
// deliveries for it.
func (e *env) queue(t *testing.T, f *forward.Forwarder, id string, n int) []string {
	t.Helper()
	eventually(t, 10*time.Second, func() bool { return e.hasConsumer(id) }, "no consumer for %s", id)
	e.dests.update(id, func(d *plugsv1.DestinationConfig) { d.Status = plugsv1.Destination_STATUS_PAUSED })
	f.Reconcile()
	e.waitNotPulled(t, id)
	ids := e.put("t1", "src", id, n)
	eventually(t, 10*time.Second, func() bool { return e.queued(id) == uint64(n) }, "deliveries not queued")
	return ids
}

// A deleted destination's consumer and queued deliveries are removed.
func TestDeletedDestinationIsForgotten(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	e.dests.add(destination("gone", "t1", r, "k"))
	f := e.start(forward.Options{ReconcileEvery: 20 * time.Millisecond})
	e.queue(t, f, "gone", 5)
	e.dests.remove("gone")
	f.Reconcile()
	eventually(t, 10*time.Second, func() bool { return e.consumerGone("gone") && e.queued("gone") == 0 },
		"the deleted destination's consumer or deliveries remain")
}

// A destination missing from the configuration (withheld by the control
// plane, left out of a snapshot) is not a deletion: its consumer and
// queued deliveries stay, and are delivered once it is back.
func TestAbsentDestinationKeepsItsQueue(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	e.dests.add(destination("kept", "t1", r, "k"))
	f := e.start(forward.Options{ReconcileEvery: 20 * time.Millisecond})
	ids := e.queue(t, f, "kept", 5)

	e.dests.drop("kept")
	f.Reconcile()
	// Once a destination added after the drop has its consumer, the drop
	// has been reconciled.
	probe := newReceiver(t, []byte("p"), "")
	e.dests.add(destination("probe", "other-tenant", probe, "p"))
	f.Reconcile()
	eventually(t, 10*time.Second, func() bool { return e.hasConsumer("probe") }, "probe not reconciled")
	if !e.hasConsumer("kept") || e.queued("kept") != uint64(len(ids)) {
		t.Fatalf("an absent destination lost its consumer or deliveries (queued %d of %d)", e.queued("kept"), len(ids))
	}

	d := destination("kept", "t1", r, "k")
	e.dests.add(d)
	f.Reconcile()
	e.settled("kept")
	r.exactlyOnce(ids)
}

// A deletion this forwarder never saw (it started after, from a
// configuration without the destination) still clears the consumer and
// deliveries the destination left behind.
func TestDeletionMissedWhileAwayIsCleared(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, []byte("k"), "")
	e.dests.add(destination("gone", "t1", r, "k"))
	first := e.start(forward.Options{ReconcileEvery: 20 * time.Millisecond})
	e.queue(t, first, "gone", 3)
	first.Stop()

	e.dests.remove("gone")
	e.start(forward.Options{ReconcileEvery: 20 * time.Millisecond})
	eventually(t, 10*time.Second, func() bool { return e.consumerGone("gone") && e.queued("gone") == 0 },
		"the deleted destination's consumer or deliveries remain")
}
