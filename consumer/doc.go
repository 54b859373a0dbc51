// Package consumer verifies and decodes the usage events Plugs forwards to a
// customer's endpoint, for the customer's side of that connection.
//
// Plugs POSTs each usage event as a CloudEvents 1.0 JSON document in
// structured mode, whose data is the plugs.v1.UsageEvent in protojson, and
// signs the request in one of two styles: Standard Webhooks (webhook-id,
// webhook-timestamp, webhook-signature; the default) or a hub-style header
// carrying "sha256=<hex HMAC-SHA256 of the body>".
//
// A receiving handler needs only a Verifier holding the destination's shared
// key:
//
//	v := &consumer.Verifier{Key: os.Getenv("PLUGS_KEY")}
//	ev, err := v.VerifyRequest(r)
//	if err != nil { ... answer 4xx, or 5xx for a key error of your own ... }
//	record(ev.ID, ev.Usage.GetCustomerId(), ev.Usage.GetQuantity())
//
// The signature is checked over the raw bytes before anything parses them,
// in constant time. Plugs retries a delivery until it is acknowledged, so
// the same event may arrive more than once: deduplicate on Event.ID.
//
// Signer produces the signature headers. It is what tests of a consumer
// sign with, and it is meant to be the one implementation of the signature
// the Plugs forwarder signs with too, so the two sides cannot drift apart.
package consumer
