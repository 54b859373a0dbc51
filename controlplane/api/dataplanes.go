package api

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/configchange"
	"github.com/plugshq/plugs/ent/dataplane"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// LiveWindow is how recently a connected data plane must have been heard
// from to count as connected; streams mark themselves seen well within it,
// so a row left "connected" by a replica that died stops counting.
const LiveWindow = 45 * time.Second

// DataPlanes implements plugs.v1.DataPlaneService for tenants. Data planes
// serve every tenant, so a tenant sees of them only what concerns its own
// configuration: whether each is connected and which version it runs or
// rejected, against the version of the tenant's newest change. The privacy
// policy of the data planes lets a tenant read no more (schema.TenantColumns);
// node ids, builds, replicas and rejection texts are the operator's.
type DataPlanes struct {
	plugsv1.UnimplementedDataPlaneServiceServer
	Client *ent.Client
	Log    *slog.Logger
}

// ListDataPlanes implements plugs.v1.DataPlaneService. Node ids are not
// shown, so a page token holds a position in the list rather than the last
// node's id.
func (d *DataPlanes) ListDataPlanes(ctx context.Context, req *plugsv1.ListDataPlanesRequest) (*plugsv1.ListDataPlanesResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	offset, err := decodeOffsetPageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	rev, err := tenantRevision(ctx, d.Client)
	if err != nil {
		return nil, internal(ctx, d.log(), "list data planes", err)
	}
	rows, err := d.Client.DataPlane.Query().
		Where(dataplane.LastSeenTimeGT(time.Now().Add(-24*time.Hour))).
		Order(ent.Desc(dataplane.FieldConnected), ent.Asc(dataplane.FieldID)).
		Offset(offset).Limit(size + 1).
		All(ctx)
	if err != nil {
		return nil, internal(ctx, d.log(), "list data planes", err)
	}
	resp := &plugsv1.ListDataPlanesResponse{}
	if rev > 0 {
		resp.CurrentVersion = config.Version(rev)
	}
	if len(rows) > size {
		rows = rows[:size]
		resp.NextPageToken = encodePageToken("@" + strconv.Itoa(offset+size))
	}
	live := time.Now().Add(-LiveWindow)
	for _, r := range rows {
		dp := &plugsv1.DataPlane{
			Zone:         r.Zone,
			Connected:    r.Connected && r.LastSeenTime.After(live),
			ConnectTime:  timestamppb.New(r.ConnectTime),
			LastSeenTime: timestamppb.New(r.LastSeenTime),
		}
		if r.AckedRevision > 0 {
			dp.AckedVersion = config.Version(r.AckedRevision)
		}
		if r.NackRevision > 0 {
			dp.NackVersion = config.Version(r.NackRevision)
			if r.NackTime != nil {
				dp.NackTime = timestamppb.New(*r.NackTime)
			}
		}
		resp.DataPlanes = append(resp.DataPlanes, dp)
	}
	return resp, nil
}

// tenantRevision is the revision of the caller's newest configuration
// change, deletes included; 0 when it made none. The revision log's policy
// shows a tenant its own changes only.
func tenantRevision(ctx context.Context, c *ent.Client) (int64, error) {
	last, err := c.ConfigChange.Query().Order(ent.Desc(configchange.FieldID)).Limit(1).IDs(ctx)
	if err != nil || len(last) == 0 {
		return 0, err
	}
	return last[0], nil
}

// decodeOffsetPageToken reads a token of a list paged by position: "@"
// and the position of the page's first row.
func decodeOffsetPageToken(tok string) (int, error) {
	key, err := decodePageToken(tok)
	if err != nil || key == "" {
		return 0, err
	}
	n, perr := strconv.Atoi(strings.TrimPrefix(key, "@"))
	if !strings.HasPrefix(key, "@") || perr != nil || n <= 0 {
		return 0, invalid("page_token", "not a page token of this list")
	}
	return n, nil
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
