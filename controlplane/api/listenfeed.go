package api

import (
	"context"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// ListenFeed reads what Listen streams: the webhooks a tenant's sources
// accepted, in the order they were stored, from a position on. Positions
// are cursors only the feed reads, so where usage events and receipts are
// kept (today two streams, the events and the receipts) can change without
// the service noticing.
type ListenFeed interface {
	// Open starts reading. A Resume the feed cannot read as one of its
	// cursors for the query's mode fails with an error wrapping
	// ErrResumeToken; a backbone that does not answer, with any other.
	Open(ctx context.Context, q ListenQuery) (ListenReader, error)
}

// ListenQuery says what a listen session reads.
type ListenQuery struct {
	TenantID string
	// SourceIDs are the tenant's sources to read, already checked to be
	// the tenant's; none reads nothing until the query changes.
	SourceIDs []string
	// Raw reads the requests as received (receipts) rather than the usage
	// events.
	Raw bool
	// Resume is a cursor of an earlier reader of the same mode: reading
	// continues after it. Empty starts after the newest webhook stored now.
	Resume string
}

// ListenReader is an open feed, read by one goroutine.
type ListenReader interface {
	// Next returns the next accepted webhook of the query's sources,
	// blocking until there is one or ctx ends (then it returns ctx's
	// error, and the reader stays usable).
	Next(ctx context.Context) (*plugsv1.ListenEvent, error)
	// Cursor is the position after the last webhook Next read, accepted
	// or skipped; before any, where the reader started.
	Cursor() string
	// Close releases what the reader holds in the backbone.
	Close()
}
