package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/plugshq/plugs/consumer"
	"github.com/plugshq/plugs/controlplane/secrets"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/listen"
)

// runListen is plugs listen: a tenant's webhooks, as they are accepted,
// posted to a URL on this machine.
func runListen(ctx context.Context, args []string, stdout io.Writer) error {
	cl := newCommandLine("listen", "[--source ID]... [--forward-to URL] [--raw] [flags]", `
Follows the tenant's sources (those --source names, or every one) and, as
each webhook is accepted, posts it to --forward-to signed exactly as a
destination's delivery is: the usage event as a CloudEvent, or with --raw
the request the provider sent (headers and body from its receipt, with
credential headers such as Authorization redacted), plus Plugs' signature
of the body under the usage event's id. One line per webhook: receive
time, source, event type, provider event id, and the local URL's status and
latency. This machine dials out with the API key and needs no inbound port;
a broken stream is resumed where it was, without losing or repeating a
webhook. Ctrl-C stops it.

Deliveries are signed with a session key printed at the start, unless
--shared-key-file (or --shared-key, PLUGS_SHARED_KEY) gives one; with
--destination the key must be that destination's (its fingerprint is
checked) and its signature style is used.`)
	var api apiFlags
	api.register(cl.settings)
	own := cl.own
	var sources listFlag
	own.Var(&sources, "source", "id of a source to follow; repeat it or separate ids with commas; none follows every source")
	forwardTo := own.String("forward-to", "", "local URL each webhook is POSTed to; empty only prints them")
	raw := own.Bool("raw", false, "post the request the provider sent instead of the usage event")
	destination := own.String("destination", "", "sign with this destination's key and style (give its key with --shared-key-file)")
	key := &secretFlag{name: "shared-key", env: "PLUGS_SHARED_KEY"}
	own.StringVar(&key.value, "shared-key", "", `key to sign with: "whsec_" and base64, or at least 16 characters; visible to other users in ps, so prefer --shared-key-file or PLUGS_SHARED_KEY`)
	own.StringVar(&key.file, "shared-key-file", "", "file holding the shared-key (a trailing newline is not part of it)")
	style := own.String("signature-style", "standard_webhooks", "how to sign without --destination: standard_webhooks or hub")
	header := own.String("signature-header", "", "for --signature-style hub, the header carrying sha256=<hex>; empty means X-Hub-Signature-256")
	timeout := own.Duration("timeout", listen.DefaultTimeout, "how long the local URL may take to answer")
	if err := cl.parse(args, stdout); err != nil {
		return err
	}
	if *forwardTo != "" {
		u, err := url.Parse(*forwardTo)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErr("--forward-to must be an http:// or https:// URL, not %q", *forwardTo)
		}
	}
	if *timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	sharedKey, err := key.get()
	if err != nil {
		return err
	}
	signer := &consumer.Signer{Key: sharedKey, Header: *header}
	explicitStyle := *style != "standard_webhooks" || *header != ""
	switch {
	case *destination != "" && explicitStyle:
		return usageErr("--signature-style and --signature-header come from the destination; give one or the other")
	case *destination != "" && sharedKey == "":
		return usageErr("--destination needs the destination's shared key (--shared-key-file, --shared-key or PLUGS_SHARED_KEY): Plugs never returns it")
	case *style == "hub":
		signer.Style = consumer.Hub
	case *style != "standard_webhooks":
		return usageErr("--signature-style must be standard_webhooks or hub, not %q", *style)
	}

	conn, ctx, err := api.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	how := ""
	switch {
	case *destination != "":
		d, err := plugsv1.NewDestinationServiceClient(conn).GetDestination(ctx, &plugsv1.GetDestinationRequest{Id: *destination})
		if err != nil {
			return apiErr(err)
		}
		if fp := secrets.Fingerprint([]byte(sharedKey)); fp != d.GetSharedKeyFingerprint() {
			return usageErr("the key given is not destination %s's: its fingerprint is %s, the destination's %s", d.GetId(), fp, d.GetSharedKeyFingerprint())
		}
		signer.Style, signer.Header = consumer.StandardWebhooks, ""
		if d.GetSignatureStyle() == plugsv1.Destination_SIGNATURE_STYLE_HUB {
			signer.Style, signer.Header = consumer.Hub, d.GetSignatureHeader()
		}
		how = fmt.Sprintf("with the key of destination %s (%s)", d.GetId(), d.GetSharedKeyFingerprint())
	case sharedKey != "":
		how = "with the key given (" + secrets.Fingerprint([]byte(sharedKey)) + ")"
	default:
		signer.Key = sessionKey()
		how = "with the session key " + signer.Key
	}
	// Refuse a key no receiver could verify against before the stream
	// opens, rather than at every webhook.
	if _, err := signer.Sign("check", time.Unix(0, 0), nil); err != nil {
		return usageErr("the shared key cannot sign: %v", err)
	}
	if *forwardTo != "" {
		fmt.Fprintf(stdout, "Signing as a destination (%s) %s\n", signatureName(signer), how)
	}
	return apiErr((&listen.Client{
		Conn: conn, SourceIDs: sources, Raw: *raw, ForwardTo: *forwardTo, Signer: signer, Out: stdout,
		HTTP: &http.Client{
			Timeout:       *timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}).Run(ctx))
}

// sessionKey is a fresh Standard Webhooks key: "whsec_" and 32 random
// bytes in base64.
func sessionKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// signatureName says which headers a signer writes.
func signatureName(s *consumer.Signer) string {
	if s.Style == consumer.Hub {
		return "hub style: " + http.CanonicalHeaderKey(cmp.Or(s.Header, consumer.DefaultHubHeader))
	}
	return "Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature"
}

// listFlag collects a repeated flag whose values may also be
// comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}
