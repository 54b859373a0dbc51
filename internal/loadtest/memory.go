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
	// same installation, in rounds alternating with Phase's: the reference
	// the many-source throughput is judged against. Nil when skipped.
	One *Result
	// OneCPU and PhaseCPU are the CPU time each process used during the
	// one-source and all-source load phases (drains left out), to tell
	// which part costs more per webhook when the load is spread.
	OneCPU, PhaseCPU CPUUse
	// OneProfile and PhaseProfile are CPU profiles of the last round of
	// each load, when the data plane serves pprof and ProfileDir is set;
	// OneRate and PhaseRate the accepted rate of those rounds.
	OneProfile, PhaseProfile *Profiles
	OneRate, PhaseRate       float64
	After                    Mem
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
	// OneSource runs a one-source phase like Phase, alternating with it.
	OneSource bool
	// ProfileDir, when set, receives CPU profiles of the data plane during
	// the last round of each load.
	ProfileDir string
	Log        *slog.Logger
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
	// With a one-source reference, the two loads alternate in two rounds
	// of half the phase each (one, all, one, all), each round drained
	// before the next so no backlog slows the following one: other work
	// on the machine then weighs on both alike.
	rounds, one := 1, (*Webhooks)(nil)
	if c.OneSource {
		if one, err = NewWebhooks(run, endpoints[0]); err != nil {
			return nil, err
		}
		rounds = 2
	}
	allClient, oneClient := NewClient(c.Phase.Workers), NewClient(c.Phase.Workers)
	var procs []*Process
	for _, p := range s.procs {
		if p != s.DataPlane {
			procs = append(procs, p)
		}
	}
	procs = append(procs, s.DataPlane)
	for i := range rounds {
		p := c.Phase
		p.Duration /= time.Duration(rounds)
		if rounds > 1 {
			p.Name = fmt.Sprintf("%s-r%d", c.Phase.Name, i+1)
		}
		if one != nil {
			po := p
			po.Name = fmt.Sprintf("%s-one-r%d", c.Phase.Name, i+1)
			m := newCPUMeter(procs...)
			pr := c.profile(ctx, s, "sources-one", i == rounds-1, po.Duration)
			r := Run(ctx, oneClient, one, ledger, po)
			m.add(&res.OneCPU, r.Status[200])
			if pr != nil {
				p := pr.stop()
				res.OneProfile, res.OneRate = &p, r.Throughput()
			}
			drain(ctx, ledger, r, c.Quiet)
			res.One = addRound(res.One, r, c.Phase.Name+"-one")
		}
		m := newCPUMeter(procs...)
		pr := c.profile(ctx, s, "sources-all", i == rounds-1 && one != nil, p.Duration)
		r := Run(ctx, allClient, hooks, ledger, p)
		m.add(&res.PhaseCPU, r.Status[200])
		if pr != nil {
			prof := pr.stop()
			res.PhaseProfile, res.PhaseRate = &prof, r.Throughput()
		}
		if i < rounds-1 {
			drain(ctx, ledger, r, c.Quiet)
		}
		res.Phase = addRound(res.Phase, r, c.Phase.Name)
	}
	if res.One != nil {
		log.Info("memory: one source", "rps", int(res.One.Throughput()), "lost", res.One.Delivery.Lost)
	}
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
	last := fmt.Sprintf("%s-r%d", c.Phase.Name, rounds)
	if rounds == 1 {
		last = c.Phase.Name
	}
	t, d := ledger.Wait(ctx, last, c.Quiet)
	res.Phase.Delivery = addTally(res.Phase.Delivery, t)
	res.Phase.Drain += d
	res.Phase.Lag = mergeHist(res.Phase.Lag, ledger.Lag(last))
	close(stop)
	wg.Wait()
	res.PeakRSS = peak.Load()
	if res.After, err = ReadMem(pid); err != nil {
		return nil, err
	}
	return res, nil
}

// profile starts a CPU profile of the data plane named name when on and
// profiles are asked for; nil otherwise.
func (c MemoryConfig) profile(ctx context.Context, s *Split, name string, on bool, d time.Duration) *profiler {
	if !on || c.ProfileDir == "" || s.PprofURL == "" {
		return nil
	}
	return startProfile(ctx, filepath.Join(c.ProfileDir, name), s.PprofURL, d)
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
