// Package metrics defines the Prometheus series of Plugs' processes and
// serves them. Each process builds its set on a registry of its own, so
// several planes in one process (plugs dev, tests) do not collide, and
// labels are bounded: a source id is the only id used as a label, and
// never for requests naming an unknown source, whose ids come from anyone.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plugshq/plugs/dataplane/forward"
	"github.com/plugshq/plugs/dataplane/pipeline"
)

// Namespace prefixes every series.
const Namespace = "plugs"

// latencyBuckets cover a webhook's path from tens of microseconds (verify
// and map) to a backbone that takes seconds to answer.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// DataPlane is the set of a data plane's series.
type DataPlane struct {
	requests        *prometheus.CounterVec
	unrecorded      *prometheus.CounterVec
	unknownSource   prometheus.Counter
	requestSeconds  *prometheus.HistogramVec
	stepSeconds     *prometheus.HistogramVec
	dedupHits       *prometheus.CounterVec
	batchItems      prometheus.Histogram
	items           *prometheus.CounterVec
	forwardAttempts *prometheus.CounterVec
	forwardSeconds  prometheus.Histogram
	circuit         *prometheus.GaugeVec
	circuitOpens    prometheus.Counter
	configVersion   prometheus.Gauge
	configApplied   *prometheus.CounterVec
	reconnects      prometheus.Counter
	// Backlog gauges are set by a Backlog poller.
	deadLetters     prometheus.Gauge
	consumerPending *prometheus.GaugeVec

	// The series of fixed labels every webhook touches, looked up once
	// here rather than per request.
	verifySeconds, mapSeconds, storeSeconds prometheus.Observer
	outcomeSeconds                          map[pipeline.Outcome]prometheus.Observer
}

// NewDataPlane registers a data plane's series on reg.
func NewDataPlane(reg prometheus.Registerer) *DataPlane {
	m := newDataPlane(reg)
	m.verifySeconds = m.stepSeconds.WithLabelValues("verify")
	m.mapSeconds = m.stepSeconds.WithLabelValues("map")
	m.storeSeconds = m.stepSeconds.WithLabelValues("store")
	m.outcomeSeconds = map[pipeline.Outcome]prometheus.Observer{}
	for _, o := range []pipeline.Outcome{pipeline.Accepted, pipeline.Duplicate, pipeline.Filtered, pipeline.Rejected, pipeline.Handshake} {
		m.outcomeSeconds[o] = m.requestSeconds.WithLabelValues(string(o))
	}
	return m
}

func newDataPlane(reg prometheus.Registerer) *DataPlane {
	f := factory{reg}
	return &DataPlane{
		requests: f.counterVec("ingest_requests_total",
			"Webhooks received for known sources, by source, outcome and cause.", "source", "outcome", "cause"),
		unrecorded: f.counterVec("ingest_rejections_unrecorded_total",
			"Requests rejected before verification past their source's budget for such requests, answered 429 without a receipt, by source and the cause they were rejected for.",
			"source", "cause"),
		unknownSource: f.counter("ingest_unknown_source_total",
			"Requests naming no known source (answered 404)."),
		requestSeconds: f.histogramVec("ingest_request_duration_seconds",
			"Time from a webhook's arrival to its answer being decided, by outcome.", "outcome"),
		stepSeconds: f.histogramVec("ingest_step_duration_seconds",
			"Time spent in each step of a webhook's path: verify, map, store.", "step"),
		dedupHits: f.counterVec("dedup_hits_total",
			"Webhooks, and events of batches, whose provider event id was already stored in the dedup window, by source.", "source"),
		batchItems: f.histogramBuckets("ingest_batch_items",
			"Events in each batch request (sources whose mappings read a batch).", itemBuckets),
		items: f.counterVec("ingest_batch_items_total",
			"Events of batch requests, by source, outcome and cause.", "source", "outcome", "cause"),
		forwardAttempts: f.counterVec("forward_attempts_total",
			"Requests made to destinations, by outcome (delivered, retrying, dead_lettered) and answer class (2xx, 4xx, 5xx, none).",
			"outcome", "status_class"),
		forwardSeconds: f.histogram("forward_attempt_duration_seconds",
			"Time a destination took to answer a delivery."),
		circuit: f.gaugeVec("forward_circuit_state",
			"State of each delivering destination's circuit on this data plane: 0 closed, 1 half-open (probing), 2 open (deliveries held).",
			"destination"),
		circuitOpens: f.counter("forward_circuit_opens_total",
			"Times a destination's circuit opened: after failures in a row, or again after a failed probe."),
		configVersion: f.gauge("config_version",
			"Configuration revision the data plane serves; -1 before the first."),
		configApplied: f.counterVec("config_updates_total",
			"Configuration versions received, by result (applied, rejected).", "result"),
		reconnects: f.counter("config_stream_reconnects_total",
			"Times the configuration stream to the control plane was opened again."),
		deadLetters: f.gauge("dead_letters",
			"Deliveries in the dead-letter stream, all destinations."),
		consumerPending: f.gaugeVec("consumer_pending",
			"Messages a consumer has not yet acknowledged (not yet delivered or in flight): the router's events and all destinations' deliveries.",
			"consumer"),
	}
}

