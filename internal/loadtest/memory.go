package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryResult is the data plane's resident memory, empty and with many
// sources loaded, idle and under load.
type MemoryResult struct {
	Sources int
	// MemoryLimit is the data plane's --memory-limit, empty for its
	// default.
	MemoryLimit string
	// Create is how long creating the sources through the REST API took;
	// Load how long a fresh data plane took to hold them all.
	Create, Load time.Duration
	// Empty is a data plane holding no source; Loaded one holding
	// Sources, idle, after a moment to settle.
	Empty, Loaded Mem
	// Phase is the closed-loop load sent round-robin over every source;
	// PeakRSS the highest VmRSS sampled during it and while the forwarder
	// caught up after it; After the memory (with VmHWM, the peak the
	// kernel saw) once every event was delivered.
	Phase   *Result
	PeakRSS int64
	// One is the same closed-loop load sent to one source only, in the
	// same installation just before Phase: the reference the many-source
	// throughput is judged against. Nil when skipped.
	One   *Result
	After Mem
	// HeapProfile is the data plane's heap profile after the load, when
	// it serves pprof; HeapTop what holds the most of it.
	HeapProfile, HeapTop string
}

// MemoryConfig says how to run the memory measurement.
type MemoryConfig struct {
	Bin, Self, Dir string
	Sources        int
	// CreateWorkers is how many sources are created at once.
	CreateWorkers int
	Phase         Phase
	Quiet         time.Duration
	// MemoryLimit is passed as the data plane's --memory-limit.
	MemoryLimit string
	// OneSource runs a one-source phase like Phase before it.
	OneSource bool
	Log       *slog.Logger
}

// SpreadRatio is the throughput with the load spread over every source as
// a fraction of the one-source throughput; 0 when either is missing.
func (m *MemoryResult) SpreadRatio() float64 {
	if m.One == nil || m.Phase == nil || m.One.Throughput() == 0 {
		return 0
	}
	return m.Phase.Throughput() / m.One.Throughput()
}

// MeasureMemory runs a split installation, measures an empty data plane,
// creates the sources and a destination, and measures a data plane
// holding them, idle and under load.
func MeasureMemory(ctx context.Context, c MemoryConfig) (*MemoryResult, error) {
	log := c.Log
	s, err := StartSplit(ctx, c.Bin, c.Self, c.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := s.Stop(); err != nil {
			log.Warn("stopping the split installation", "error", err)
		}
	}()
	s.MemoryLimit = c.MemoryLimit
	res := &MemoryResult{Sources: c.Sources, MemoryLimit: c.MemoryLimit}
	ledger := NewLedger()
	sink, err := StartSink(ledger)
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	if _, err := s.API.CreateDestination(ctx, sink.URL, sink.Key, 100); err != nil {
		return nil, err
	}

	if err := s.StartDataPlane(ctx, "dp-empty", 0); err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second) // let start-up garbage be collected
	if res.Empty, err = ReadMem(s.DataPlane.Pid()); err != nil {
		return nil, err
	}
	if err := s.StopDataPlane(); err != nil {
		return nil, err
	}

	log.Info("memory: creating sources", "sources", c.Sources)
	start := time.Now()
	run := runID()
	endpoints, err := createSources(ctx, s.API, run, c.Sources, c.CreateWorkers)
	if err != nil {
		return nil, err
	}
	res.Create = time.Since(start)
	log.Info("memory: sources created", "sources", c.Sources, "took", res.Create.Round(time.Millisecond))

	start = time.Now()
	if err := s.StartDataPlane(ctx, "dp-loaded", c.Sources); err != nil {
		return nil, err
	}
	res.Load = time.Since(start)
	time.Sleep(2 * time.Second)
	pid := s.DataPlane.Pid()
	if res.Loaded, err = ReadMem(pid); err != nil {
		return nil, err
	}

	hooks, err := NewWebhooks(run, endpoints...)
	if err != nil {
		return nil, err
	}
	// Warm the connections so the first measured requests do not pay
	// for them.
	Run(ctx, NewClient(c.Phase.Workers), hooks, ledger, Phase{Name: "memory-warmup", Workers: c.Phase.Workers, Duration: time.Second})
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := ReadMem(pid); err == nil && m.RSS > peak.Load() {
				peak.Store(m.RSS)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	if c.OneSource {
		// The same load on one source, in the same installation and
		// with the same connections' worth of workers, drained before the
		// many-source phase so its backlog does not slow that one.
		one, err := NewWebhooks(run, endpoints[0])
		if err != nil {
			return nil, err
		}
		p := c.Phase
		p.Name += "-one"
		res.One = Run(ctx, NewClient(p.Workers), one, ledger, p)
		drain(ctx, ledger, res.One, c.Quiet)
		log.Info("memory: one source", "rps", int(res.One.Throughput()), "lost", res.One.Delivery.Lost)
	}
	res.Phase = Run(ctx, NewClient(c.Phase.Workers), hooks, ledger, c.Phase)
	if s.PprofURL != "" {
		// What the data plane's heap holds as the load ends.
		path := filepath.Join(c.Dir, "dataplane-heap.pprof")
		if err := fetch(ctx, s.PprofURL+"/heap", path); err != nil {
			log.Warn("data-plane heap profile", "error", err)
		} else {
			res.HeapProfile, res.HeapTop = path, heapTop(ctx, path)
		}
	}
	// Sampling goes on while the forwarder catches up: that is load too.
	drain(ctx, ledger, res.Phase, c.Quiet)
	close(stop)
	wg.Wait()
	res.PeakRSS = peak.Load()
	if res.After, err = ReadMem(pid); err != nil {
		return nil, err
	}
	return res, nil
}

// createSources creates n Stripe sources, each with its own secret, and
// waits until the control plane has them.
func createSources(ctx context.Context, api *API, run string, n, workers int) ([]Endpoint, error) {
	endpoints := make([]Endpoint, n)
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				_, ep, err := api.CreateSource(ctx, fmt.Sprintf("load %d", i), fmt.Sprintf("whsec_load_%s_%08d", run, i))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("source %d: %w", i, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				endpoints[i] = ep
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return endpoints, ctx.Err()
}
