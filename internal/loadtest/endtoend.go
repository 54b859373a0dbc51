package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Durability modes of `plugs dev`.
const (
	ModeDefault = "default"
	ModeFsync   = "fsync"
	// ModeRemote is an installation the harness did not start.
	ModeRemote = "remote"
)

// EndToEndConfig says how to measure one installation.
type EndToEndConfig struct {
	// Bin is the plugs binary; Dir holds data directories and logs.
	Bin, Dir string
	// Remote, when set, is measured instead of starting plugs dev.
	Remote *Installation
	// Workers send the max-rate phases; OpenWorkers bound the requests
	// under way in open-loop phases (enough that the client never is the
	// bottleneck at the rates asked).
	Workers, OpenWorkers int
	// Warmup runs before measuring; Duration is each max-rate phase,
	// OpenDuration each fixed-rate phase.
	Warmup, Duration, OpenDuration time.Duration
	// Fractions of the measured maximum to run open-loop at (0.5 is the
	// one the latency target is judged at); Rates are fixed rates on top.
	Fractions, Rates []float64
	// Quiet is how long the exactly-once check waits for a delivery that
	// does not come.
	Quiet time.Duration
	// ProfileDir, when set, receives CPU profiles of the max-rate phase.
	ProfileDir string
	Log        *slog.Logger
}

// ModeResult is one installation measured end to end.
type ModeResult struct {
	Mode string
	// Startup is how long plugs dev took to serve.
	Startup time.Duration
	// Bare is the reference handler at maximum rate, Max Plugs at maximum
	// rate, Open Plugs at fixed rates.
	Bare, Max *Result
	Open      []*Result
	Profiles  *Profiles
	// SinkRejected counts deliveries that did not verify.
	SinkRejected int64
	// Warmup is the warm-up's exactly-once check: forwarding works before
	// anything is measured.
	Warmup Tally
}

// Ratio is Plugs' maximum throughput as a fraction of the bare handler's.
func (m *ModeResult) Ratio() float64 {
	if m.Bare == nil || m.Max == nil || m.Bare.Throughput() == 0 {
		return 0
	}
	return m.Max.Throughput() / m.Bare.Throughput()
}

// EndToEndRatio is the rate of accepted events delivered end to end at
// maximum rate (Result.Delivered) as a fraction of the bare handler's
// throughput: what the throughput targets judge.
func (m *ModeResult) EndToEndRatio() float64 {
	if m.Bare == nil || m.Max == nil || m.Bare.Throughput() == 0 {
		return 0
	}
	return m.Max.Delivered() / m.Bare.Throughput()
}

