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
	return &ControlPlane{GRPC: g}
}
