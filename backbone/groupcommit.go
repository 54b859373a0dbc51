package backbone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Group commit: when the server syncs every write to disk (--nats-fsync),
// each stored event costs one fsync, and one stream's writes are synced one
// after another, so the events of concurrent webhooks queue behind each
// other's syncs. A committer sends the events waiting at once as one atomic
// batch (nats-server 2.12+, a stream with AllowAtomicPublish), which the
// server stores with one sync for the batch; every webhook of the batch is
// answered once that sync is done. What an acknowledgement promises is
// unchanged: each event is on disk before its 200.
//
// Batches form only under load: while fewer than minGroup events are being
// published on their own, the next is too, at once; past that, events wait
// for a committer, which takes whatever arrived while the previous batch
// was being synced.
//
// One duplicate makes the server refuse its whole batch, so an event whose
// subject was lately stored or found a duplicate here (a provider's retry,
// a replayed capture) is kept out of batches and published on its own,
// where a duplicate costs no sync. That memory is only a hint: a subject
// it misses still gets its right outcome, by halving the refused batch.
const (
	// maxCommitters is how many batches are under way at once: while one
	// is synced, the next is sent.
	maxCommitters = 2
	// maxGroup bounds the events of one batch, below the server's limit
	// of 1,000 messages per atomic batch.
	maxGroup = 256
	// recentGeneration bounds the subjects remembered as stored: two
	// generations of this many 8-byte hashes.
	recentGeneration = 1 << 15
	// minGroup is the largest group stored as separate publishes. The
	// server stages each atomic batch in a store of its own, made and
	// removed per batch, which costs as much as about 20 synced publishes
	// (BenchmarkStore: a batch of 14 took longer than 14 publishes, one of
	// 126 a fifth of their time); below this size a batch does not pay.
	minGroup = 32
)

// Atomic batch headers (nats-server's JSBatchId, JSBatchSeq, JSBatchCommit).
const (
	batchIDHeader     = "Nats-Batch-Id"
	batchSeqHeader    = "Nats-Batch-Sequence"
	batchCommitHeader = "Nats-Batch-Commit"
)

// codeAtomicPublishDisabled is the server's refusal of a batch on a
// stream that does not allow atomic publishing (or a server that predates
// it, which answers with another error): batches are then not tried again.
const codeAtomicPublishDisabled = 10174

// committer groups the events of concurrent Enqueue calls into atomic
// batches.
type committer struct {
	js jetstream.JetStream

	mu       sync.Mutex
	queue    []*grouped
	running  int
	direct   int // events being published on their own from store
	disabled bool
	recent   recentSubjects

	// committed counts the batches stored, for tests.
	committed atomic.Int64
}

// grouped is one event waiting to be stored, and where its outcome goes.
type grouped struct {
	msg  *nats.Msg
	done chan error
}

// store stores msg, whose headers say everything a publish of its own
// would (expected stream, expected empty subject, TTL), as part of a batch
// and waits for the outcome: the error that publish would have returned.
func (c *committer) store(ctx context.Context, msg *nats.Msg) error {
	g := &grouped{msg: msg, done: make(chan error, 1)}
	c.mu.Lock()
	if c.direct < minGroup {
		// Too few events under way for a batch to pay: publish at once.
		c.direct++
		c.mu.Unlock()
		err := c.publish(ctx, g)
		c.mu.Lock()
		c.direct--
		c.mu.Unlock()
		return err
	}
	c.queue = append(c.queue, g)
	if c.running < maxCommitters {
		c.running++
		go c.run(context.WithoutCancel(ctx))
	}
	c.mu.Unlock()
	select {
	case err := <-g.done:
		return err
	case <-ctx.Done():
		// The event may still be stored: the webhook is answered 503, and
		// the provider's retry finds it a duplicate.
		return ctx.Err()
	}
}

// run commits what is waiting until nothing is.
func (c *committer) run(ctx context.Context) {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running--
			c.mu.Unlock()
			return
		}
		batch, lone := c.take()
		if c.disabled {
			batch, lone = nil, append(lone, batch...)
		}
		c.mu.Unlock()
		var wg sync.WaitGroup
		if len(lone) > 0 {
			wg.Go(func() { c.storeEach(ctx, lone) })
		}
		c.commit(ctx, batch)
		wg.Wait()
	}
}

// take removes the next batch from the queue: up to maxGroup events, in
// arrival order, at most one per subject; and the events to store on their
// own, whose subjects were lately stored. A second event for a subject in
// the queue (a retry racing its first delivery) waits for the next round,
// where it is published on its own. c.mu is held.
func (c *committer) take() (batch, lone []*grouped) {
	seen := make(map[string]bool, min(len(c.queue), maxGroup))
	rest := c.queue[:0]
	for _, g := range c.queue {
		switch {
		case seen[g.msg.Subject] || len(batch) == maxGroup:
			rest = append(rest, g)
		case c.recent.has(g.msg.Subject):
			lone = append(lone, g)
		default:
			seen[g.msg.Subject] = true
			batch = append(batch, g)
		}
	}
	clear(c.queue[len(rest):])
	c.queue = rest
	return batch, lone
}