// MeasureMode starts plugs dev in mode (or uses c.Remote) and measures it
// and the bare handler.
func MeasureMode(ctx context.Context, c EndToEndConfig, mode string) (*ModeResult, error) {
	log := c.Log.With("mode", mode)
	res := &ModeResult{Mode: mode}
	in := c.Remote
	if in == nil {
		dir := filepath.Join(c.Dir, mode)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		start := time.Now()
		var err error
		if in, err = StartDev(ctx, c.Bin, dir, mode == ModeFsync); err != nil {
			return nil, err
		}
		res.Startup = time.Since(start)
		defer func() {
			if err := in.Stop(); err != nil {
				log.Warn("stopping plugs dev", "error", err)
			}
		}()
		log.Info("plugs dev serving", "took", res.Startup.Round(time.Millisecond), "api", in.API.Base, "ingest", in.API.Ingest)
	}

	ledger := NewLedger()
	sink, err := StartSink(ledger)
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	run := runID()
	secret := "whsec_load_" + run + "_0123456789abcdef"
	srcID, ep, err := in.API.CreateSource(ctx, "load "+run, secret)
	if err != nil {
		return nil, err
	}
	err = poll(ctx, "source on the data plane", 60*time.Second, 50*time.Millisecond, func() (bool, error) {
		return in.API.SourceCurrent(ctx, srcID)
	})
	if err != nil {
		return nil, err
	}
	// The destination takes this source's events only, so other traffic of
	// an installation being measured does not reach it.
	if _, err := in.API.CreateDestination(ctx, sink.URL, sink.Key, 100, srcID); err != nil {
		return nil, err
	}
	hooks, err := NewWebhooks(run, ep)
	if err != nil {
		return nil, err
	}
	client := NewClient(max(c.Workers, c.OpenWorkers))
	if err := awaitRoute(ctx, client, hooks, ledger); err != nil {
		return nil, err
	}

	// Warm up Plugs and check forwarding works before measuring.
	Run(ctx, client, hooks, ledger, Phase{Name: "warmup", Workers: c.Workers, Duration: c.Warmup})
	res.Warmup, _ = ledger.Wait(ctx, "warmup", c.Quiet)
	log.Info("warm-up", "accepted", res.Warmup.Accepted, "delivered", res.Warmup.Delivered)
	if res.Warmup.Accepted == 0 || res.Warmup.Delivered == 0 {
		return nil, fmt.Errorf("%w: warm-up: %d accepted, %d delivered; see the logs under %s", ErrDrain,
			res.Warmup.Accepted, res.Warmup.Delivered, c.Dir)
	}

	// The reference, measured next to Plugs in time so both see the same
	// machine.
	if res.Bare, err = measureBare(ctx, c, run, secret); err != nil {
		return nil, err
	}
	log.Info("bare handler", "rps", int(res.Bare.Throughput()), "p99", res.Bare.Latency.Quantile(0.99))

	var prof *profiler
	if c.ProfileDir != "" {
		prof = startProfile(ctx, filepath.Join(c.ProfileDir, mode+"-max"), in.PprofURL, c.Duration)
	}
	res.Max = Run(ctx, client, hooks, ledger, Phase{Name: "max", Workers: c.Workers, Duration: c.Duration})
	if prof != nil {
		p := prof.stop()
		res.Profiles = &p
	}
	drain(ctx, ledger, res.Max, c.Quiet)
	log.Info("plugs max rate", "rps", int(res.Max.Throughput()), "p99", res.Max.Latency.Quantile(0.99),
		"ratio", fmt.Sprintf("%.2f", res.Ratio()), "lost", res.Max.Delivery.Lost, "drain", res.Max.Drain.Round(time.Millisecond))

	rates := make([]float64, 0, len(c.Fractions)+len(c.Rates))
	for _, f := range c.Fractions {
		rates = append(rates, f*res.Max.Throughput())
	}
	rates = append(rates, c.Rates...)
	for i, rate := range rates {
		if rate < 1 {
			continue
		}
		p := Phase{Name: fmt.Sprintf("open%d", i), Workers: c.OpenWorkers, Duration: c.OpenDuration, Rate: rate}
		r := Run(ctx, client, hooks, ledger, p)
		drain(ctx, ledger, r, c.Quiet)
		res.Open = append(res.Open, r)
		log.Info("plugs fixed rate", "rate", int(rate), "rps", int(r.Throughput()), "p99", r.Latency.Quantile(0.99), "lost", r.Delivery.Lost)
	}
	res.SinkRejected = sink.Rejected()
	return res, ctx.Err()
}

// awaitRoute sends probe events until one reaches the destination. The
// forwarder routes an event to the destinations it knows when the event is
// stored, and nothing tells when a data plane has learnt of a new
// destination, so probes sent before that are not delivered: they belong
// to no measured phase.
func awaitRoute(ctx context.Context, client *http.Client, hooks *Webhooks, ledger *Ledger) error {
	var seq int64
	return poll(ctx, "destination on the data plane", 60*time.Second, 250*time.Millisecond, func() (bool, error) {
		if ledger.Tally("probe").Delivered > 0 {
			return true, nil
		}
		seq++
		req, id, err := hooks.NewRequest(ctx, "probe", seq)
		if err != nil {
			return false, err
		}
		ledger.Sent("probe", id)
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ledger.Answered(id, resp.StatusCode)
		return false, nil
	})
}

// measureBare runs the reference handler at maximum rate with the same
// client code and the same signed bodies.
func measureBare(ctx context.Context, c EndToEndConfig, run, secret string) (*Result, error) {
	srv, err := Serve(BareHandler(secret))
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	hooks, err := NewWebhooks(run, Endpoint{URL: srv.URL + "/v1/ingest/webhook/bare", Secret: secret})
	if err != nil {
		return nil, err
	}
	client := NewClient(c.Workers)
	Run(ctx, client, hooks, nil, Phase{Name: "bare-warmup", Workers: c.Workers, Duration: min(c.Warmup, time.Second)})
	return Run(ctx, client, hooks, nil, Phase{Name: "bare", Workers: c.Workers, Duration: c.Duration}), nil
}

// drain waits for the phase's accepted events to reach the destination
// and records the verdict.
func drain(ctx context.Context, ledger *Ledger, r *Result, quiet time.Duration) {
	t, d := ledger.Wait(ctx, r.Name, quiet)
	r.Delivery, r.Drain, r.Lag = &t, d, ledger.Lag(r.Name)
}
