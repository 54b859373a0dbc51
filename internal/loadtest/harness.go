package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Config is one run of the whole harness.
type Config struct {
	EndToEnd EndToEndConfig
	// Modes are the durability modes to start plugs dev in; ignored with
	// EndToEnd.Remote.
	Modes []string
	// Self is this harness's binary, run again as the backbone child.
	Self string
	// Sources is how many sources the memory measurement loads; 0 skips
	// it. CreateWorkers create them; MemoryDuration is its load phase.
	Sources, CreateWorkers int
	MemoryDuration         time.Duration
	// MemoryLimit is the data plane's --memory-limit in the memory
	// measurement, as an operator sets it for a memory budget; empty
	// leaves the data plane's default.
	MemoryLimit string
	// SkipOneSource leaves out the one-source phase of the memory
	// measurement, which the many-source throughput is judged against.
	SkipOneSource bool
	// SkipRoles leaves out the receive-role data plane measurement.
	SkipRoles bool
	// BackboneIDs is how many event ids the backbone measurement stores;
	// 0 skips it. BackboneWriters store them; BackboneSettle is the idle
	// time before the last reading.
	BackboneIDs, BackboneWriters int
	BackboneSettle               time.Duration
	Log                          *slog.Logger
}

// Results is everything one run measured.
type Results struct {
	Machine  Machine
	Started  time.Time
	Elapsed  time.Duration
	Config   Config
	Modes    []*ModeResult
	Roles    *RolesResult
	Memory   *MemoryResult
	Backbone *BackboneResult
	// Errors are measurements that failed; the others still stand.
	Errors []string
}

// RunAll runs every measurement of c, in order: end to end in each mode,
// the receive-role data plane, data-plane memory and many sources,
// backbone memory. A measurement that fails is
// recorded and the next one runs.
func RunAll(ctx context.Context, c Config) *Results {
	log := c.Log
	res := &Results{Machine: ReadMachine(), Started: time.Now(), Config: c}
	modes := c.Modes
	if c.EndToEnd.Remote != nil {
		modes = []string{ModeRemote}
	}
	for _, mode := range modes {
		if ctx.Err() != nil {
			break
		}
		log.Info("end to end", "mode", mode)
		m, err := MeasureMode(ctx, c.EndToEnd, mode)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("end to end, %s: %v", mode, err))
			log.Error("end to end", "mode", mode, "error", err)
		}
		if m != nil {
			res.Modes = append(res.Modes, m)
		}
	}
	if !c.SkipRoles && c.EndToEnd.Remote == nil && ctx.Err() == nil {
		log.Info("receive-role data plane")
		r, err := MeasureRoles(ctx, c.EndToEnd, c.Self)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("receive-role data plane: %v", err))
			log.Error("receive-role data plane", "error", err)
		}
		res.Roles = r
	}
	if c.Sources > 0 && c.EndToEnd.Remote == nil && ctx.Err() == nil {
		log.Info("data-plane memory", "sources", c.Sources)
		dir := filepath.Join(c.EndToEnd.Dir, "memory")
		m, err := MeasureMemory(ctx, MemoryConfig{
			Bin: c.EndToEnd.Bin, Self: c.Self, Dir: dir, Sources: c.Sources, CreateWorkers: c.CreateWorkers,
			Phase: Phase{Name: "memory", Workers: c.EndToEnd.Workers, Duration: c.MemoryDuration},
			Quiet: c.EndToEnd.Quiet, MemoryLimit: c.MemoryLimit, OneSource: !c.SkipOneSource, ProfileDir: c.EndToEnd.ProfileDir, Log: log,
		})
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("data-plane memory: %v", err))
			log.Error("data-plane memory", "error", err)
		}
		res.Memory = m
	}
	if c.BackboneIDs > 0 && ctx.Err() == nil {
		log.Info("backbone memory", "ids", c.BackboneIDs)
		dir := filepath.Join(c.EndToEnd.Dir, "backbone")
		b, err := MeasureBackbone(ctx, c.Self, dir, c.BackboneIDs, c.BackboneWriters, c.BackboneSettle, log)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("backbone memory: %v", err))
			log.Error("backbone memory", "error", err)
		}
		res.Backbone = b
	}
	if err := ctx.Err(); err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("interrupted: %v", err))
	}
	res.Elapsed = time.Since(res.Started)
	return res
}
