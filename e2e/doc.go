// Package e2e holds end-to-end tests: a control plane, an embedded NATS
// JetStream, a data plane with its real HTTP receiver and forwarder, and
// httptest servers as customer destinations, all in one process.
package e2e
