package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// runDestinations is plugs destinations: where the tenant's usage events
// are forwarded, and what became of each delivery.
func runDestinations(ctx context.Context, args []string, stdout io.Writer) error {
	return runVerbs(ctx, "destinations", []verb{
		{"list", "list the destinations, oldest first", destinationsList},
		{"get", "get ID: show one destination", destinationsGet},
		{"create", "create a destination: a URL of your billing pipeline and the key deliveries are signed with", destinationsCreate},
		{"delete", "delete ID: delete a destination; events not yet delivered to it are dropped", destinationsDelete},
		{"deliveries", "deliveries ID: the delivery log, newest first", destinationsDeliveries},
		{"dead-letters", "dead-letters ID: the deliveries the destination never took", destinationsDeadLetters},
	}, args, stdout)
}

func destinationsList(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("destinations list", "[flags]", "Lists the tenant's destinations, oldest first, following every page.")
	pageSize := c.pageSize()
	if err := c.parse(args, stdout); err != nil {
		return err
	}
	return callList(ctx, c, stdout, 0,
		func(ctx context.Context, conn *grpc.ClientConn, token string) ([]*plugsv1.Destination, string, error) {
			resp, err := plugsv1.NewDestinationServiceClient(conn).ListDestinations(ctx,
				&plugsv1.ListDestinationsRequest{PageSize: int32(*pageSize), PageToken: token})
			return resp.GetDestinations(), resp.GetNextPageToken(), err
		},
		[]string{"ID", "NAME", "URL", "SIGNATURE", "STATUS", "SOURCES"},
		func(d *plugsv1.Destination) []string {
			return []string{d.GetId(), d.GetDisplayName(), d.GetUrl(), enumWord(d.GetSignatureStyle()), enumWord(d.GetStatus()), routedSources(d)}
		})
}

func destinationsGet(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("destinations get", "ID [flags]", "Shows one destination: its URL, how deliveries are signed and retried, and which sources it takes.")
	if err := c.parse(args, stdout, "ID"); err != nil {
		return err
	}
	return callOne(ctx, c, stdout, func(ctx context.Context, conn *grpc.ClientConn) (*plugsv1.Destination, error) {
		return plugsv1.NewDestinationServiceClient(conn).GetDestination(ctx, &plugsv1.GetDestinationRequest{Id: c.args[0]})
	}, destinationFields)
}

func destinationsCreate(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("destinations create", "--name NAME --url URL --shared-key-file FILE [flags]", `
Creates a destination: usage events of the tenant's sources (or of those
--sources names) are POSTed to --url, signed with the shared key, and
retried until the URL takes them. The key is never shown again, only its
fingerprint.`)
	name := c.fs.String("name", "", "name for people (required)")
	url := c.fs.String("url", "", "where usage events are POSTed; https:// unless the operator allow-lists the host (required)")
	key := c.secret("shared-key", "PLUGS_SHARED_KEY", `key deliveries are signed with: "whsec_" and base64, or at least 16 characters`)
	style := c.fs.String("signature-style", "standard_webhooks", "how deliveries are signed: standard_webhooks or hub")
	header := c.fs.String("signature-header", "", "for --signature-style hub, the header carrying sha256=<hex>; empty means X-Hub-Signature-256")
	sources := c.fs.String("sources", "", "ids of the sources routed here, comma-separated; empty means every source")
	if err := c.parse(args, stdout); err != nil {
		return err
	}
	if *name == "" || *url == "" {
		return usageErr("--name and --url are required (see -h)")
	}
	sharedKey, err := key.get()
	if err != nil {
		return err
	}
	d := &plugsv1.Destination{DisplayName: *name, Url: *url, SharedKey: sharedKey, SignatureHeader: *header, SourceIds: splitList(*sources)}
	switch *style {
	case "standard_webhooks":
		d.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS
	case "hub":
		d.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_HUB
	default:
		return usageErr("--signature-style must be standard_webhooks or hub, not %q", *style)
	}
	return callOne(ctx, c, stdout, func(ctx context.Context, conn *grpc.ClientConn) (*plugsv1.Destination, error) {
		return plugsv1.NewDestinationServiceClient(conn).CreateDestination(ctx, &plugsv1.CreateDestinationRequest{Destination: d})
	}, destinationFields)
}

func destinationsDelete(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("destinations delete", "ID [flags]", "Deletes a destination; events not yet delivered to it are dropped.")
	if err := c.parse(args, stdout, "ID"); err != nil {
		return err
	}
	return callOne(ctx, c, stdout, func(ctx context.Context, conn *grpc.ClientConn) (*emptypb.Empty, error) {
		return plugsv1.NewDestinationServiceClient(conn).DeleteDestination(ctx, &plugsv1.DeleteDestinationRequest{Id: c.args[0]})
	}, deleted("destination", c.args[0]))
}

