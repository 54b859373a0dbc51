package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store"
	"github.com/plugshq/plugs/dataplane/forward"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Every secret and shared key re-sealed under a master key the control
// plane does not hold (plugs keys rotate run against its database before
// it had the key): the data plane keeps verifying with the secret it
// holds, the deliveries queued for a destination that is down stay queued
// and new events join them, and the API says what is wrong. Once the
// control plane holds the key and the destination is back, every event is
// delivered once.
func TestRotationToAnUnknownKeyLosesNothing(t *testing.T) {
	w := start(t)
	src := w.stripeSource()
	const sharedKey = "rotation-shared-key-0123456789"
	b := newBilling(t, sharedKey)
	b.mu.Lock()
	b.fail = func(int) bool { return true } // down
	b.mu.Unlock()
	dest := w.destination(b.srv.URL, sharedKey, &plugsv1.RetryPolicy{
		InitialBackoff: durationpb.New(20 * time.Millisecond), MaxBackoff: durationpb.New(200 * time.Millisecond),
	})
	var sent []string
	send := func(prefix string) {
		t.Helper()
		for i := range 5 {
			id := fmt.Sprintf("%s_%d", prefix, i)
			if code := w.send(src, invoice(id)); code != 200 {
				t.Fatalf("%s answered %d", id, code)
			}
			sent = append(sent, id)
		}
	}
	send("evt_before")
	waitFor(t, "failed attempts while the destination is down", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.requests >= 5
	})

	next, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := secrets.NewKeyring(w.masterKey, next)
	rev := w.store.Load().Version
	if n, err := store.ResealSecrets(context.Background(), w.db.Client, rotated); err != nil || n != 2 {
		t.Fatalf("reseal: %d %v", n, err)
	}
	waitFor(t, "the data plane past the rotation", func() bool {
		cfg := w.store.Load()
		return cfg.Version != rev && cfg.WithheldSources[src] && cfg.WithheldDestinations[dest]
	})
	d, err := w.dests.GetDestination(w.ctx, &plugsv1.GetDestinationRequest{Id: dest})
	if err != nil || d.GetConfigurationError().GetCause() != config.CauseKeyUnknown {
		t.Fatalf("destination configuration error: %v %v", d.GetConfigurationError(), err)
	}
	send("evt_during")
	// The forwarder reconciled the withheld configuration many times over
	// by now (every 50 ms); the queue is intact.
	c, err := w.nats.JS.Consumer(context.Background(), backbone.DeliveriesStream, forward.ConsumerName(dest))
	if err != nil {
		t.Fatalf("the destination's consumer is gone: %v", err)
	}
	waitFor(t, "every event queued for the destination", func() bool {
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending+uint64(info.NumAckPending) == uint64(len(sent))
	})

	if _, err := w.keyring.Replace(w.masterKey, next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rebuilt configuration on the data plane", func() bool {
		cfg := w.store.Load()
		return len(cfg.WithheldSources) == 0 && len(cfg.WithheldDestinations) == 0
	})
	send("evt_after")
	b.mu.Lock()
	b.fail = nil
	b.mu.Unlock()
	waitFor(t, "every event delivered", func() bool { return b.distinct() == len(sent) && w.settled(dest) })
	for _, id := range sent {
		if n := b.count(id); n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
}
