package api

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	cpreceipts "github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/ent"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// SourceConfigs gives the configuration of a source as data planes run it.
type SourceConfigs interface {
	Source(id string) *plugsv1.SourceConfig
}

// Replayer runs receipts through the data plane's pipeline again, in the
// control plane: the same code, the source's current configuration, and the
// same backbone stores and dedup. Set on Receipts to enable ReplayReceipt.
type Replayer struct {
	Sources   SourceConfigs
	JetStream jetstream.JetStream
	// PublicIngestURL is the base URL providers call, for schemes that
	// sign the URL.
	PublicIngestURL string
	// Node names the replayer in the receipts it writes.
	Node string
}

// ReplayReceipt implements plugs.v1.ReceiptService.
func (r *Receipts) ReplayReceipt(ctx context.Context, req *plugsv1.ReplayReceiptRequest) (*plugsv1.ReplayReceiptResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	row, err := r.Client.Receipt.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound("receipt", id.String())
	}
	if err != nil {
		return nil, internal(ctx, r.log(), "get receipt", err)
	}
	rp := r.Replayer
	if rp == nil || rp.JetStream == nil {
		return nil, status.Error(codes.FailedPrecondition, "no backbone configured: start the control plane with --nats-url")
	}
	orig := cpreceipts.ToProto(row, true)
	if orig.GetBodyTruncated() {
		return nil, status.Error(codes.FailedPrecondition, "the receipt holds only the start of the body; it cannot be replayed")
	}
	sc := rp.Sources.Source(orig.GetSourceId())
	if sc == nil {
		return nil, status.Error(codes.FailedPrecondition, "the source no longer exists")
	}
	src, err := snapshot.Compile(sc)
	if err != nil {
		return nil, internal(ctx, r.log(), "compile source for replay", err)
	}
	store := &snapshot.Store{}
	store.Swap(&snapshot.Config{Version: "replay", Sources: map[string]*snapshot.Source{sc.GetId(): src}})
	var sink pipeline.Sink = &backbone.EventStore{JS: rp.JetStream, Window: func(string) time.Duration {
		return sc.GetDedupWindow().AsDuration()
	}}
	if req.GetBypassDedup() {
		sink = bypassDedup{next: sink, suffix: "#replay:" + orig.GetId()}
	}
	header := http.Header{}
	for _, h := range orig.GetHeaders() {
		header[h.GetName()] = h.GetValues()
	}
	now := time.Now().UTC()
	preq := &pipeline.Request{
		SourceID:      sc.GetId(),
		Method:        orig.GetMethod(),
		URL:           strings.TrimSuffix(rp.PublicIngestURL, "/") + orig.GetRequestUri(),
		Header:        header,
		Body:          bytes.NewReader(orig.GetBody()),
		ContentLength: int64(len(orig.GetBody())),
		ReceiveTime:   now,
		Replay:        true,
	}
	if _, q, ok := strings.Cut(orig.GetRequestUri(), "?"); ok {
		preq.RawQuery = q
	}
	res := pipeline.New(store, sink, pipeline.Options{Log: r.log()}).Handle(ctx, preq)
	out := receipts.Build(receipts.Request{
		Method: orig.GetMethod(), RequestURI: orig.GetRequestUri(), RemoteAddr: "replay of " + orig.GetId(),
		Header: header, ReceiveTime: now, Replay: true,
	}, res, receiver.Status(res), time.Since(now), rp.Node)
	// Indexed like any receipt; the answer does not wait for the index.
	if err := receipts.Publish(ctx, rp.JetStream, out); err != nil {
		r.log().WarnContext(ctx, "receipt of a replay not published", "receipt", out.GetId(), "error", err)
	}
	r.log().InfoContext(ctx, "receipt replayed", "receipt", orig.GetId(), "outcome", res.Outcome, "cause", res.Cause)
	return &plugsv1.ReplayReceiptResponse{Receipt: out}, nil
}

// bypassDedup stores a replayed event under an id of its own, so an event
// already stored from the original request is stored again.
type bypassDedup struct {
	next   pipeline.Sink
	suffix string
}

func (b bypassDedup) Enqueue(ctx context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	ev = proto.Clone(ev).(*plugsv1.UsageEvent)
	ev.EventId += b.suffix
	return b.next.Enqueue(ctx, ev)
}