func destinationsDeliveries(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("destinations deliveries", "ID [flags]", `
Prints the destination's delivery log, newest first: one line per request
made to it, with the attempt number, the status code (0 when no answer
came), the latency, what became of the delivery and the error.`)
	limit := c.fs.Int("limit", 50, "entries to print at most; 0 prints the whole log")
	providerEvent := c.fs.String("provider-event-id", "", "only attempts of this provider event id")
	usageEvent := c.fs.String("usage-event-id", "", "only attempts of this usage event")
	outcome := c.fs.String("outcome", "", "only attempts with this outcome: delivered, retrying or dead_lettered")
	if err := c.parse(args, stdout, "ID"); err != nil {
		return err
	}
	req := &plugsv1.ListDeliveriesRequest{Id: c.args[0], ProviderEventId: *providerEvent, UsageEventId: *usageEvent, PageSize: pageFor(*limit)}
	if *outcome != "" {
		v, ok := plugsv1.DeliveryAttempt_Outcome_value["OUTCOME_"+strings.ToUpper(*outcome)]
		if !ok {
			return usageErr("--outcome must be delivered, retrying or dead_lettered, not %q", *outcome)
		}
		req.Outcome = plugsv1.DeliveryAttempt_Outcome(v)
	}
	return callList(ctx, c, stdout, *limit,
		func(ctx context.Context, conn *grpc.ClientConn, token string) ([]*plugsv1.DeliveryAttempt, string, error) {
			req.PageToken = token
			resp, err := plugsv1.NewDestinationServiceClient(conn).ListDeliveries(ctx, req)
			return resp.GetDeliveries(), resp.GetNextPageToken(), err
		},
		[]string{"TIME", "ATTEMPT", "STATUS", "LATENCY", "OUTCOME", "PROVIDER EVENT", "USAGE EVENT", "ERROR"},
		func(a *plugsv1.DeliveryAttempt) []string {
			outcome := enumWord(a.GetOutcome())
			if next := a.GetNextRetryTime(); next != nil {
				outcome += " (next " + timeCell(next) + ")"
			}
			return []string{timeCell(a.GetAttemptTime()), fmt.Sprint(a.GetAttempt()), fmt.Sprint(a.GetStatusCode()),
				durationCell(a.GetLatency()), outcome, a.GetProviderEventId(), a.GetUsageEventId(), a.GetError()}
		})
}

func destinationsDeadLetters(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("destinations dead-letters", "ID [flags]", `
Prints the destination's dead letters, oldest first: the deliveries it
refused, or that still failed when the retry policy ran out. They are kept
30 days; POST /v1/destinations/{id}/deadLetters:redrive queues them again.`)
	limit := c.fs.Int("limit", 50, "dead letters to print at most; 0 prints them all")
	if err := c.parse(args, stdout, "ID"); err != nil {
		return err
	}
	return callList(ctx, c, stdout, *limit,
		func(ctx context.Context, conn *grpc.ClientConn, token string) ([]*plugsv1.DeadLetter, string, error) {
			resp, err := plugsv1.NewDestinationServiceClient(conn).ListDeadLetters(ctx,
				&plugsv1.ListDeadLettersRequest{Id: c.args[0], PageSize: pageFor(*limit), PageToken: token})
			return resp.GetDeadLetters(), resp.GetNextPageToken(), err
		},
		[]string{"DEAD SINCE", "REASON", "ATTEMPTS", "LAST STATUS", "EVENT TYPE", "PROVIDER EVENT", "USAGE EVENT", "LAST ERROR"},
		func(d *plugsv1.DeadLetter) []string {
			return []string{timeCell(d.GetDeadTime()), enumWord(d.GetReason()), fmt.Sprint(d.GetAttempts()), fmt.Sprint(d.GetLastStatusCode()),
				d.GetEventType(), d.GetProviderEventId(), d.GetUsageEventId(), d.GetLastError()}
		})
}

// pageFor is the page size for printing at most limit items (0: all).
func pageFor(limit int) int32 {
	if limit <= 0 || limit > 1000 {
		return 1000
	}
	return int32(limit)
}

// routedSources is the SOURCES cell: all, or the ids routed.
func routedSources(d *plugsv1.Destination) string {
	if len(d.GetSourceIds()) == 0 {
		return "all"
	}
	return strings.Join(d.GetSourceIds(), ",")
}

// destinationFields are the lines of one destination's table.
func destinationFields(d *plugsv1.Destination) []field {
	signature := enumWord(d.GetSignatureStyle())
	if d.GetSignatureHeader() != "" {
		signature += " (" + d.GetSignatureHeader() + ")"
	}
	rp := d.GetRetryPolicy()
	retry := "default (30 attempts over at most 80h)"
	if rp != nil {
		retry = fmt.Sprintf("max attempts %s, initial backoff %s, max backoff %s, max age %s",
			orDefault(fmt.Sprint(rp.GetMaxAttempts()), "0"), orDefault(durationCell(rp.GetInitialBackoff()), ""),
			orDefault(durationCell(rp.GetMaxBackoff()), ""), orDefault(durationCell(rp.GetMaxAge()), ""))
	}
	return []field{
		{"id", d.GetId()},
		{"name", d.GetDisplayName()},
		{"url", d.GetUrl()},
		{"status", enumWord(d.GetStatus())},
		{"signature", signature},
		{"shared key", d.GetSharedKeyFingerprint()},
		{"sources", routedSources(d)},
		{"retry policy", retry},
		{"timeout", durationCell(d.GetTimeout())},
		{"max concurrency", fmt.Sprint(d.GetMaxConcurrency())},
		{"revision", fmt.Sprint(d.GetRevision())},
		{"created", timeCell(d.GetCreateTime())},
		{"updated", timeCell(d.GetUpdateTime())},
	}
}

// orDefault is s, or "default" when s is unset.
func orDefault(s, unset string) string {
	if s == unset {
		return "default"
	}
	return s
}
