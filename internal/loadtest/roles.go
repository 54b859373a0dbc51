package loadtest

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// RolesResult is a data plane that only receives, measured at maximum
// rate while another data plane forwards what it stores.
type RolesResult struct {
	// Bare is the reference handler, Max the receive-role data plane,
	// both at maximum rate in the same run.
	Bare, Max *Result
	// Warmup is the warm-up's exactly-once check.
	Warmup Tally
	// SinkRejected counts deliveries that did not verify.
	SinkRejected int64
}

// Ratio is the receive-role data plane's accepted throughput as a
// fraction of the bare handler's: receiving is its whole job, so the 200s
// are what it is judged by; delivery is checked through the forward-role
// data plane all the same.
func (r *RolesResult) Ratio() float64 {
	if r.Bare == nil || r.Max == nil || r.Bare.Throughput() == 0 {
		return 0
	}
	return r.Max.Throughput() / r.Bare.Throughput()
}

// MeasureRoles runs a backbone, `plugs controlplane`, one `plugs dataplane
// --roles receive` and one `plugs dataplane --roles forward`, each its own
// process, with one source and one destination, and measures the
// receive-role data plane at maximum rate against the bare handler.
// c.Bin is the plugs binary, self this harness's (the backbone child).
func MeasureRoles(ctx context.Context, c EndToEndConfig, self string) (*RolesResult, error) {
	log := c.Log.With("setup", "roles")
	dir := filepath.Join(c.Dir, "roles")
	s, err := StartSplit(ctx, c.Bin, self, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := s.Stop(); err != nil {
			log.Warn("stopping the split installation", "error", err)
		}
	}()
	ledger := NewLedger()
	sink, err := StartSink(ledger)
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	run := runID()
	secret := "whsec_load_" + run + "_0123456789abcdef"
	srcID, ep, err := s.API.CreateSource(ctx, "load "+run, secret)
	if err != nil {
		return nil, err
	}
	if _, err := s.API.CreateDestination(ctx, sink.URL, sink.Key, 100, srcID); err != nil {
		return nil, err
	}
	// The forwarder first, so events the receiver stores find it running.
	if _, err := s.StartRoles(ctx, "dp-forward", "forward", 0); err != nil {
		return nil, err
	}
	if _, err := s.StartRoles(ctx, "dp-receive", "receive", 1); err != nil {
		return nil, err
	}
	log.Info("receive and forward data planes serving")
	hooks, err := NewWebhooks(run, ep)
	if err != nil {
		return nil, err
	}
	client := NewClient(c.Workers)
	if err := awaitRoute(ctx, client, hooks, ledger); err != nil {
		return nil, err
	}
	res := &RolesResult{}
	Run(ctx, client, hooks, ledger, Phase{Name: "roles-warmup", Workers: c.Workers, Duration: c.Warmup})
	res.Warmup, _ = ledger.Wait(ctx, "roles-warmup", c.Quiet)
	if res.Warmup.Accepted == 0 || res.Warmup.Delivered == 0 {
		return nil, fmt.Errorf("%w: receive/forward warm-up: %d accepted, %d delivered; see the logs under %s", ErrDrain,
			res.Warmup.Accepted, res.Warmup.Delivered, dir)
	}
	if res.Bare, err = measureBare(ctx, c, run, secret); err != nil {
		return nil, err
	}
	res.Max = Run(ctx, client, hooks, ledger, Phase{Name: "roles-max", Workers: c.Workers, Duration: c.Duration})
	drain(ctx, ledger, res.Max, c.Quiet)
	res.SinkRejected = sink.Rejected()
	log.Info("receive-role data plane, max rate", "rps", int(res.Max.Throughput()), "ratio", fmt.Sprintf("%.2f", res.Ratio()),
		"lost", res.Max.Delivery.Lost, "drain", res.Max.Drain.Round(time.Millisecond))
	return res, ctx.Err()
}
