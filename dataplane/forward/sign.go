package forward

import "github.com/plugshq/plugs/consumer"

// DefaultHubHeader carries the hub-style signature when the destination
// names no header. Deliveries are signed by consumer.Signer, the same code
// the consumer package verifies with.
const DefaultHubHeader = consumer.DefaultHubHeader
