package backbone_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// freePorts returns n distinct ports nobody listens on. Routes must name
// every member's cluster port before the members start, so the ports are
// picked first; the listeners are all held until the last is picked so
// no port is handed out twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// member is one node of a test cluster: embedded in this process, or, to
// be killed outright, in a child process running this test binary.
type member struct {
	spec     backbone.ClusterNode
	external bool
	emb      *backbone.Embedded // in this process, while up
	cmd      *exec.Cmd          // external, while up
	stderr   *bytes.Buffer      // external: the last child's, read after Wait
}

// testCluster is the nodes of one JetStream cluster.
type testCluster struct {
	t       *testing.T
	members []*member
}

// startCluster starts size nodes; node external (or none, if -1) runs in a
// child process.
func startCluster(t *testing.T, size, external int) *testCluster {
	t.Helper()
	ports := freePorts(t, 2*size)
	c := &testCluster{t: t}
	var routes []string
	for i := range size {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[size+i]))
	}
	dir := t.TempDir()
	for i := range size {
		name := fmt.Sprintf("n%d", i)
		c.members = append(c.members, &member{external: i == external, spec: backbone.ClusterNode{
			Name: name, StoreDir: filepath.Join(dir, name), Host: "127.0.0.1",
			// A fixed client port too, so a restarted node is found again
			// at the URL the client was given.
			ClientPort: ports[i], ClusterName: "plugs-test", ClusterPort: ports[size+i], Routes: routes,
		}})
	}
	for i := range size {
		c.start(i)
	}
	c.wait()
	return c
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	m := c.members[i]
	if m.external {
		c.startChild(m)
		return
	}
	n, err := backbone.StartClusterNode(m.spec, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(n.Shutdown) // Shutdown twice is harmless
	m.emb = n
}

// lose takes node i away: an embedded node is shut down, a child process
// is killed (SIGKILL: no leadership handed over, nothing flushed).
func (c *testCluster) lose(i int) {
	c.t.Helper()
	m := c.members[i]
	if !m.external {
		m.emb.Shutdown()
		m.emb = nil
		return
	}
	if err := m.cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	_ = m.cmd.Wait() // "signal: killed"
	m.cmd = nil
	c.checkChild(m)
}

