package config

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/dataplane"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Status records what data planes report on their streams.
type Status interface {
	Connected(node *plugsv1.Node, held int64)
	Acked(nodeID string, rev int64)
	Nacked(nodeID string, rev int64, message string)
	Seen(nodeID string)
	Disconnected(nodeID string)
}

// nodeState is one data plane as this replica last saw it.
type nodeState struct {
	node      *plugsv1.Node
	streams   int // open streams; a reconnect may overlap the old stream
	connected bool
	since     time.Time
	seen      time.Time
	acked     int64
	nackRev   int64
	nackMsg   string
	nackTime  time.Time
}

// DBStatus keeps data-plane status in the database, where every replica
// can read it. Streams never wait on the database: reports update memory
// and a writer flushes changed nodes every interval.
type DBStatus struct {
	client   *ent.Client
	replica  string
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	nodes map[string]*nodeState
	dirty map[string]bool
	kick  chan struct{}
}

// NewDBStatus returns a status recorder for replica; Run writes it out.
func NewDBStatus(client *ent.Client, replica string, interval time.Duration, log *slog.Logger) *DBStatus {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	return &DBStatus{
		client: client, replica: replica, interval: interval, log: log,
		nodes: map[string]*nodeState{}, dirty: map[string]bool{}, kick: make(chan struct{}, 1),
	}
}

func (d *DBStatus) update(id string, f func(*nodeState)) {
	d.mu.Lock()
	st := d.nodes[id]
	if st == nil {
		st = &nodeState{node: &plugsv1.Node{Id: id}}
		d.nodes[id] = st
	}
	f(st)
	d.dirty[id] = true
	d.mu.Unlock()
}

// Connected implements Status.
func (d *DBStatus) Connected(node *plugsv1.Node, held int64) {
	now := time.Now().UTC()
	d.update(node.GetId(), func(st *nodeState) {
		st.streams++
		st.node, st.connected, st.since, st.seen = node, true, now, now
		if held >= 0 {
			st.acked = held
		}
	})
}

// Acked implements Status.
func (d *DBStatus) Acked(id string, rev int64) {
	now := time.Now().UTC()
	d.update(id, func(st *nodeState) { st.acked, st.seen = rev, now })
	select { // an ACK is worth writing at once: rollout counts show it
	case d.kick <- struct{}{}:
	default:
	}
}

// Nacked implements Status.
func (d *DBStatus) Nacked(id string, rev int64, msg string) {
	now := time.Now().UTC()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	d.update(id, func(st *nodeState) { st.nackRev, st.nackMsg, st.nackTime, st.seen = rev, msg, now, now })
}

// Seen implements Status.
func (d *DBStatus) Seen(id string) {
	now := time.Now().UTC()
	d.update(id, func(st *nodeState) { st.seen = now })
}

// Disconnected implements Status.
func (d *DBStatus) Disconnected(id string) {
	now := time.Now().UTC()
	d.update(id, func(st *nodeState) {
		st.streams--
		st.connected, st.seen = st.streams > 0, now
	})
}

// Run writes changed nodes until ctx ends, then once more. It first marks
// the nodes this replica left connected when it last stopped as
// disconnected.
func (d *DBStatus) Run(ctx context.Context) {
	sys := viewer.System(context.WithoutCancel(ctx))
	if err := d.client.DataPlane.Update().
		Where(dataplane.Replica(d.replica), dataplane.Connected(true)).
		SetConnected(false).Exec(sys); err != nil {
		d.log.Warn("data-plane status reset failed", "error", err)
	}
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.flush(sys)
			return
		case <-t.C:
		case <-d.kick:
		}
		d.flush(sys)
	}
}

func (d *DBStatus) flush(ctx context.Context) {
	d.mu.Lock()
	if len(d.dirty) == 0 {
		d.mu.Unlock()
		return
	}
	rows := make([]nodeState, 0, len(d.dirty))
	for id := range d.dirty {
		rows = append(rows, *d.nodes[id])
		if !d.nodes[id].connected {
			delete(d.nodes, id)
		}
	}
	clear(d.dirty)
	d.mu.Unlock()

	builders := make([]*ent.DataPlaneCreate, len(rows))
	for i, st := range rows {
		b := d.client.DataPlane.Create().
			SetID(st.node.GetId()).SetZone(st.node.GetZone()).SetBuild(st.node.GetBuild()).
			SetReplica(d.replica).SetConnected(st.connected).
			SetConnectTime(st.since).SetLastSeenTime(st.seen).SetAckedRevision(st.acked)
		if !st.nackTime.IsZero() {
			b.SetNackRevision(st.nackRev).SetNackError(st.nackMsg).SetNackTime(st.nackTime)
		}
		builders[i] = b
	}
	err := d.client.DataPlane.CreateBulk(builders...).
		OnConflict(sql.ConflictColumns(dataplane.FieldID)).
		UpdateNewValues().
		Exec(ctx)
	if err != nil {
		d.log.Warn("data-plane status not written", "error", err)
		d.mu.Lock()
		for _, st := range rows {
			if _, ok := d.nodes[st.node.GetId()]; !ok {
				cp := st
				d.nodes[st.node.GetId()] = &cp
			}
			d.dirty[st.node.GetId()] = true
		}
		d.mu.Unlock()
	}
}

// ConnectedCount is how many data planes hold a stream to this replica.
func (d *DBStatus) ConnectedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, st := range d.nodes {
		if st.streams > 0 {
			n++
		}
	}
	return n
}
