// Package receipts publishes a receipt of every request that named a known
// source to the backbone, off the request's path: recording never blocks a
// webhook, and an accepted event is never lost because its receipt was.
// When the buffer is full, or the backbone keeps refusing, a receipt is
// dropped and counted instead.
package receipts

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultBuffer is how many receipts may wait to be published.
const DefaultBuffer = 10_000

// attempts bounds the tries of one publish before the receipt is dropped.
const attempts = 3

// Recorder publishes receipts in the background.
type Recorder struct {
	js      jetstream.JetStream
	log     *slog.Logger
	buf     chan *plugsv1.Receipt
	timeout time.Duration

	dropped   atomic.Int64
	published atomic.Int64
	once      sync.Once
	done      chan struct{}
}

// New returns a recorder with room for size waiting receipts (0 means
// DefaultBuffer). Run publishes them.
func New(js jetstream.JetStream, size int, log *slog.Logger) *Recorder {
	if size <= 0 {
		size = DefaultBuffer
	}
	if log == nil {
		log = slog.Default()
	}
	return &Recorder{js: js, log: log, buf: make(chan *plugsv1.Receipt, size), timeout: 2 * time.Second, done: make(chan struct{})}
}

// Record queues rc for publishing. It never blocks: with the buffer full
// the receipt is dropped and counted.
func (r *Recorder) Record(rc *plugsv1.Receipt) {
	select {
	case r.buf <- rc:
	default:
		if r.dropped.Add(1)%1000 == 1 {
			r.log.Warn("receipt buffer full; receipts dropped", "dropped_total", r.dropped.Load())
		}
	}
}

// Dropped is how many receipts were dropped since start.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Published is how many receipts the backbone confirmed.
func (r *Recorder) Published() int64 { return r.published.Load() }

// Run publishes until ctx ends, then publishes what is still buffered
// (each with its usual timeout) and returns.
func (r *Recorder) Run(ctx context.Context) {
	defer r.once.Do(func() { close(r.done) })
	for {
		select {
		case rc := <-r.buf:
			r.publish(context.WithoutCancel(ctx), rc)
		case <-ctx.Done():
			for {
				select {
				case rc := <-r.buf:
					r.publish(context.WithoutCancel(ctx), rc)
				default:
					return
				}
			}
		}
	}
}

// Done is closed when Run has returned.
func (r *Recorder) Done() <-chan struct{} { return r.done }

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

func (r *Recorder) publish(ctx context.Context, rc *plugsv1.Receipt) {
	var err error
	wait := 100 * time.Millisecond
	for i := range attempts {
		pctx, cancel := context.WithTimeout(ctx, r.timeout)
		err = Publish(pctx, r.js, rc)
		cancel()
		if err == nil {
			r.published.Add(1)
			return
		}
		if i < attempts-1 {
			time.Sleep(wait)
			wait *= 2
		}
	}
	r.dropped.Add(1)
	r.log.Warn("receipt dropped: the backbone did not take it", "receipt", rc.GetId(), "source", rc.GetSourceId(), "error", err)
}
