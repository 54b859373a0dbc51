package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// Template is the provider template every load source uses: Stripe's
// scheme (HMAC-SHA256 of "{t}.{body}", hex, in Stripe-Signature) is the one
// most webhooks Plugs receives are signed with, and the bare handler checks
// the same.
const Template = "stripe"

// Endpoint is one source as the sender sees it.
type Endpoint struct {
	// URL is the full ingest URL of the source.
	URL    string
	Secret string
}

// Webhooks makes signed ~2 KB Stripe-style invoice.paid events, each with a
// provider event id unique to the run, round-robin over its endpoints.
type Webhooks struct {
	Endpoints []Endpoint
	// Run makes event ids unique across runs against the same
	// installation, whose dedup window would otherwise drop them.
	Run    string
	scheme *plugsv1.SignatureScheme
}

// NewWebhooks signs with the built-in Stripe template's scheme.
func NewWebhooks(run string, endpoints ...Endpoint) (*Webhooks, error) {
	catalog, err := templates.Builtin()
	if err != nil {
		return nil, fmt.Errorf("loadtest: templates: %w", err)
	}
	tpl, err := catalog.Get(Template)
	if err != nil {
		return nil, fmt.Errorf("loadtest: template %s: %w", Template, err)
	}
	return &Webhooks{Endpoints: endpoints, Run: run, scheme: tpl.GetSignatureScheme()}, nil
}

// EventID is the provider event id of request seq in phase.
func (w *Webhooks) EventID(phase string, seq int64) string {
	return "evt_" + w.Run + "_" + phase + "_" + strconv.FormatInt(seq, 10)
}

// NewRequest returns request seq of phase, signed now with verify.Sign (the
// code Plugs' own test events are signed with), and its provider event id.
func (w *Webhooks) NewRequest(ctx context.Context, phase string, seq int64) (*http.Request, string, error) {
	ep := w.Endpoints[seq%int64(len(w.Endpoints))]
	id := w.EventID(phase, seq)
	now := time.Now()
	body := invoicePaid(id, seq, now)
	signed, err := verify.Sign(w.scheme, ep.Secret, verify.Message{
		Method: http.MethodPost, URL: ep.URL, ContentType: "application/json", Body: body,
	}, now)
	if err != nil {
		return nil, "", fmt.Errorf("loadtest: sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, signed.URL, bytes.NewReader(signed.Body))
	if err != nil {
		return nil, "", fmt.Errorf("loadtest: request: %w", err)
	}
	req.Header = signed.Header
	return req, id, nil
}

// lineItems is the constant middle of every body: nine invoice lines, as a
// real invoice.paid carries, which bring the event to about 2 KB.
var lineItems = func() string {
	var b strings.Builder
	for i := range 9 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"il_1NG8Dt2eZvKYlo2C%04d","object":"line_item","amount":2000,"currency":"usd",`+
			`"description":"1 × Pro plan (at $20.00 / month)","quantity":1,"period":{"start":1686089970,"end":1688681970}}`, i)
	}
	return b.String()
}()

// invoicePaid is a Stripe-like invoice.paid event with the given id.
func invoicePaid(id string, seq int64, now time.Time) []byte {
	b := make([]byte, 0, 2300)
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","object":"event","api_version":"2023-10-16","created":`...)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, `,"data":{"object":{"id":"in_1NG8Dt2eZvKYlo2C","object":"invoice","customer":"cus_load`...)
	b = strconv.AppendInt(b, seq%1000, 10)
	b = append(b, `","amount_paid":2000,"currency":"usd","lines":{"object":"list","data":[`...)
	b = append(b, lineItems...)
	b = append(b, `]}}},"livemode":false,"pending_webhooks":1,"request":{"id":"req_ab12cd34","idempotency_key":"6e8f1c2a"},"type":"invoice.paid"}`...)
	return b
}

// runID is a short random id naming one run in event ids and secrets.
func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
