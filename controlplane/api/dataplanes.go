package api

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/dataplane"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// LiveWindow is how recently a connected data plane must have been heard
// from to count as connected; streams mark themselves seen well within it,
// so a row left "connected" by a replica that died stops counting.
const LiveWindow = 45 * time.Second

// Revisioner reports the configuration revision being served.
type Revisioner interface {
	Revision() int64
}

// DataPlanes implements plugs.v1.DataPlaneService. Data planes serve every
// tenant; the list names nodes and versions, never tenant data.
type DataPlanes struct {
	plugsv1.UnimplementedDataPlaneServiceServer
	Client   *ent.Client
	Revision Revisioner
	Log      *slog.Logger
}

// ListDataPlanes implements plugs.v1.DataPlaneService.
func (d *DataPlanes) ListDataPlanes(ctx context.Context, req *plugsv1.ListDataPlanesRequest) (*plugsv1.ListDataPlanesResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	sys := viewer.System(ctx)
	q := d.Client.DataPlane.Query().
		Where(dataplane.LastSeenTimeGT(time.Now().Add(-24 * time.Hour))).
		Order(ent.Asc(dataplane.FieldID)).Limit(size + 1)
	if after != "" {
		q = q.Where(dataplane.IDGT(after))
	}
	rows, err := q.All(sys)
	if err != nil {
		return nil, internal(ctx, d.log(), "list data planes", err)
	}
	resp := &plugsv1.ListDataPlanesResponse{CurrentVersion: config.Version(d.Revision.Revision())}
	rows, resp.NextPageToken = trimPage(rows, size, func(r *ent.DataPlane) string { return r.ID })
	live := time.Now().Add(-LiveWindow)
	for _, r := range rows {
		dp := &plugsv1.DataPlane{
			NodeId: r.ID, Zone: r.Zone, Build: r.Build, Replica: r.Replica,
			Connected:    r.Connected && r.LastSeenTime.After(live),
			ConnectTime:  timestamppb.New(r.ConnectTime),
			LastSeenTime: timestamppb.New(r.LastSeenTime),
		}
		if r.AckedRevision > 0 {
			dp.AckedVersion = config.Version(r.AckedRevision)
		}
		if r.NackRevision > 0 {
			dp.NackVersion, dp.NackError = config.Version(r.NackRevision), r.NackError
			if r.NackTime != nil {
				dp.NackTime = timestamppb.New(*r.NackTime)
			}
		}
		resp.DataPlanes = append(resp.DataPlanes, dp)
	}
	return resp, nil
}

func (d *DataPlanes) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// Rollout counts how many connected data planes run a revision. It reads
// the acknowledged revisions of live data planes at most once a second.
type Rollout struct {
	Client *ent.Client

	mu    sync.Mutex
	at    time.Time
	acked []int64 // sorted
}

// Counts returns how many live data planes acknowledged rev or later, and
// how many are live.
func (r *Rollout) Counts(ctx context.Context, rev int64) (current, connected int32) {
	if r == nil || r.Client == nil {
		return 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.at) > time.Second {
		ints, err := r.Client.DataPlane.Query().
			Where(dataplane.Connected(true), dataplane.LastSeenTimeGT(time.Now().Add(-LiveWindow))).
			Select(dataplane.FieldAckedRevision).Ints(viewer.System(ctx))
		if err == nil {
			revs := make([]int64, len(ints))
			for i, n := range ints {
				revs[i] = int64(n)
			}
			slices.Sort(revs)
			r.acked, r.at = revs, time.Now()
		}
	}
	i, _ := slices.BinarySearch(r.acked, rev)
	return int32(len(r.acked) - i), int32(len(r.acked))
}
