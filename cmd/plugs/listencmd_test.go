package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/consumer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

var sessionKeyLine = regexp.MustCompile(`with the session key (whsec_\S+)`)

// plugs listen against plugs dev: it prints the session key, then posts a
// test event to the local URL signed with it and prints its line.
func TestListenCommand(t *testing.T) {
	d := startDev(t)
	src := d.source(t, &plugsv1.Source{DisplayName: "stripe", TemplateId: "stripe", MetricId: "m", Secret: "whsec_0123456789abcdefghijklmnop"})
	out := &syncBuffer{}
	got := make(chan *consumer.Event, 4)
	var key string
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := (&consumer.Verifier{Key: key}).VerifyRequest(r)
		if err != nil {
			t.Errorf("the forwarded event does not verify with the session key: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got <- ev
		w.WriteHeader(http.StatusAccepted)
	}))
	defer local.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runListen(ctx, []string{"--server", d.grpcAddr, "--data-dir", d.dataDir, "--source", src, "--forward-to", local.URL}, out)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "Ready: ") {
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := sessionKeyLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no session key printed:\n%s", out.String())
	}
	key = m[1]
	if res, err := d.sendTest(t, src); err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	var ev *consumer.Event
	select {
	case ev = <-got:
	case <-time.After(15 * time.Second):
		t.Fatalf("nothing forwarded:\n%s", out.String())
	}
	if !ev.Usage.GetTest() || ev.Usage.GetSourceId() != src || ev.Usage.GetEventType() != "invoice.paid" {
		t.Fatalf("forwarded %v", ev.Usage)
	}
	for !strings.Contains(out.String(), " 202  ") {
		if time.Now().After(deadline) {
			t.Fatalf("no line for the event:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, src) || !strings.Contains(last, " invoice.paid ") || !strings.Contains(last, ev.Usage.GetEventId()) ||
		!strings.Contains(last, "(test)") {
		t.Errorf("line %q", last)
	}

	// A key that is not the destination's is refused before anything is
	// forwarded; a source of no tenant is NOT_FOUND.
	created := &syncBuffer{}
	if err := runDestinations(context.Background(), []string{"create", "--name", "billing", "--url", "http://127.0.0.1:9/usage",
		"--shared-key", "the-right-key-0123456789", "-o", "json", "--server", d.grpcAddr, "--data-dir", d.dataDir}, created); err != nil {
		t.Fatal(err)
	}
	destID := regexp.MustCompile(`"id":\s*"([^"]+)"`).FindStringSubmatch(created.String())[1]
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--destination", destID, "--shared-key", "a-wrong-key-0123456789"}, "is not destination"},
		{[]string{"--destination", destID}, "needs the destination's shared key"},
		{[]string{"--source", "0192d1a0-0000-7000-8000-000000000009"}, "NOT_FOUND"},
		{[]string{"--forward-to", "localhost:3000"}, "must be an http:// or https:// URL"},
	} {
		err := runListen(context.Background(), append([]string{"--server", d.grpcAddr, "--data-dir", d.dataDir}, c.args...), &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
