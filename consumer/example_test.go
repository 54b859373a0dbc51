package consumer_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/plugshq/plugs/consumer"
)

// A receiving endpoint: verify, then record the usage once per event id.
func ExampleVerifier_VerifyRequest() {
	verifier := &consumer.Verifier{
		Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		// A fixed clock for the example; leave Now nil in a real receiver.
		Now: func() time.Time { return time.Unix(1767225600, 0) },
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := verifier.VerifyRequest(r)
		switch {
		case errors.Is(err, consumer.ErrKeyMissing), errors.Is(err, consumer.ErrKeyMalformed),
			errors.Is(err, consumer.ErrUnknownStyle):
			// Our own misconfiguration: a 5xx makes Plugs retry until it is
			// fixed instead of giving the event up.
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		case errors.Is(err, consumer.ErrBodyTooLarge):
			http.Error(w, "body_too_large", http.StatusRequestEntityTooLarge)
			return
		case errors.Is(err, consumer.ErrInvalidEvent):
			http.Error(w, "invalid_event", http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Printf("%s: %s × %s for %s\n", ev.ID, ev.Usage.GetQuantity(), ev.Usage.GetMetricId(), ev.Subject)
	})

	// What Plugs sends.
	body := `{"specversion":"1.0","id":"evt-1","source":"/plugs/sources/src-1","type":"dev.plugs.usage",` +
		`"subject":"cus_42","time":"2025-12-31T23:59:00Z","datacontenttype":"application/json",` +
		`"data":{"id":"evt-1","metricId":"api-calls","customerId":"cus_42","quantity":"12.5"}}`
	signer := &consumer.Signer{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	header, err := signer.Sign("evt-1", time.Unix(1767225600, 0), []byte(body))
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/plugs", strings.NewReader(body))
	for name, values := range header {
		req.Header[name] = values
	}
	handler.ServeHTTP(httptest.NewRecorder(), req)
	// Output: evt-1: 12.5 × api-calls for cus_42
}

// Signing in the hub style, as a test of a receiver might.
func ExampleSigner_Sign_hub() {
	signer := &consumer.Signer{Key: "It's a Secret to Everybody", Style: consumer.Hub}
	header, err := signer.Sign("", time.Time{}, []byte("Hello, World!"))
	if err != nil {
		panic(err)
	}
	fmt.Println(header.Get(consumer.DefaultHubHeader))
	// Output: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17
}