// remember notes that the events of gs are stored: their subjects now
// take a duplicate.
func (c *committer) remember(gs ...*grouped) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range gs {
		c.recent.add(g.msg.Subject)
	}
}

// storeEach stores each event with a publish of its own, concurrently.
func (c *committer) storeEach(ctx context.Context, batch []*grouped) {
	var wg sync.WaitGroup
	for _, g := range batch {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, commitTimeout)
			defer cancel()
			g.done <- c.publish(pctx, g)
		})
	}
	wg.Wait()
}

// publish stores the event of g with a publish of its own.
func (c *committer) publish(ctx context.Context, g *grouped) error {
	_, err := c.js.PublishMsg(ctx, g.msg)
	if err == nil || isDuplicate(err) {
		c.remember(g)
	}
	return err
}

// commitTimeout bounds one batch's commit; callers stop waiting at their
// own timeout before it.
const commitTimeout = 10 * time.Second

// commit stores batch as one atomic batch. The server refuses a batch as
// a whole when one event of it cannot be stored (a duplicate of an event
// stored before, a limit), and stores none of it; the batch is then
// halved and both halves committed the same way at once, so one duplicate
// among n events costs about log2(n) more commits, not n, and each event learns
// its own outcome from the publish that finally carries it alone.
func (c *committer) commit(ctx context.Context, batch []*grouped) {
	if len(batch) == 0 {
		return
	}
	if len(batch) <= minGroup {
		c.storeEach(ctx, batch)
		return
	}
	err := c.send(ctx, batch)
	if err == nil {
		c.committed.Add(1)
		c.remember(batch...)
		for _, g := range batch {
			g.done <- nil
		}
		return
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == codeAtomicPublishDisabled {
		c.mu.Lock()
		c.disabled = true
		c.mu.Unlock()
		c.storeEach(ctx, batch)
		return
	}
	if !errors.As(err, &apiErr) {
		// No answer from the server (a timeout, a lost connection): whether
		// the batch was stored is unknown, and publishing each event again
		// tells each its outcome. One stored by the batch is then reported
		// a duplicate of itself, which a receipt shows; it is stored once.
		c.storeEach(ctx, batch)
		return
	}
	half := len(batch) / 2
	var wg sync.WaitGroup
	wg.Go(func() { c.commit(ctx, batch[:half]) })
	c.commit(ctx, batch[half:])
	wg.Wait()
}

// batchAck is the server's answer to a batch's commit.
type batchAck struct {
	Stream string              `json:"stream"`
	Seq    uint64              `json:"seq"`
	Count  int                 `json:"count"`
	Error  *jetstream.APIError `json:"error"`
}

// send publishes the events of batch with the batch headers, all but the
// last without waiting, and waits for the commit's answer.
func (c *committer) send(ctx context.Context, batch []*grouped) error {
	id := uuid.NewString()
	nc := c.js.Conn()
	for i, g := range batch {
		m := &nats.Msg{Subject: g.msg.Subject, Data: g.msg.Data, Header: nats.Header{}}
		for k, v := range g.msg.Header {
			m.Header[k] = v
		}
		m.Header.Set(batchIDHeader, id)
		m.Header.Set(batchSeqHeader, strconv.Itoa(i+1))
		if i < len(batch)-1 {
			if err := nc.PublishMsg(m); err != nil {
				return fmt.Errorf("backbone: batch: %w", err)
			}
			continue
		}
		m.Header.Set(batchCommitHeader, "1")
		rctx, cancel := context.WithTimeout(ctx, commitTimeout)
		defer cancel()
		resp, err := nc.RequestMsgWithContext(rctx, m)
		if err != nil {
			return fmt.Errorf("backbone: batch commit: %w", err)
		}
		var ack batchAck
		if err := json.Unmarshal(resp.Data, &ack); err != nil {
			return fmt.Errorf("backbone: batch commit answer: %w", err)
		}
		if ack.Error != nil {
			return ack.Error
		}
		if ack.Count != len(batch) {
			return fmt.Errorf("backbone: batch of %d committed %d", len(batch), ack.Count)
		}
	}
	return nil
}

// recentSubjects remembers the hashes of subjects lately stored, in two
// generations: when the newer fills, the older is dropped. A hash that
// collides only sends an event the slower way.
type recentSubjects struct {
	seed      maphash.Seed
	cur, prev map[uint64]struct{}
}

func (r *recentSubjects) hash(subject string) uint64 {
	if r.cur == nil {
		r.seed = maphash.MakeSeed()
		r.cur = make(map[uint64]struct{})
	}
	return maphash.String(r.seed, subject)
}

func (r *recentSubjects) add(subject string) {
	h := r.hash(subject)
	if len(r.cur) >= recentGeneration {
		r.prev, r.cur = r.cur, make(map[uint64]struct{}, recentGeneration)
	}
	r.cur[h] = struct{}{}
}

func (r *recentSubjects) has(subject string) bool {
	h := r.hash(subject)
	if _, ok := r.cur[h]; ok {
		return true
	}
	_, ok := r.prev[h]
	return ok
}
