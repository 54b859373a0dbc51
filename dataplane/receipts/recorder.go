// Package receipts publishes a receipt of every request that named a known
// source to the backbone, off the request's path: recording never blocks a
// webhook, and an accepted event is never lost because its receipt was.
// When the buffer is full, or the backbone keeps refusing, a receipt is
// dropped and counted instead.
package receipts

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/spool"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultBuffer is how many receipts may wait to be published.
const DefaultBuffer = spool.DefaultSize

// DefaultBufferBytes bounds the receipts waiting to be published by their
// bodies: ten thousand receipts of 1 MiB bodies would otherwise hold 10 GiB
// of a data plane's memory while the backbone is slow.
const DefaultBufferBytes = 16 << 20

// receiptOverhead is what a receipt holds besides its body, about: ids,
// headers, times.
const receiptOverhead = 1 << 10

// Recorder publishes receipts in the background: Record queues one, Run
// publishes, Dropped counts those lost.
type Recorder = spool.Spool[*plugsv1.Receipt]

// New returns a recorder with room for size waiting receipts (0 means
// DefaultBuffer). Run publishes them.
func New(js jetstream.JetStream, size int, log *slog.Logger) *Recorder {
	return spool.New(func(ctx context.Context, rc *plugsv1.Receipt) error { return Publish(ctx, js, rc) },
		spool.Options[*plugsv1.Receipt]{What: "receipt", Size: size, Log: log,
			MaxBytes: DefaultBufferBytes,
			Bytes:    func(rc *plugsv1.Receipt) int64 { return int64(len(rc.GetBody())) + receiptOverhead },
			Attrs: func(rc *plugsv1.Receipt) []any {
				return []any{"receipt", rc.GetId(), "source", rc.GetSourceId()}
			}})
}

// Publish stores one receipt in the receipts stream and waits for the
// confirmation. The receipt id is the message id, so a publish retried
// after a lost confirmation is stored once.
func Publish(ctx context.Context, js jetstream.JetStream, rc *plugsv1.Receipt) error {
	data, err := proto.Marshal(rc)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: backbone.ReceiptSubject(rc.GetTenantId(), rc.GetSourceId()), Data: data, Header: nats.Header{}}
	msg.Header.Set(nats.MsgIdHdr, rc.GetId())
	_, err = js.PublishMsg(ctx, msg, jetstream.WithExpectStream(backbone.ReceiptsStream))
	return err
}
