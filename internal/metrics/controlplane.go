package metrics

import (
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// ControlPlane is the set of a control plane's series. Its API calls are
// counted and timed by the gRPC interceptors of GRPC; REST calls reach the
// same gRPC server through the gateway, so they are counted there too.
type ControlPlane struct {
	GRPC *grpcprom.ServerMetrics
}

// ControlPlaneState reads what the gauges show at scrape time; both are
// in-memory reads.
type ControlPlaneState struct {
	// Revision is the configuration revision the replica serves.
	Revision func() int64
	// DataPlanes is how many data planes hold a stream to this replica.
	DataPlanes func() int
	// Withheld counts the sources and destinations whose configuration
	// the replica cannot build (a key that does not open, say); nil
	// leaves the series out.
	Withheld func() (sources, destinations int)
}

// NewControlPlane registers a control plane's series on reg.
func NewControlPlane(reg prometheus.Registerer, state ControlPlaneState) *ControlPlane {
	g := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)))
	reg.MustRegister(g)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "controlplane_config_revision",
		Help: "Configuration revision this control-plane replica serves to data planes.",
	}, func() float64 { return float64(state.Revision()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "controlplane_dataplanes_connected",
		Help: "Data planes holding a configuration stream to this replica.",
	}, func() float64 { return float64(state.DataPlanes()) }))
	if state.Withheld != nil {
		for _, kind := range []string{"source", "destination"} {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: Namespace, Name: "controlplane_config_withheld",
				Help: "Sources and destinations whose configuration this control-plane replica cannot build " +
					"(a secret or shared key that does not open, an unknown template); data planes keep the version they hold.",
				ConstLabels: prometheus.Labels{"kind": kind},
			}, func() float64 {
				s, d := state.Withheld()
				if kind == "source" {
					return float64(s)
				}
				return float64(d)
			}))
		}
	}
	return &ControlPlane{GRPC: g}
}
