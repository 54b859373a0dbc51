// Package loadtest measures Plugs end to end: it starts `plugs dev` (or the
// two planes apart, or targets a running installation), creates a source
// and a destination served by this process, sends signed webhooks at the
// highest rate it can (closed loop) and at fixed rates (open loop, latency
// counted from each request's intended send time so a stalled server cannot
// hide its queue), checks that every accepted event reached the destination
// exactly once, and measures a bare net/http handler doing only the HMAC
// check with the same client as the reference throughput. It also measures
// the data plane's memory with many sources loaded and the backbone's
// memory per remembered event id, and writes everything, with the machine
// it ran on, as a markdown report.
//
// cmd/plugs-load is its command line; `make bench` runs it.
package loadtest
