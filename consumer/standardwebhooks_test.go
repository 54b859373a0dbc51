package consumer_test

// Checks against Standard Webhooks: the vector the specification publishes,
// and the official Go library as an independent implementation, in both
// directions.

import (
	"errors"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/plugshq/plugs/consumer"
)

// The vector of the Standard Webhooks specification and libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestStandardWebhooksVector(t *testing.T) {
	ts := time.Unix(vectorTimestamp, 0)
	h := sign(t, consumer.Signer{Key: vectorSecret}, vectorID, ts, []byte(vectorBody))
	if got := h.Get(consumer.HeaderWebhookSignature); got != vectorSignature {
		t.Errorf("Sign: %q, want %q", got, vectorSignature)
	}

	header := http.Header{
		"Webhook-Id":        {vectorID},
		"Webhook-Timestamp": {"1614265330"},
		"Webhook-Signature": {vectorSignature},
	}
	v := &consumer.Verifier{Key: vectorSecret, Now: fixedClock(ts)}
	if err := v.VerifySignature([]byte(vectorBody), header); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}
	// The signature holds, but the body is not a CloudEvent.
	if _, err := v.Verify([]byte(vectorBody), header); !errors.Is(err, consumer.ErrInvalidEvent) {
		t.Errorf("Verify: err = %v, want %v", err, consumer.ErrInvalidEvent)
	}
	if err := v.VerifySignature([]byte(`{"test": 2432232315}`), header); !errors.Is(err, consumer.ErrSignatureInvalid) {
		t.Errorf("VerifySignature of a changed body: err = %v, want %v", err, consumer.ErrSignatureInvalid)
	}
	later := &consumer.Verifier{Key: vectorSecret, Now: fixedClock(ts.Add(specTolerance + time.Second))}
	if err := later.VerifySignature([]byte(vectorBody), header); !errors.Is(err, consumer.ErrSignatureStale) {
		t.Errorf("VerifySignature past tolerance: err = %v, want %v", err, consumer.ErrSignatureStale)
	}
}

// specTolerance is the tolerance the specification recommends,
// written out rather than read from the package under test.
const specTolerance = 5 * time.Minute

// TestStandardWebhooksLibrary checks that the official library verifies what
// Signer signs and that Verifier verifies what the library signs, with a
// whsec_ key and with a raw one, and that both refuse a changed body. The
// library's verifier reads the wall clock, so these sign with time.Now.
func TestStandardWebhooksLibrary(t *testing.T) {
	newPrefixed := func() (*standardwebhooks.Webhook, error) { return standardwebhooks.NewWebhook(testKey) }
	newRaw := func() (*standardwebhooks.Webhook, error) {
		return standardwebhooks.NewWebhookRaw([]byte("a raw shared key"))
	}
	for _, tt := range []struct {
		name string
		key  string
		lib  func() (*standardwebhooks.Webhook, error)
	}{
		{"whsec key", testKey, newPrefixed},
		{"raw key", "a raw shared key", newRaw},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lib, err := tt.lib()
			if err != nil {
				t.Fatal(err)
			}
			body := eventBody(t, testUsage())
			tampered := append(append([]byte{}, body...), ' ')
			now := time.Now()
			id := testUsage().GetId()

			// Signer → library.
			h := sign(t, consumer.Signer{Key: tt.key}, id, now, body)
			if err := lib.Verify(body, h); err != nil {
				t.Errorf("library verifying Signer: %v", err)
			}
			if err := lib.Verify(tampered, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
				t.Errorf("library verifying Signer, tampered: err = %v, want %v", err, standardwebhooks.ErrNoMatchingSignature)
			}

			// Library → Verifier.
			libSig, err := lib.Sign(id, now, body)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Get(consumer.HeaderWebhookSignature); got != libSig {
				t.Errorf("Signer %q, library %q", got, libSig)
			}
			libHeader := http.Header{}
			libHeader.Set(standardwebhooks.HeaderWebhookID, id)
			libHeader.Set(standardwebhooks.HeaderWebhookTimestamp, h.Get(consumer.HeaderWebhookTimestamp))
			libHeader.Set(standardwebhooks.HeaderWebhookSignature, libSig)
			v := &consumer.Verifier{Key: tt.key, Now: fixedClock(now)}
			ev, err := v.Verify(body, libHeader)
			if err != nil {
				t.Fatalf("Verifier verifying library: %v", err)
			}
			if ev.ID != id {
				t.Errorf("ID = %q, want %q", ev.ID, id)
			}
			if _, err := v.Verify(tampered, libHeader); !errors.Is(err, consumer.ErrSignatureInvalid) {
				t.Errorf("Verifier verifying library, tampered: err = %v, want %v", err, consumer.ErrSignatureInvalid)
			}

			// Both refuse the same stale request.
			old := now.Add(-10 * time.Minute)
			oldHeader := sign(t, consumer.Signer{Key: tt.key}, id, old, body)
			if err := lib.Verify(body, oldHeader); !errors.Is(err, standardwebhooks.ErrMessageTooOld) {
				t.Errorf("library, stale: err = %v, want %v", err, standardwebhooks.ErrMessageTooOld)
			}
			if _, err := v.Verify(body, oldHeader); !errors.Is(err, consumer.ErrSignatureStale) {
				t.Errorf("Verifier, stale: err = %v, want %v", err, consumer.ErrSignatureStale)
			}
		})
	}
}
