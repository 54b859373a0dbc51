package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// runSendTest asks the control plane to send a test event to a source
// through the real ingest endpoint, and prints what became of it. It fails
// when the ingest endpoint did not answer 2xx, so scripts can check a
// source with it.
func runSendTest(ctx context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("send-test", "--source ID [--body FILE] [flags]", `
Sends the source's template sample payload, with a fresh event id and signed
with the source's current secret as the provider signs, through the real
ingest endpoint, and prints the answer and the receipt: status, receipt id,
outcome and cause.`)
	var api apiFlags
	api.register(cl.settings)
	sourceID := cl.own.String("source", "", "id of the source to send to")
	bodyFile := cl.own.String("body", "", "file holding a body to send instead of the sample payload (its event id is kept)")
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	if *sourceID == "" {
		return usageErr("--source is required")
	}
	var body []byte
	if *bodyFile != "" {
		var err error
		if body, err = os.ReadFile(*bodyFile); err != nil {
			return err
		}
	}
	conn, ctx, err := api.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := plugsv1.NewSourceServiceClient(conn).SendTestEvent(ctx, &plugsv1.SendTestEventRequest{Id: *sourceID, Body: body})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "status     %d %s\n", resp.GetStatusCode(), strings.TrimSpace(resp.GetResponseBody()))
	fmt.Fprintf(stdout, "event id   %s\n", orDash(resp.GetProviderEventId()))
	fmt.Fprintf(stdout, "receipt    %s\n", orDash(resp.GetReceiptId()))
	switch rc := resp.GetReceipt(); {
	case rc != nil:
		fmt.Fprintf(stdout, "outcome    %s\n", outcomeName(rc.GetOutcome()))
		cause := orDash(rc.GetCause())
		if rc.GetField() != "" {
			cause += " (field " + rc.GetField() + ")"
		}
		fmt.Fprintf(stdout, "cause      %s\n", cause)
	case resp.GetReceiptId() != "":
		fmt.Fprintf(stdout, "outcome    not indexed yet: plugs receipts tail --source %s shows it\n", *sourceID)
	}
	if c := resp.GetStatusCode(); c < 200 || c > 299 {
		return fmt.Errorf("the ingest endpoint answered %d", c)
	}
	return nil
}

// outcomeName is an outcome as the ingest contract names it: "accepted".
func outcomeName(o plugsv1.Receipt_Outcome) string {
	return strings.ToLower(strings.TrimPrefix(o.String(), "OUTCOME_"))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