// wait waits, where it can, for the running nodes to have a meta leader
// and be current. WaitCluster sees only nodes in this process; with a
// child in the cluster, the test waits for its R3 stream instead.
func (c *testCluster) wait() {
	c.t.Helper()
	var up []*backbone.Embedded
	for _, m := range c.members {
		if m.external && m.cmd != nil {
			return
		}
		if m.emb != nil {
			up = append(up, m.emb)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := backbone.WaitCluster(ctx, up...); err != nil {
		c.t.Fatal(err)
	}
}

// urls are the client URLs of the running nodes.
func (c *testCluster) urls() string {
	var urls []string
	for _, m := range c.members {
		if m.emb != nil || m.cmd != nil {
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", m.spec.ClientPort))
		}
	}
	return strings.Join(urls, ",")
}

// childEnv carries a child's ClusterNode, as JSON.
const childEnv = "PLUGS_TEST_CLUSTER_NODE"

// TestClusterNodeProcess is not a test: it is the body of a child process
// started by startChild, a cluster node that can be killed without the
// test dying with it. Run directly, it does nothing.
func TestClusterNodeProcess(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return
	}
	var n backbone.ClusterNode
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		t.Fatal(err)
	}
	srv, err := backbone.StartClusterNode(n, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	// Run until killed, or until the parent goes away and stdin ends.
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Shutdown()
}

func (c *testCluster) startChild(m *member) {
	c.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	spec, err := json.Marshal(m.spec)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestClusterNodeProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	m.stderr = &bytes.Buffer{}
	cmd.Stderr = m.stderr
	if _, err := cmd.StdinPipe(); err != nil { // held open until the child ends
		c.t.Fatal(err)
	}
	// A pipe of our own rather than StdoutPipe: it is read to its end,
	// after Wait too.
	out, w, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		out.Close()
		c.t.Fatal(err)
	}
	m.cmd = cmd
	c.t.Cleanup(func() {
		if m.cmd == cmd {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			c.checkChild(m)
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if sc.Text() == "ready" && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
		out.Close()
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			m.cmd = nil
			c.t.Fatalf("child %s did not start: %s", m.spec.Name, m.stderr)
		}
	case <-time.After(20 * time.Second):
		c.t.Fatalf("child %s not ready in 20s", m.spec.Name)
	}
}

// checkChild fails the test if a finished child found a data race.
func (c *testCluster) checkChild(m *member) {
	if strings.Contains(m.stderr.String(), "DATA RACE") {
		c.t.Errorf("child %s: %s", m.spec.Name, m.stderr)
	}
}

// poll calls cond every 20 ms until it returns nil, and fails the test with
// its last error once d has passed.
func poll(t *testing.T, d time.Duration, what string, cond func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicasCurrent says why the events stream does not yet have a leader
// and want-1 followers that are online, current and not lagging.
func replicasCurrent(ctx context.Context, js jetstream.JetStream, want int) (*jetstream.StreamInfo, error) {
	s, err := js.Stream(ctx, backbone.EventsStream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	cl := info.Cluster
	if cl == nil || cl.Leader == "" {
		return info, errors.New("no stream leader")
	}
	current := 1 // the leader
	for _, p := range cl.Replicas {
		if p.Current && !p.Offline && p.Lag == 0 {
			current++
		}
	}
	if current != want {
		return info, fmt.Errorf("%d of %d replicas current (leader %s)", current, want, cl.Leader)
	}
	return info, nil
}

// checkStored reads every acknowledged event back and checks the stream
// holds those and nothing else.
func checkStored(t *testing.T, js jetstream.JetStream, acked map[string]*plugsv1.UsageEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, backbone.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range acked {
		msg, err := s.GetLastMsgForSubject(ctx, backbone.Subject(want))
		if err != nil {
			t.Fatalf("acknowledged event %s: %v", id, err)
		}
		got := &plugsv1.UsageEvent{}
		if err := proto.Unmarshal(msg.Data, got); err != nil {
			t.Fatalf("event %s: %v", id, err)
		}
		if !proto.Equal(got, want) || msg.Header.Get("Plugs-Event-Id") != want.GetId() {
			t.Fatalf("event %s: stored %v (header %q), want %v", id, got, msg.Header.Get("Plugs-Event-Id"), want)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(acked)) {
		t.Fatalf("stream holds %d events, %d were acknowledged", info.State.Msgs, len(acked))
	}
}

// checkDuplicates stores every acknowledged event again: each must be
// refused as a duplicate.
func checkDuplicates(t *testing.T, store *backbone.EventStore, acked map[string]*plugsv1.UsageEvent) {
	t.Helper()
	for id, ev := range acked {
		dup, err := store.Enqueue(context.Background(), ev)
		if err != nil || !dup {
			t.Fatalf("storing acknowledged event %s again: dup=%v err=%v", id, dup, err)
		}
	}
}

func clusterEvent(i int) *plugsv1.UsageEvent {
	return &plugsv1.UsageEvent{
		Id: fmt.Sprintf("u-%d", i), SourceId: "src-cluster", TenantId: "t1",
		EventId: fmt.Sprintf("evt_%d", i), EventType: "invoice.paid", Quantity: fmt.Sprintf("%d.25", i),
		Properties: map[string]string{"n": fmt.Sprint(i)},
	}
}

// A 3-node cluster with R3 streams loses no acknowledged event when the
// node leading the events stream is lost: the other two elect a new leader,
// keep storing, hold every event acknowledged before and during the loss,
// and still refuse them as duplicates. The lost node, back, catches up and
// can lead with nothing missing.
//
// A node shut down hands its leaderships over first, so writes barely
// pause; a node killed hands over nothing, and the others elect a leader
// only after Raft's election timeout (4 to 9 s). Both are tested: the
// killed node runs in a child process.
func TestClusterLosesNoAcknowledgedEvent(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) { testLeaderLoss(t, false) })
	t.Run("kill", func(t *testing.T) { testLeaderLoss(t, true) })
}

func testLeaderLoss(t *testing.T, kill bool) {
	begin := time.Now()
	const victim = 2
	external := -1
	if kill {
		external = victim
	}
	c := startCluster(t, 3, external)
	name := c.members[victim].spec.Name
	t.Logf("cluster started in %v", time.Since(begin).Round(time.Millisecond))

	conn, err := backbone.Connect(context.Background(), backbone.Options{URL: c.urls(), Name: "cluster-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	// Creating an R3 stream is refused until the meta leader has heard
	// from enough peers; retry until it is accepted.
	poll(t, 20*time.Second, "EnsureStreams R3", func(ctx context.Context) error {
		return backbone.EnsureStreams(ctx, conn.JS, backbone.StreamOptions{Replicas: 3})
	})
	var info *jetstream.StreamInfo
	poll(t, 15*time.Second, "3 current replicas", func(ctx context.Context) (err error) {
		info, err = replicasCurrent(ctx, conn.JS, 3)
		return err
	})
	if info.Config.Replicas != 3 {
		t.Fatalf("stream has %d replicas", info.Config.Replicas)
	}
	// The node to lose is the one the writes depend on most: the stream's
	// leader.
	makeLeader(t, conn, name)

	store := &backbone.EventStore{JS: conn.JS, Timeout: time.Second}
	acked := map[string]*plugsv1.UsageEvent{}
	start := time.Now()
	for i := range 300 {
		ev := clusterEvent(i)
		dup, err := store.Enqueue(context.Background(), ev)
		if err != nil || dup {
			t.Fatalf("event %d with all nodes up: dup=%v err=%v", i, dup, err)
		}
		acked[ev.GetEventId()] = ev
	}
	t.Logf("300 events stored with 3 nodes in %v", time.Since(start).Round(time.Millisecond))

	lostAt := time.Now()
	c.lose(victim)
	t.Logf("lost %s, the leader of %s (killed: %v)", name, backbone.EventsStream, kill)

	// Keep storing. Until a new leader is elected a store fails as
	// unavailable and is retried, as the provider would retry the webhook;
	// a retry of a store whose ack was lost is answered as a duplicate,
	// which acknowledges it too. Only acknowledged events are counted.
	var firstAfter time.Duration
	unavailable := 0
	deadline := lostAt.Add(25 * time.Second)
	for i := 300; i < 400; i++ {
		ev := clusterEvent(i)
		failed := false
		for {
			dup, err := store.Enqueue(context.Background(), ev)
			if err == nil {
				if dup && !failed {
					t.Fatalf("event %d: a first store was a duplicate", i)
				}
				acked[ev.GetEventId()] = ev
				break
			}
			if !errors.Is(err, backbone.ErrUnavailable) {
				t.Fatalf("event %d: %v", i, err)
			}
			failed = true
			unavailable++
			if time.Now().After(deadline) {
				t.Fatalf("event %d still not stored %v after losing a node: %v", i, time.Since(lostAt), err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if i == 300 {
			firstAfter = time.Since(lostAt)
		}
	}
	info, err = replicasCurrent(context.Background(), conn.JS, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new leader %s; first store acknowledged %v after the loss (%d unavailable answers before); 100 stored in %v",
		info.Cluster.Leader, firstAfter.Round(time.Millisecond), unavailable, time.Since(lostAt).Round(time.Millisecond))
	if len(acked) != 400 {
		t.Fatalf("%d events acknowledged, want 400", len(acked))
	}

	// Read everything back through the two survivors only.
	survivors, err := backbone.Connect(context.Background(), backbone.Options{URL: c.urls(), Name: "cluster-test-survivors"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(survivors.Close)
	checkStored(t, survivors.JS, acked)
	checkDuplicates(t, &backbone.EventStore{JS: survivors.JS, Timeout: 2 * time.Second}, acked)

	// Bring the lost node back: it must catch up with what it missed...
	restartAt := time.Now()
	c.start(victim)
	c.wait()
	poll(t, 20*time.Second, "lost node caught up", func(ctx context.Context) error {
		_, err := replicasCurrent(ctx, conn.JS, 3)
		return err
	})
	t.Logf("%s back and current in %v", name, time.Since(restartAt).Round(time.Millisecond))

	// ...and, made leader, serve every event and every duplicate itself.
	makeLeader(t, conn, name)
	checkStored(t, conn.JS, acked)
	checkDuplicates(t, store, acked)
	t.Logf("total %v", time.Since(begin).Round(time.Millisecond))
}

// makeLeader moves the leadership of the events stream to the node name,
// once all three replicas are current.
func makeLeader(t *testing.T, conn *backbone.Conn, name string) {
	t.Helper()
	poll(t, 15*time.Second, name+" leads "+backbone.EventsStream, func(ctx context.Context) error {
		info, err := replicasCurrent(ctx, conn.JS, 3)
		if err != nil {
			return err
		}
		if info.Cluster.Leader == name {
			return nil
		}
		return stepDown(ctx, conn, name)
	})
}

// stepDown asks the events stream's leader to hand over to preferred. The
// jetstream client has no call for it; this is the API request the nats
// CLI sends.
func stepDown(ctx context.Context, conn *backbone.Conn, preferred string) error {
	req, err := json.Marshal(map[string]any{"placement": map[string]string{"preferred": preferred}})
	if err != nil {
		return err
	}
	msg, err := conn.NC.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+backbone.EventsStream, req)
	if err != nil {
		return fmt.Errorf("step down: %w", err)
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("step down: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("step down: %s", resp.Error.Description)
	}
	// Success means the leader stepped down; the caller polls until the
	// preferred node has taken over.
	return errors.New("leader stepped down, waiting for " + preferred)
}
