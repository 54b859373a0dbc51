// Package e2e holds end-to-end tests: a control plane, an embedded NATS
// JetStream, a data plane with its real HTTP receiver and forwarder, and
// httptest servers as customer destinations. Most run in one process; the
// crash tests run the data plane as a child process so it can be killed
// with SIGKILL.
package e2e
