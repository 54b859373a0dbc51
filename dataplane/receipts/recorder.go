// Package receipts publishes a receipt of every request that named a known
// source to the backbone, off the request's path: recording never blocks a
// webhook, and an accepted event is never lost because its receipt was.
// When the buffer is full, or the backbone keeps refusing, a receipt is
// dropped and counted instead.
//
// Receipts of requests that did not pass verification wait in a buffer of
// their own and go to a stream of their own: a flood of forged requests
// fills those, never the room kept for the receipts of the source's own
// webhooks.
package receipts

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/spool"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultBuffer is how many receipts of each kind, verified and not, may
// wait to be published.
const DefaultBuffer = spool.DefaultSize

// DefaultBufferBytes bounds the receipts of verified requests waiting to
// be published: ten thousand receipts of 1 MiB bodies would otherwise hold
// 10 GiB of a data plane's memory while the backbone is slow.
const DefaultBufferBytes = 16 << 20

// DefaultUnverifiedBufferBytes bounds the receipts of unverified requests
// waiting to be published, apart from DefaultBufferBytes. Their bodies
// are cut to MaxUnverifiedBody, so this is hundreds of receipts.
const DefaultUnverifiedBufferBytes = 4 << 20

// Recorder publishes receipts in the background: Record queues one, Run
// publishes, Dropped counts those lost.
type Recorder struct {
	verified, unverified *spool.Spool[*plugsv1.Receipt]
	done                 chan struct{}
	once                 sync.Once
}

// New returns a recorder with room for size waiting receipts of each kind
// (0 means DefaultBuffer). Run publishes them.
func New(js jetstream.JetStream, size int, log *slog.Logger) *Recorder {
	publish := func(ctx context.Context, rcs []*plugsv1.Receipt) error { return PublishBatch(ctx, js, rcs) }
	opts := func(what string, maxBytes int64) spool.Options[*plugsv1.Receipt] {
		return spool.Options[*plugsv1.Receipt]{What: what, Size: size, Log: log,
			MaxBytes: maxBytes,
			Bytes:    func(rc *plugsv1.Receipt) int64 { return int64(proto.Size(rc)) },
			Group:    func(rc *plugsv1.Receipt) string { return batchSubject(rc) },
			Attrs: func(rc *plugsv1.Receipt) []any {
				return []any{"receipt", rc.GetId(), "source", rc.GetSourceId()}
			}}
	}
	return &Recorder{
		verified:   spool.New(publish, opts("receipt", DefaultBufferBytes)),
		unverified: spool.New(publish, opts("unverified receipt", DefaultUnverifiedBufferBytes)),
		done:       make(chan struct{}),
	}
}

// Record queues a receipt for publishing and says whether it did: false
// when its buffer was full and it was dropped. It never blocks.
func (r *Recorder) Record(rc *plugsv1.Receipt) bool {
	if rc.GetUnverified() {
		return r.unverified.Offer(rc)
	}
	return r.verified.Offer(rc)
}

// Run publishes until ctx ends, then publishes what is still buffered and
// returns.
func (r *Recorder) Run(ctx context.Context) {
	defer r.once.Do(func() { close(r.done) })
	var wg sync.WaitGroup
	wg.Go(func() { r.verified.Run(ctx) })
	wg.Go(func() { r.unverified.Run(ctx) })
	wg.Wait()
}

// Done is closed when Run has returned.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Dropped is how many receipts were dropped since start, of both kinds.
func (r *Recorder) Dropped() int64 { return r.verified.Dropped() + r.unverified.Dropped() }

// Published is how many receipts the backbone confirmed, of both kinds.
func (r *Recorder) Published() int64 { return r.verified.Published() + r.unverified.Published() }

// Verified is the spool of the receipts of verified requests, for metrics.
func (r *Recorder) Verified() *spool.Spool[*plugsv1.Receipt] { return r.verified }

// Unverified is the spool of the receipts of unverified requests, for
// metrics.
func (r *Recorder) Unverified() *spool.Spool[*plugsv1.Receipt] { return r.unverified }

// Publish stores one receipt in its stream, ReceiptsStream or
// UnverifiedReceiptsStream, and waits for the confirmation. The receipt id
// is the message id, so a publish retried after a lost confirmation is
// stored once.
func Publish(ctx context.Context, js jetstream.JetStream, rc *plugsv1.Receipt) error {
	data, err := proto.Marshal(rc)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: subject(rc), Data: data, Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, rc.GetId())
	_, err = js.PublishMsg(ctx, msg, jetstream.WithExpectStream(stream(rc)))
	return err
}

// PublishBatch stores receipts of one tenant, all verified or none, in one
// message, a plugs.v1.ReceiptBatch marked with backbone.BatchHeader, and
// waits for the confirmation: on their source's subject when they are all
// of one source, else on the tenant's batch subject
// (backbone.ReceiptBatchSubject). The message id derives from the
// receipts' ids, so a batch retried after a lost confirmation is stored
// once. A single receipt is published as Publish does.
func PublishBatch(ctx context.Context, js jetstream.JetStream, rcs []*plugsv1.Receipt) error {
	switch len(rcs) {
	case 0:
		return nil
	case 1:
		return Publish(ctx, js, rcs[0])
	}
	first := rcs[0]
	ids := make([]string, len(rcs))
	oneSource := true
	for i, rc := range rcs {
		if rc.GetTenantId() != first.GetTenantId() || rc.GetUnverified() != first.GetUnverified() {
			return fmt.Errorf("%w: %s and %s", ErrMixedBatch, batchSubject(first), batchSubject(rc))
		}
		oneSource = oneSource && rc.GetSourceId() == first.GetSourceId()
		ids[i] = rc.GetId()
	}
	to := batchSubject(first)
	if oneSource {
		to = subject(first)
	}
	data, err := proto.Marshal(&plugsv1.ReceiptBatch{Receipts: rcs})
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: to, Data: data, Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, backbone.BatchMsgID(ids))
	msg.Header.Set(backbone.BatchHeader, strconv.Itoa(len(rcs)))
	_, err = js.PublishMsg(ctx, msg, jetstream.WithExpectStream(stream(first)))
	return err
}

// subject is where a receipt is published alone, or with others of its
// source: its tenant's source, verified or not.
func subject(rc *plugsv1.Receipt) string {
	if rc.GetUnverified() {
		return backbone.UnverifiedReceiptSubject(rc.GetTenantId(), rc.GetSourceId())
	}
	return backbone.ReceiptSubject(rc.GetTenantId(), rc.GetSourceId())
}

// batchSubject is where a receipt is published with others of its tenant's
// sources: the receipts that may share a publish.
func batchSubject(rc *plugsv1.Receipt) string {
	if rc.GetUnverified() {
		return backbone.UnverifiedReceiptBatchSubject(rc.GetTenantId())
	}
	return backbone.ReceiptBatchSubject(rc.GetTenantId())
}

// stream is the stream of a receipt's subject.
func stream(rc *plugsv1.Receipt) string {
	if rc.GetUnverified() {
		return backbone.UnverifiedReceiptsStream
	}
	return backbone.ReceiptsStream
}
