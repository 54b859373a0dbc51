package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// tailOverlap is how far before the newest receipt seen each poll looks
// again: a receipt indexed late (from a data plane whose receipts were
// slow to reach the backbone) still shows, once, if it is within it.
const tailOverlap = 30 * time.Second

func runReceipts(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "tail" {
		return runVerbs(ctx, "receipts", []verb{{"tail", "follow a source's receipts as they arrive",
			func(ctx context.Context, args []string, stdout io.Writer) error {
				return runReceipts(ctx, append([]string{"tail"}, args...), stdout)
			}}}, args, stdout)
	}
	cl := newCommandLine("receipts tail", "--source ID [-n N] [--interval D] [flags]", `
Prints the source's last N receipts, then each new one as the control plane
indexes it, until interrupted. One line per receipt: receive time, outcome,
cause, event type, provider event id, HTTP status and receipt id (for
GET /v1/receipts/{id} and POST /v1/receipts/{id}:replay).`)
	var api apiFlags
	api.register(cl.settings)
	sourceID := cl.own.String("source", "", "id of the source to follow")
	last := cl.own.Int("n", 10, "receipts already indexed to print first")
	interval := cl.own.Duration("interval", time.Second, "how often to ask for new receipts")
	if err := cl.parse(args[1:], stdout); err != nil {
		return err
	}
	if *sourceID == "" {
		return usageErr("--source is required")
	}
	if *interval < 100*time.Millisecond {
		return usageErr("--interval must be at least 100ms")
	}
	conn, ctx, err := api.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	t := &tail{client: plugsv1.NewReceiptServiceClient(conn), source: *sourceID, seen: map[string]time.Time{}}
	fresh, err := t.poll(ctx)
	if err != nil {
		return err
	}
	for _, r := range fresh[max(0, len(fresh)-*last):] {
		printReceipt(stdout, r)
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
		fresh, err := t.poll(ctx)
		switch status.Code(err) {
		case codes.OK:
			if failing {
				slog.Info("the control plane answers again")
			}
			failing = false
		case codes.Unavailable, codes.DeadlineExceeded, codes.Internal:
			// A restarting control plane: keep following.
			if !failing {
				slog.Warn("cannot list receipts; retrying", "error", err)
			}
			failing = true
			continue
		default:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, r := range fresh {
			printReceipt(stdout, r)
		}
	}
}

// tail follows a source's receipts: each poll lists those received since
// shortly before the newest seen, and keeps the ones not seen yet.
type tail struct {
	client plugsv1.ReceiptServiceClient
	source string
	// seen holds the ids of receipts within tailOverlap of newest, the
	// ones a poll can return again.
	seen   map[string]time.Time
	newest time.Time
}

// poll returns the receipts not seen before, oldest first. The first poll
// reads one page of the newest.
func (t *tail) poll(ctx context.Context) ([]*plugsv1.Receipt, error) {
	req := &plugsv1.ListReceiptsRequest{SourceId: t.source, PageSize: 100}
	first := t.newest.IsZero()
	if !first {
		req.StartTime = timestamppb.New(t.newest.Add(-tailOverlap))
	}
	var fresh []*plugsv1.Receipt
	for {
		resp, err := t.client.ListReceipts(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, r := range resp.GetReceipts() {
			if _, ok := t.seen[r.GetId()]; !ok {
				t.seen[r.GetId()] = r.GetReceiveTime().AsTime()
				fresh = append(fresh, r)
			}
		}
		if first || resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	slices.SortFunc(fresh, func(a, b *plugsv1.Receipt) int {
		return cmp.Or(a.GetReceiveTime().AsTime().Compare(b.GetReceiveTime().AsTime()), cmp.Compare(a.GetId(), b.GetId()))
	})
	if n := len(fresh); n > 0 {
		if at := fresh[n-1].GetReceiveTime().AsTime(); at.After(t.newest) {
			t.newest = at
		}
	}
	// Receipts before the next poll's start are not listed again.
	for id, at := range t.seen {
		if at.Before(t.newest.Add(-tailOverlap)) {
			delete(t.seen, id)
		}
	}
	return fresh, nil
}

// printReceipt writes one receipt as a line: time, outcome, cause, event
// type, provider event id, status, receipt id.
func printReceipt(w io.Writer, r *plugsv1.Receipt) {
	cause := orDash(r.GetCause())
	if r.GetField() != "" {
		cause += ":" + r.GetField()
	}
	replay := ""
	if r.GetReplay() {
		replay = "  (replay)"
	}
	fmt.Fprintf(w, "%s  %-9s %-22s %-28s %-30s %3d  %s%s\n",
		r.GetReceiveTime().AsTime().UTC().Format("2006-01-02T15:04:05.000Z"), outcomeName(r.GetOutcome()), cause,
		orDash(r.GetEventType()), orDash(r.GetProviderEventId()), r.GetStatusCode(), r.GetId(), replay)
}
