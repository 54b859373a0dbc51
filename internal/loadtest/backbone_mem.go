package loadtest

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// BackboneResult is the backbone's cost of remembering event ids: a child
// running only the embedded server is given IDs usage events through
// backbone.EventStore, the data plane's own store, one subject per (source,
// provider event id) as dedup needs.
type BackboneResult struct {
	IDs     int
	Sources int
	// EventBytes is the encoded size of one stored usage event.
	EventBytes int
	Elapsed    time.Duration
	// Before is the child's memory with the streams created and empty,
	// After right after the last store, Idle after Settle with nothing
	// happening (the server drops its block caches after ten seconds).
	Before, After, Idle HeapStats
	Settle              time.Duration
	// StreamBytes and Msgs are what the events stream reports holding;
	// DiskBytes the size of the store directory.
	StreamBytes, Msgs uint64
	DiskBytes         int64
	Duplicates        int64
	// HeapProfile is the child's heap profile after Settle, HeapTop what
	// holds the most of it.
	HeapProfile, HeapTop string
}

// PerID is bytes per remembered id of a before/after difference.
func (r *BackboneResult) PerID(before, after int64) float64 {
	return float64(after-before) / float64(r.IDs)
}

// MeasureBackbone runs the backbone measurement with its store under dir.
func MeasureBackbone(ctx context.Context, self, dir string, ids, writers int, settle time.Duration, log *slog.Logger) (*BackboneResult, error) {
	bb, err := StartBackbone(self, filepath.Join(dir, "store"), filepath.Join(dir, "backbone.log"))
	if err != nil {
		return nil, err
	}
	defer bb.Proc.Stop(20 * time.Second)
	conn, err := backbone.Connect(ctx, backbone.Options{URL: bb.URL, Name: "plugs-load", Log: log})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := backbone.EnsureStreams(ctx, conn.JS, backbone.StreamOptions{}); err != nil {
		return nil, err
	}
	res := &BackboneResult{IDs: ids, Sources: 1000, Settle: settle}
	if res.Before, err = bb.Heap(ctx); err != nil {
		return nil, err
	}
	sources := make([]string, res.Sources)
	for i := range sources {
		sources[i] = uuid.NewString()
	}
	store := &backbone.EventStore{JS: conn.JS, Timeout: 10 * time.Second}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	// A usage event as the Stripe template maps one.
	event := func(i int) *plugsv1.UsageEvent {
		id, _ := uuid.NewV7()
		now := timestamppb.Now()
		return &plugsv1.UsageEvent{
			Id: id.String(), TenantId: "0192d1a0-0000-7000-8000-00000000000a", SourceId: sources[i%len(sources)],
			MetricId: "invoices", EventId: "evt_" + run + "_" + strconv.Itoa(i), EventType: "invoice.paid",
			CustomerId: "cus_NffrFeUfNV2Hib", Quantity: "1", EventTime: now, ReceiveTime: now,
		}
	}
	res.EventBytes = proto.Size(event(0))

	var next, dups atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range max(writers, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= ids {
					return
				}
				dup, err := store.Enqueue(ctx, event(i))
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				if dup {
					dups.Add(1)
				}
				if (i+1)%(max(ids/10, 1)) == 0 {
					log.Info("backbone: stored", "events", i+1, "of", ids, "elapsed", time.Since(start).Round(time.Second))
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if firstErr != nil {
		return nil, fmt.Errorf("loadtest: backbone store: %w", firstErr)
	}
	res.Duplicates = dups.Load()
	if res.After, err = bb.Heap(ctx); err != nil {
		return nil, err
	}
	st, err := conn.JS.Stream(ctx, backbone.EventsStream)
	if err != nil {
		return nil, fmt.Errorf("loadtest: events stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadtest: events stream: %w", err)
	}
	res.StreamBytes, res.Msgs = info.State.Bytes, info.State.Msgs
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(settle):
	}
	if res.Idle, err = bb.Heap(ctx); err != nil {
		return nil, err
	}
	res.DiskBytes = dirSize(filepath.Join(dir, "store"))
	res.HeapProfile = filepath.Join(dir, "backbone-heap.pprof")
	if err := bb.HeapProfile(ctx, res.HeapProfile); err != nil {
		log.Warn("backbone heap profile", "error", err)
		res.HeapProfile = ""
	} else {
		res.HeapTop = heapTop(ctx, res.HeapProfile)
	}
	return res, nil
}

// dirSize is the total size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
