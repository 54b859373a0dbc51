package config

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// ChangeSignal tells when the configuration revision may have moved.
type ChangeSignal interface {
	Changed() <-chan struct{}
}

// heartbeat is how often an idle stream marks its data plane as seen.
const heartbeat = 15 * time.Second

// Server implements plugs.v1.ConfigDiscoveryService. Each stream follows
// the shared Cache: when the revision moves past what its data plane holds
// it sends a delta read off the revision log (or a full snapshot when the
// data plane holds nothing or is further behind than the log reaches),
// waits for the ACK or NACK of that one response, and records the outcome.
// A version a data plane rejected is not sent to it again; the next change
// brings a new version, computed from what it still holds.
type Server struct {
	plugsv1.UnimplementedConfigDiscoveryServiceServer
	Cache  *Cache
	Status Status
	// Shutdown, when closed, ends every stream with UNAVAILABLE so data
	// planes reconnect elsewhere and a graceful stop does not wait on them.
	Shutdown <-chan struct{}
	// Secrets stores secrets data planes report from handshakes; nil
	// answers UNIMPLEMENTED.
	Secrets HandshakeSecrets
	Log     *slog.Logger
}

type recvResult struct {
	req *plugsv1.StreamConfigRequest
	err error
}

// StreamConfig implements plugs.v1.ConfigDiscoveryService.
func (s *Server) StreamConfig(stream plugsv1.ConfigDiscoveryService_StreamConfigServer) error {
	ctx := stream.Context()
	if err := requireTLSOrLoopback(ctx); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	node := first.GetNode()
	if node.GetId() == "" {
		return status.Error(codes.InvalidArgument, "node.id is required on the first request")
	}
	log := s.log().With("node_id", node.GetId(), "zone", node.GetZone())
	held := heldBy(first) // what the data plane runs
	log.InfoContext(ctx, "data plane connected", "version", first.GetVersionInfo(), "build", node.GetBuild(),
		"withheld_sources", len(held.WithheldSources), "withheld_destinations", len(held.WithheldDestinations))
	s.Status.Connected(node, held.Revision)
	defer func() {
		s.Status.Disconnected(node.GetId())
		log.InfoContext(ctx, "data plane disconnected")
	}()

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

	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	rejected := int64(-1) // last version it NACKed
	var pendingNonce string
	var pendingRev int64
	for {
		// Arm the change signal before reading the revision, so a change
		// that lands in between is not missed.
		changed := s.Cache.Changed()
		if pendingNonce == "" && s.Cache.Revision() != rejected {
			if u := s.Cache.UpdateFrom(held); u != nil && u.Revision != rejected {
				resp := &plugsv1.StreamConfigResponse{
					VersionInfo: Version(u.Revision), Nonce: newNonce(), Full: u.Full,
					Sources: u.Upserts, RemovedSourceIds: u.Removed,
					Destinations: u.Destinations, RemovedDestinationIds: u.RemovedDestinations,
					WithheldSources: u.WithheldSources, WithheldDestinations: u.WithheldDestinations,
				}
				if !u.Full {
					resp.BaseVersion = Version(u.Base)
				}
				if err := stream.Send(resp); err != nil {
					return err
				}
				pendingNonce, pendingRev = resp.Nonce, u.Revision
				log.DebugContext(ctx, "sent configuration", "version", resp.VersionInfo, "full", u.Full,
					"base", resp.BaseVersion, "upserts", len(u.Upserts), "removed", len(u.Removed),
					"withheld", len(u.WithheldSources)+len(u.WithheldDestinations))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Shutdown:
			return status.Error(codes.Unavailable, "control plane shutting down")
		case <-changed:
		case <-beat.C:
			s.Status.Seen(node.GetId())
		case r := <-reqs:
			if errors.Is(r.err, io.EOF) {
				return nil
			}
			if r.err != nil {
				return r.err
			}
			s.Status.Seen(node.GetId())
			if r.req.GetResponseNonce() != pendingNonce {
				continue // stale answer to an older response
			}
			pendingNonce = ""
			// Whatever it says, the data plane tells us what it runs now.
			held = heldBy(r.req)
			if e := r.req.GetErrorDetail(); e != nil {
				log.WarnContext(ctx, "data plane rejected configuration", "rejected_version", Version(pendingRev),
					"kept_version", r.req.GetVersionInfo(), "error", e.GetMessage(), "source_id", e.GetSourceId())
				rejected = pendingRev
				s.Status.Nacked(node.GetId(), pendingRev, e.GetMessage())
				continue
			}
			s.Status.Acked(node.GetId(), held.Revision)
		}
	}
}

// heldBy reads what a data plane says it runs.
func heldBy(r *plugsv1.StreamConfigRequest) Held {
	return Held{
		Revision:             ParseVersion(r.GetVersionInfo()),
		WithheldSources:      r.GetWithheldSourceIds(),
		WithheldDestinations: r.GetWithheldDestinationIds(),
	}
}

// requireTLSOrLoopback refuses a stream that would carry secrets in the
// clear across a network: plaintext is accepted from loopback peers only
// (plugs dev, a sidecar, tests).
func requireTLSOrLoopback(ctx context.Context) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil // in-process transports have no peer
	}
	if _, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		return nil
	}
	if a, ok := p.Addr.(*net.TCPAddr); ok && a.IP.IsLoopback() {
		return nil
	}
	if _, ok := p.Addr.(*net.UnixAddr); ok {
		return nil
	}
	return status.Error(codes.FailedPrecondition, "configuration carries secrets and is sent over TLS only; start the control plane with --tls-cert and --tls-key")
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
