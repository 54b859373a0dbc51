package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// syncBuffer is a bytes.Buffer a command writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// devRun is a plugs dev running in the test process on free ports.
type devRun struct {
	dataDir, grpcAddr string
	sources           plugsv1.SourceServiceClient
	ctx               context.Context // carries the dev API key
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func startDev(t *testing.T) *devRun {
	t.Helper()
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { slog.SetDefault(prev) })
	dir := t.TempDir()
	d := &devRun{dataDir: dir, grpcAddr: "127.0.0.1:" + freePort(t)}
	ingest := "127.0.0.1:" + freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"--data-dir", dir, "--grpc-addr", d.grpcAddr, "--http-addr", "127.0.0.1:" + freePort(t),
			"--ingest-addr", ingest, "--nats-port", "-1"}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("plugs dev: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + ingest + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("plugs dev stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("plugs dev not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	key, err := os.ReadFile(filepath.Join(dir, devKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d.sources = plugsv1.NewSourceServiceClient(conn)
	d.ctx = metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+strings.TrimSpace(string(key)))
	return d
}

// source creates a source on the dev control plane and waits until its
// data plane serves it.
func (d *devRun) source(t *testing.T, src *plugsv1.Source) string {
	t.Helper()
	created, err := d.sources.CreateSource(d.ctx, &plugsv1.CreateSourceRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	return created.GetId()
}

// sendTest runs plugs send-test against the dev control plane, retrying
// while its data plane has not loaded the source yet.
func (d *devRun) sendTest(t *testing.T, source string) (string, error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out bytes.Buffer
		err := runSendTest(context.Background(), []string{"--server", d.grpcAddr, "--data-dir", d.dataDir, "--source", source}, &out)
		if !strings.Contains(out.String(), "status     404") || time.Now().After(deadline) {
			return out.String(), err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var receiptLine = regexp.MustCompile(`(?m)^receipt    ([0-9a-f-]{36})$`)

// plugs send-test, with the key plugs dev saved, sends a test event and
// prints its status, receipt, outcome and cause; a refused event fails the
// command.
func TestSendTestCommand(t *testing.T) {
	d := startDev(t)
	src := d.source(t, &plugsv1.Source{DisplayName: "stripe", TemplateId: "stripe", MetricId: "m", Secret: "whsec_0123456789abcdefghijklmnop"})
	out, err := d.sendTest(t, src)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"status     200 {\"received\":true}", "event id   evt_test_", "outcome    accepted", "cause      -"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !receiptLine.MatchString(out) {
		t.Errorf("no receipt id:\n%s", out)
	}

	// A quantity the sample lacks, required: the data plane answers 422.
	strict := d.source(t, &plugsv1.Source{DisplayName: "strict", TemplateId: "stripe", MetricId: "m", Secret: "whsec_0123456789abcdefghijklmnop",
		FieldMappings: &plugsv1.FieldMappings{
			EventId:   &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.id"}, Required: true},
			EventType: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.type"}, Required: true},
			Quantity:  &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.data.object.seats"}, Required: true},
		}})
	out, err = d.sendTest(t, strict)
	if err == nil || !strings.Contains(out, "status     422") || !strings.Contains(out, "outcome    rejected") ||
		!strings.Contains(out, "cause      mapping_failed (field quantity)") {
		t.Fatalf("mapping failure: %v\n%s", err, out)
	}

	var none bytes.Buffer
	err = runSendTest(context.Background(), []string{"--server", d.grpcAddr, "--data-dir", t.TempDir(), "--source", src}, &none)
	if !errors.Is(err, errUsage) {
		t.Fatalf("without a key: %v", err)
	}
}
