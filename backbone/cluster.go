package backbone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterNode describes one embedded nats-server that is a member of a
// JetStream cluster, so a cluster can run in one process (tests, and a
// local replica of the production R3 setup).
type ClusterNode struct {
	// Name must be unique in the cluster: JetStream's Raft groups know
	// their peers by it, and a node restarted under another name would
	// be a new, empty peer.
	Name string
	// StoreDir is this node's own file store; nodes must not share one.
	StoreDir string
	// Host is where clients and other nodes reach this node.
	Host string
	// ClientPort is the client port; -1 picks a free one.
	ClientPort int
	// ClusterName is the same on every member.
	ClusterName string
	// ClusterPort is the route port. It must be a fixed port, not -1:
	// the other members' Routes name it before this node exists.
	ClusterPort int
	// Routes are the route URLs of the members, for example
	// "nats-route://127.0.0.1:6222". Listing every member, this node
	// included, is fine: a route to itself is ignored. JetStream refuses
	// to cluster without at least one.
	Routes []string
	// Durability is how eagerly this node writes to disk.
	Durability Durability
}

// StartClusterNode runs n as a JetStream-enabled member of its cluster. It
// returns once the node accepts connections, which is before the cluster
// has formed: a lone member cannot elect a JetStream leader. Start every
// member, then call WaitCluster.
func StartClusterNode(n ClusterNode, log *slog.Logger) (*Embedded, error) {
	switch {
	case n.Name == "":
		return nil, errors.New("backbone: cluster node: no name")
	case n.ClusterName == "":
		return nil, fmt.Errorf("backbone: cluster node %s: no cluster name", n.Name)
	case n.ClusterPort <= 0:
		return nil, fmt.Errorf("backbone: cluster node %s: cluster port %d is not a fixed port", n.Name, n.ClusterPort)
	case len(n.Routes) == 0:
		return nil, fmt.Errorf("backbone: cluster node %s: no routes", n.Name)
	}
	// RoutesFromStr keeps a URL it could not parse as nil, which the
	// server would only trip over later; refuse it here instead.
	routes := server.RoutesFromStr(strings.Join(n.Routes, ","))
	for i, u := range routes {
		if u == nil || u.Host == "" {
			return nil, fmt.Errorf("backbone: cluster node %s: bad route %q", n.Name, n.Routes[i])
		}
	}
	opts := &server.Options{
		ServerName: n.Name,
		Host:       n.Host,
		Port:       n.ClientPort,
		Cluster: server.ClusterOpts{
			Name: n.ClusterName,
			Host: n.Host,
			Port: n.ClusterPort,
		},
		Routes:     routes,
		JetStream:  true,
		StoreDir:   n.StoreDir,
		NoSigs:     true,
		SyncAlways: n.Durability == DurabilityFsync,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("backbone: cluster node %s: %w", n.Name, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("backbone: cluster node %s did not start", n.Name)
	}
	if log != nil {
		log.Info("embedded NATS JetStream cluster node started", "name", n.Name, "cluster", n.ClusterName,
			"url", srv.ClientURL(), "cluster_port", n.ClusterPort, "store", n.StoreDir)
	}
	return &Embedded{srv: srv}, nil
}

// WaitCluster polls until the running nodes have a JetStream meta leader
// that knows all of them as peers, and every running node has caught up
// with it. Only then are streams with as many replicas as nodes created
// reliably; before, creating one fails or waits for peers. The nodes must
// be all the members of the cluster, since the leader is looked for among
// them; a member in another process is not seen.
func WaitCluster(ctx context.Context, nodes ...*Embedded) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if clusterReady(nodes) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: JetStream cluster did not form: %w", ErrUnavailable, ctx.Err())
		case <-t.C:
		}
	}
}

func clusterReady(nodes []*Embedded) bool {
	var leader *server.Server
	var names []string
	for _, n := range nodes {
		if !n.srv.Running() {
			continue
		}
		names = append(names, n.srv.Name())
		if !n.srv.JetStreamIsCurrent() {
			return false
		}
		if n.srv.JetStreamIsLeader() {
			leader = n.srv
		}
	}
	if leader == nil {
		return false
	}
	// The leader lists the peers it has heard from lately; a node that
	// runs but is missing there has not joined yet.
	peers := leader.JetStreamClusterPeers()
	for _, name := range names {
		if !slices.Contains(peers, name) {
			return false
		}
	}
	return true
}
