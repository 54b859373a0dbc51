package main

import (
	"context"
	"strings"
	"testing"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// plugs receipts tail prints the receipts already there, then each new one
// once, until interrupted.
func TestReceiptsTail(t *testing.T) {
	d := startDev(t)
	src := d.source(t, &plugsv1.Source{DisplayName: "stripe", TemplateId: "stripe", MetricId: "m", Secret: "whsec_0123456789abcdefghijklmnop"})
	before, err := d.sendTest(t, src)
	if err != nil {
		t.Fatalf("%v\n%s", err, before)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runReceipts(ctx, []string{"tail", "--server", d.grpcAddr, "--data-dir", d.dataDir, "--source", src, "--interval", "100ms"}, out)
	}()
	var after string
	for range 3 {
		if after, err = d.sendTest(t, src); err != nil {
			t.Fatalf("%v\n%s", err, after)
		}
	}
	ids := []string{receiptLine.FindStringSubmatch(before)[1], receiptLine.FindStringSubmatch(after)[1]}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), ids[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("the new receipt was not printed:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4 (one per receipt):\n%s", len(lines), out.String())
	}
	for i, id := range ids {
		if strings.Count(out.String(), id) != 1 {
			t.Errorf("receipt %d printed %d times", i, strings.Count(out.String(), id))
		}
	}
	if !strings.HasSuffix(lines[0], ids[0]) || !strings.Contains(lines[0], " accepted ") || !strings.Contains(lines[0], " invoice.paid ") ||
		!strings.Contains(lines[0], " evt_test_") || !strings.Contains(lines[0], " 200  ") {
		t.Errorf("first line %q", lines[0])
	}

	if err := runReceipts(ctx, []string{"follow"}, out); err == nil {
		t.Error("an unknown subcommand was accepted")
	}
}
