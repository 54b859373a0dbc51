// Package replay runs received webhooks through the data plane's pipeline
// again, in the control plane: one receipt at a time (Replayer), or every
// receipt of a source that matches a filter, as a long-running operation
// that any control-plane replica can resume (Runner).
package replay

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receipts"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// publishTimeout bounds publishing the receipt of a replay.
const publishTimeout = 5 * time.Second

// SourceConfigs gives the configuration of a source as data planes run it.
type SourceConfigs interface {
	Source(id string) *plugsv1.SourceConfig
}

// Replayer runs receipts through the data plane's pipeline again, in the
// control plane: the same code, the source's current configuration, and the
// same backbone stores and dedup.
type Replayer struct {
	Sources   SourceConfigs
	JetStream jetstream.JetStream
	// PublicIngestURL is the base URL providers call, for schemes that
	// sign the URL.
	PublicIngestURL string
	// Node names the replayer in the receipts it writes.
	Node string
	Log  *slog.Logger

	// compiled keeps each source's configuration compiled, so a bulk
	// replay compiles its JSONPaths once rather than per receipt.
	mu       sync.Mutex
	compiled map[string]compiledSource
}

// compiledSource is a source's configuration and its compilation.
type compiledSource struct {
	config *plugsv1.SourceConfig
	store  *snapshot.Store
}

// replayOf begins the remote address of a replay's receipt; the id of the
// receipt replayed follows.
const replayOf = "replay of "

// Replay runs the request orig records through the pipeline again, the
// timestamp freshness check skipped, and returns the replay's receipt
// (marked as a replay), which it also publishes to be indexed like any
// other. A replay of an event already stored is a duplicate unless
// bypassDedup is set; then the event is stored under the provider event id
// with the suffix "#replay:<orig's id>", so each original webhook is stored
// at most once more within the dedup window however often it is replayed
// with the bypass. For the same reason only originals are replayed. An
// outcome, rejection included, is not an error; errors are ErrNoBackbone,
// ErrReplayOfReplay, ErrBodyTruncated, ErrSourceGone or a source
// configuration that does not compile.
func (r *Replayer) Replay(ctx context.Context, orig *plugsv1.Receipt, bypassDedup bool) (*plugsv1.Receipt, error) {
	if r.JetStream == nil {
		return nil, ErrNoBackbone
	}
	if orig.GetReplay() {
		return nil, ErrReplayOfReplay
	}
	if orig.GetBodyTruncated() {
		return nil, ErrBodyTruncated
	}
	if orig.GetCause() == string(pipeline.CauseBodyUnreadable) {
		// Reading the body failed part way: the receipt holds what was
		// read, the start of the body at best, like a truncated one.
		return nil, fmt.Errorf("%w: the request's body could not be read whole", ErrBodyTruncated)
	}
	sc := r.Sources.Source(orig.GetSourceId())
	if sc == nil {
		r.forget(orig.GetSourceId())
		return nil, ErrSourceGone
	}
	store, err := r.store(sc)
	if err != nil {
		return nil, fmt.Errorf("replay: compile source %s: %w", sc.GetId(), err)
	}
	var sink pipeline.Sink = &backbone.EventStore{JS: r.JetStream, Window: store.DedupWindow}
	if bypassDedup {
		sink = bypassDedupSink{next: sink, suffix: "#replay:" + orig.GetId()}
	}
	header := http.Header{}
	for _, h := range orig.GetHeaders() {
		header[h.GetName()] = h.GetValues()
	}
	now := time.Now().UTC()
	preq := &pipeline.Request{
		SourceID:      sc.GetId(),
		Method:        orig.GetMethod(),
		URL:           strings.TrimSuffix(r.PublicIngestURL, "/") + orig.GetRequestUri(),
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
		Method: orig.GetMethod(), RequestURI: orig.GetRequestUri(), RemoteAddr: replayOf + orig.GetId(),
		Header: header, ReceiveTime: now, Replay: true,
	}, res, receiver.Status(res), time.Since(now), r.Node)
	// Indexed like any receipt; the answer does not wait for the index.
	// A replay that ran leaves its receipt even if ctx ends now.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	err = receipts.Publish(pctx, r.JetStream, out)
	cancel()
	if err != nil {
		r.log().WarnContext(ctx, "receipt of a replay not published", "receipt", out.GetId(), "error", err)
	}
	return out, nil
}

// OriginalID is the id of the receipt a replay's receipt r replayed, or ""
// when r is not a replay's.
func OriginalID(r *plugsv1.Receipt) string {
	if !r.GetReplay() {
		return ""
	}
	id, _ := strings.CutPrefix(r.GetRemoteAddress(), replayOf)
	if uuid.Validate(id) != nil {
		return ""
	}
	return id
}

// store returns the source compiled, compiling it again only when its
// configuration changed.
func (r *Replayer) store(sc *plugsv1.SourceConfig) (*snapshot.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.compiled[sc.GetId()]; ok && c.config == sc {
		return c.store, nil
	}
	src, err := snapshot.Compile(sc)
	if err != nil {
		return nil, err
	}
	store := &snapshot.Store{}
	store.Swap(&snapshot.Config{Version: "replay", Sources: map[string]*snapshot.Source{sc.GetId(): src}})
	if r.compiled == nil {
		r.compiled = map[string]compiledSource{}
	}
	r.compiled[sc.GetId()] = compiledSource{config: sc, store: store}
	return store, nil
}

// forget drops a deleted source's compilation.
func (r *Replayer) forget(sourceID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.compiled, sourceID)
}

func (r *Replayer) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// bypassDedupSink stores a replayed event under an id of its own, so an
// event already stored from the original request is stored again.
type bypassDedupSink struct {
	next   pipeline.Sink
	suffix string
}

func (b bypassDedupSink) Enqueue(ctx context.Context, ev *plugsv1.UsageEvent) (bool, error) {
	c := proto.Clone(ev).(*plugsv1.UsageEvent)
	c.EventId += b.suffix
	dup, err := b.next.Enqueue(ctx, c)
	ev.Id = c.Id // a duplicate's is the stored event's
	return dup, err
}