// Observe records one webhook (pipeline.Observer).
func (m *DataPlane) Observe(res *pipeline.Result, elapsed time.Duration) {
	if res.Outcome == pipeline.UnknownSource || res.Source == nil {
		m.unknownSource.Inc()
		return
	}
	src := res.Source.Config.GetId()
	m.requests.WithLabelValues(src, string(res.Outcome), string(res.Cause)).Inc()
	if res.Unrecorded != pipeline.CauseNone {
		m.unrecorded.WithLabelValues(src, string(res.Unrecorded)).Inc()
	}
	if o, ok := m.outcomeSeconds[res.Outcome]; ok {
		o.Observe(elapsed.Seconds())
	} else {
		m.requestSeconds.WithLabelValues(string(res.Outcome)).Observe(elapsed.Seconds())
	}
	if res.Verify > 0 {
		m.verifySeconds.Observe(res.Verify.Seconds())
	}
	if res.Map > 0 {
		m.mapSeconds.Observe(res.Map.Seconds())
	}
	if res.Store > 0 {
		m.storeSeconds.Observe(res.Store.Seconds())
	}
	if res.Batch {
		m.observeItems(src, res.Items)
	} else if res.Outcome == pipeline.Duplicate {
		m.dedupHits.WithLabelValues(src).Inc()
	}
}

// itemBuckets cover batches from one event to the largest a source may
// allow.
var itemBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000}

// observeItems records the events of a batch: how many, and what became of
// each, counted first so that a batch of a thousand events costs a few
// series updates.
func (m *DataPlane) observeItems(src string, items []pipeline.Item) {
	m.batchItems.Observe(float64(len(items)))
	type key struct {
		outcome pipeline.Outcome
		cause   pipeline.Cause
	}
	counts := map[key]int{}
	for i := range items {
		counts[key{items[i].Outcome, items[i].Cause}]++
	}
	for k, n := range counts {
		m.items.WithLabelValues(src, string(k.outcome), string(k.cause)).Add(float64(n))
		if k.outcome == pipeline.Duplicate {
			m.dedupHits.WithLabelValues(src).Add(float64(n))
		}
	}
}

// Attempt records one delivery attempt (forward.Options.OnAttempt).
func (m *DataPlane) Attempt(a forward.Attempt) {
	m.forwardAttempts.WithLabelValues(a.Outcome.String(), statusClass(a.StatusCode)).Inc()
	if a.Latency > 0 {
		m.forwardSeconds.Observe(a.Latency.Seconds())
	}
}

// circuitValues are the forward_circuit_state values: a gauge that grows
// with how badly the destination is doing.
var circuitValues = map[forward.CircuitState]float64{forward.CircuitClosed: 0, forward.CircuitHalfOpen: 1, forward.CircuitOpen: 2}

// Circuit records a change of a destination's circuit
// (forward.Options.OnCircuit). A stopped deliverer's series is removed.
func (m *DataPlane) Circuit(destinationID string, s forward.CircuitState) {
	v, ok := circuitValues[s]
	if !ok {
		m.circuit.DeleteLabelValues(destinationID)
		return
	}
	if s == forward.CircuitOpen {
		m.circuitOpens.Inc()
	}
	m.circuit.WithLabelValues(destinationID).Set(v)
}

// ConfigApplied records a configuration version received: applied and now
// served, or rejected (configclient.Observer).
func (m *DataPlane) ConfigApplied(version string, ok bool) {
	if !ok {
		m.configApplied.WithLabelValues("rejected").Inc()
		return
	}
	m.configApplied.WithLabelValues("applied").Inc()
	rev, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		rev = -1
	}
	m.configVersion.Set(float64(rev))
}

// StreamReconnect records the configuration stream being opened again
// (configclient.Observer).
func (m *DataPlane) StreamReconnect() { m.reconnects.Inc() }

func statusClass(code int) string {
	switch {
	case code == 0:
		return "none"
	case code < 300:
		return "2xx"
	case code < 400:
		return "3xx"
	case code < 500:
		return "4xx"
	}
	return "5xx"
}

// Spool is a bounded publisher whose records and messages are counted
// (spool.Spool).
type Spool interface {
	Dropped() int64
	Published() int64
	Messages() int64
}

// WatchSpools exposes, by name ("receipts", "unverified_receipts",
// "attempts"), what spools dropped (records lost, never a webhook), the
// records they published and the backbone messages those took: several
// records share a message under load.
func (m *DataPlane) WatchSpools(reg prometheus.Registerer, spools map[string]Spool) {
	for name, s := range spools {
		if s == nil {
			continue
		}
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Name: "spool_dropped_total", ConstLabels: prometheus.Labels{"spool": name},
			Help: "Records dropped because a spool's buffer was full (receipts, receipts of unverified requests, delivery attempts); webhooks are never dropped.",
		}, func() float64 { return float64(s.Dropped()) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Name: "spool_published_total", ConstLabels: prometheus.Labels{"spool": name},
			Help: "Records a spool published and the backbone confirmed.",
		}, func() float64 { return float64(s.Published()) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: Namespace, Name: "spool_messages_total", ConstLabels: prometheus.Labels{"spool": name},
			Help: "Backbone messages a spool published, each carrying one record or a batch of one subject's records.",
		}, func() float64 { return float64(s.Messages()) }))
	}
}
