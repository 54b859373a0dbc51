package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Item is what became of one event of a batch.
type Item struct {
	// Index is the item's position in the request, from 0.
	Index   int
	Outcome Outcome
	// Cause says why the item was not stored: a mapping failure, or
	// CauseBackboneUnavailable when storing it failed (the request is then
	// answered 503 and the provider's retry stores it).
	Cause  Cause
	Detail string
	Field  string
	// Event is the item's usage event: as mapped for accepted and
	// duplicate items and those that failed to store, as far as it mapped
	// for filtered ones, nil for the others.
	Event *plugsv1.UsageEvent
}

// storeConcurrency bounds the events of one batch being stored at once:
// enough to keep the backbone's acknowledgements overlapping rather than
// one round trip after another, few enough that one large batch does not
// flood it.
const storeConcurrency = 16

// fanOut runs steps 6 and 7 of Handle for a batch: the body is split into
// its items, each item is filtered and mapped to a usage event of its own,
// and the events are stored concurrently, each deduplicated by its own
// provider event id. The request is acknowledged only when every event is
// stored: when some are not, it is answered 503, and the provider's retry
// stores the rest while the stored ones are duplicates.
//
// An item that fails to map is rejected alone: the others are stored and
// the request is answered 200, since the provider would resend the whole
// batch, failing the same item again, for as long as it retries; the
// receipt keeps the body, so once the mapping is fixed, replaying it
// stores the failed items and finds the others duplicates. Only when no
// item can be stored and some failed is the request rejected (422, or 400
// for unparsable lines), as a single event would be.
//
// Per-item verification (a scheme that signs each item rather than the
// request, as Adyen signs each NotificationRequestItem) belongs in mapItem,
// before the item is mapped: an item that fails it is rejected alone with
// its signature cause, and is never stored.
func (p *Pipeline) fanOut(ctx context.Context, res *Result, src *snapshot.Source, in mapping.Input, unverified bool) *Result {
	start := time.Now()
	span := p.startStep(ctx, "map")
	items, err := src.Mapper.Split(in)
	if err != nil {
		res.Map = time.Since(start)
		endStep(span, err, splitCause)
		return res.reject(splitCause(err), err.Error())
	}
	res.Batch = true
	res.Items = make([]Item, len(items.Items))
	var stored []*Item
	var bodyHash string
	for i := range res.Items {
		it := &res.Items[i]
		it.Index = i
		p.mapItem(src, items, in, unverified, res.Test, it)
		if it.Outcome != Accepted {
			continue
		}
		if it.Event.EventId == "" {
			// No provider id mapped: the body's hash and the item's place
			// in it, the same in a retry of the same request, and apart
			// from the same item in another request.
			if bodyHash == "" {
				sum := sha256.Sum256(in.Body.Raw())
				bodyHash = hex.EncodeToString(sum[:])
			}
			it.Event.EventId = "sha256:" + bodyHash + ":" + strconv.Itoa(i)
		}
		stored = append(stored, it)
	}
	res.Map = time.Since(start)
	endStep(span, nil, mapCause)

	if len(stored) > 0 {
		start = time.Now()
		span = p.startStep(ctx, "store")
		failed := p.storeItems(ctx, stored)
		res.Store = time.Since(start)
		var err error
		if failed > 0 {
			err = errStoreItems
			p.log.WarnContext(ctx, "items of a batch not stored", "source", src.Config.GetId(), "failed", failed, "items", len(res.Items))
		}
		endStep(span, err, storeCause)
	}
	return res.sumUp()
}

// mapItem filters and maps item it, leaving it Accepted (mapped, with an
// id, to be stored), Filtered or Rejected.
func (p *Pipeline) mapItem(src *snapshot.Source, items *mapping.Items, in mapping.Input, unverified, test bool, it *Item) {
	ev := newEvent(src, in.ReceiveTime, unverified, test)
	warnings, err := src.Mapper.MapItem(items, it.Index, in, ev)
	if len(warnings) > 0 {
		// Optional fields left empty: the item is taken, its receipt
		// entry says which and why.
		it.Detail = mapping.Warning(warnings)
	}
	var mapErr *mapping.Error
	switch {
	case errors.Is(err, mapping.ErrFiltered):
		it.Outcome, it.Event = Filtered, ev
		return
	case errors.Is(err, payload.ErrUnparsable):
		it.reject(CauseUnparsablePayload, err.Error())
		return
	case errors.As(err, &mapErr):
		it.Field = mapErr.Field()
		it.reject(CauseMappingFailed, err.Error())
		return
	case err != nil:
		it.reject(CauseMappingFailed, err.Error())
		return
	}
	if err := setID(ev); err != nil {
		it.reject(CauseBackboneUnavailable, err.Error())
		return
	}
	it.Outcome, it.Event = Accepted, ev
}

