package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// ChangeSignal tells the stream when the configuration revision moves.
type ChangeSignal interface {
	Changed() <-chan struct{}
}

// Server implements plugs.v1.ConfigDiscoveryService with full snapshots:
// whenever the revision differs from what a data plane acknowledged, it
// sends the whole configuration. A version a data plane rejected is not sent
// again until the configuration changes.
type Server struct {
	plugsv1.UnimplementedConfigDiscoveryServiceServer
	Snapshots *Snapshotter
	Changes   ChangeSignal
	// Shutdown, when closed, ends every stream with UNAVAILABLE so data
	// planes reconnect elsewhere and a graceful stop does not wait on them.
	Shutdown <-chan struct{}
	Log      *slog.Logger
}

type recvResult struct {
	req *plugsv1.StreamConfigRequest
	err error
}

// StreamConfig implements plugs.v1.ConfigDiscoveryService.
func (s *Server) StreamConfig(stream plugsv1.ConfigDiscoveryService_StreamConfigServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	node := first.GetNode()
	if node.GetId() == "" {
		return status.Error(codes.InvalidArgument, "node.id is required on the first request")
	}
	log := s.log().With("node_id", node.GetId(), "zone", node.GetZone())
	log.InfoContext(ctx, "data plane connected", "version", first.GetVersionInfo(), "build", node.GetBuild())
	defer log.InfoContext(ctx, "data plane disconnected")

	reqs := make(chan recvResult)
	go func() {
		for {
			r, err := stream.Recv()
			select {
			case reqs <- recvResult{r, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	held := first.GetVersionInfo() // what the data plane runs
	rejected := ""                 // last version it NACKed
	pendingNonce, pendingVersion := "", ""
	for {
		// Arm the change signal before reading the revision, so a change
		// committed in between is not missed.
		changed := s.Changes.Changed()
		if pendingNonce == "" {
			snap, err := s.Snapshots.Build(ctx)
			if err != nil {
				log.ErrorContext(ctx, "snapshot failed", "error", err)
				return status.Error(codes.Unavailable, "configuration snapshot unavailable")
			}
			v := Version(snap.Revision)
			if v != held && v != rejected {
				nonce := newNonce()
				err := stream.Send(&plugsv1.StreamConfigResponse{
					VersionInfo: v, Nonce: nonce, Full: true, Sources: snap.Sources,
				})
				if err != nil {
					return err
				}
				pendingNonce, pendingVersion = nonce, v
				log.DebugContext(ctx, "sent snapshot", "version", v, "sources", len(snap.Sources))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Shutdown:
			return status.Error(codes.Unavailable, "control plane shutting down")
		case <-changed:
			rejected = "" // a new configuration may be accepted
		case r := <-reqs:
			if errors.Is(r.err, io.EOF) {
				return nil
			}
			if r.err != nil {
				return r.err
			}
			if r.req.GetResponseNonce() != pendingNonce {
				continue // stale answer to an older response
			}
			pendingNonce = ""
			if e := r.req.GetErrorDetail(); e != nil {
				log.WarnContext(ctx, "data plane rejected configuration",
					"kept_version", r.req.GetVersionInfo(), "error", e.GetMessage(), "source_id", e.GetSourceId())
				// The data plane keeps what it held; the rejected version
				// is not offered again until the configuration moves.
				rejected = pendingVersion
				continue
			}
			held = r.req.GetVersionInfo()
		}
	}
}

func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