// storeItems stores the events of items, at most storeConcurrency at once,
// and returns once every store has answered: each item is left Accepted,
// Duplicate, or Rejected with CauseBackboneUnavailable. It returns how many
// failed.
func (p *Pipeline) storeItems(ctx context.Context, items []*Item) int {
	var failed atomic.Int64
	store := func(it *Item) {
		dup, err := p.sink.Enqueue(ctx, it.Event)
		switch {
		case err != nil:
			failed.Add(1)
			it.reject(CauseBackboneUnavailable, err.Error())
		case dup:
			it.Outcome = Duplicate
		}
	}
	workers := min(storeConcurrency, len(items))
	if workers == 1 {
		for _, it := range items {
			store(it)
		}
		return int(failed.Load())
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					return
				}
				store(items[i])
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}

// sumUp decides the request's outcome from its items' (see fanOut), and
// says in Detail how many items came to what.
func (r *Result) sumUp() *Result {
	var counts [nItemOutcomes]int
	var firstRejected, firstUnstored *Item
	for i := range r.Items {
		it := &r.Items[i]
		counts[itemOutcome(it)]++
		switch {
		case it.Outcome != Rejected:
		case it.Cause == CauseBackboneUnavailable:
			if firstUnstored == nil {
				firstUnstored = it
			}
		case firstRejected == nil:
			firstRejected = it
		}
	}
	summary := summarize(len(r.Items), counts)
	switch {
	case firstUnstored != nil:
		return r.reject(CauseBackboneUnavailable, summary+"; the provider's retry stores the rest (item "+
			strconv.Itoa(firstUnstored.Index)+": "+firstUnstored.Detail+")")
	case firstRejected != nil && counts[itemAccepted]+counts[itemDuplicate] == 0:
		r.Field = firstRejected.Field
		return r.reject(firstRejected.Cause, summary+"; item "+strconv.Itoa(firstRejected.Index)+": "+firstRejected.Detail)
	case counts[itemAccepted] > 0:
		r.Outcome = Accepted
	case counts[itemDuplicate] > 0:
		r.Outcome = Duplicate
	default:
		r.Outcome = Filtered
	}
	r.Detail = summary
	if firstRejected != nil {
		// Kept while others were stored: the receipt says so, and is
		// found by its cause.
		r.Cause, r.Field = firstRejected.Cause, firstRejected.Field
		r.Detail += "; item " + strconv.Itoa(firstRejected.Index) + ": " + firstRejected.Detail
	}
	return r
}

// Outcomes of items as sumUp counts them.
const (
	itemAccepted = iota
	itemDuplicate
	itemFiltered
	itemRejected
	itemUnstored
	nItemOutcomes
)

var itemOutcomeNames = [nItemOutcomes]string{"accepted", "duplicate", "filtered", "rejected", "not stored"}

func itemOutcome(it *Item) int {
	switch it.Outcome {
	case Accepted:
		return itemAccepted
	case Duplicate:
		return itemDuplicate
	case Filtered:
		return itemFiltered
	}
	if it.Cause == CauseBackboneUnavailable {
		return itemUnstored
	}
	return itemRejected
}

// summarize says how many of n items came to each outcome, for example
// "50 items: 48 accepted, 2 duplicate".
func summarize(n int, counts [nItemOutcomes]int) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(n))
	if n == 1 {
		b.WriteString(" item")
	} else {
		b.WriteString(" items")
	}
	sep := ": "
	for o, c := range counts {
		if c > 0 {
			fmt.Fprintf(&b, "%s%d %s", sep, c, itemOutcomeNames[o])
			sep = ", "
		}
	}
	return b.String()
}

func (it *Item) reject(c Cause, detail string) {
	it.Outcome, it.Cause, it.Detail = Rejected, c, detail
}

// splitCause is the cause of a body that does not split into items.
func splitCause(err error) Cause {
	if errors.Is(err, mapping.ErrTooManyItems) {
		return CauseTooManyItems
	}
	return CauseUnparsablePayload
}
