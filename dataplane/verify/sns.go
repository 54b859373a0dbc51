package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Fields AWS SNS signs, in order, per type of message
// (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
var (
	snsNotificationFields = []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	snsConfirmationFields = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
)

// snsStringToSign builds the string an SNS message's signature covers:
// "Name\nvalue\n" for each signed field of the JSON body, in order. Only
// Subject may be absent (and is then left out).
func snsStringToSign(body *payload.Doc) ([]byte, error) {
	data, err := body.Parsed()
	if err != nil {
		return nil, fmt.Errorf("%w: body does not parse: %w", ErrSignatureMalformed, err)
	}
	m, ok := data.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrSignatureMalformed)
	}
	var fields []string
	switch m["Type"] {
	case "Notification":
		fields = snsNotificationFields
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		fields = snsConfirmationFields
	default:
		return nil, fmt.Errorf("%w: Type %v is not an SNS message type", ErrSignatureMalformed, m["Type"])
	}
	var buf []byte
	for _, name := range fields {
		raw, present := m[name]
		if !present && name == "Subject" {
			continue
		}
		val, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("%w: field %s missing or not a string", ErrSignatureMalformed, name)
		}
		buf = append(buf, name...)
		buf = append(buf, '\n')
		buf = append(buf, val...)
		buf = append(buf, '\n')
	}
	return buf, nil
}

// ConfirmSubscription confirms an AWS SNS subscription: when the scheme's
// handshake is HANDSHAKE_AWS_SNS_SUBSCRIPTION and the verified request is a
// SubscriptionConfirmation, it visits the message's SubscribeURL (through
// f's egress-guarded client, only on a host the scheme's certificate URLs
// allow, https only, checked before connecting) and answers the request.
// It returns nil for every other request. Call it only once Verify passed:
// the confirmation then belongs to a topic the source pins.
//
// A confirmation that fails wraps ErrKeyUnavailable, so the request is
// answered 503 and SNS sends it again.
func (v *Verifier) ConfirmSubscription(ctx context.Context, req *Request, f *Fetcher) (*Answer, error) {
	if v.scheme.GetHandshake() != plugsv1.SignatureScheme_HANDSHAKE_AWS_SNS_SUBSCRIPTION || v.pk == nil {
		return nil, nil
	}
	data, err := req.Body.Parsed()
	if err != nil {
		return nil, nil
	}
	m, _ := data.(map[string]any)
	if m["Type"] != "SubscriptionConfirmation" {
		return nil, nil
	}
	raw, _ := m["SubscribeURL"].(string)
	u, err := allowedURL(raw, v.pk.keys.patterns, false)
	if err != nil {
		return nil, fmt.Errorf("%w: SubscribeURL: %w", ErrSignatureInvalid, err)
	}
	if f == nil {
		return nil, &KeyUnavailableError{URL: redact(u), Err: errors.New("this data plane makes no outbound calls for verification"), RetryAfter: time.Minute}
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: SubscribeURL: %w", ErrSignatureInvalid, err)
	}
	hreq.Header.Set("User-Agent", "Plugs")
	resp, err := f.opts.Client.Do(hreq)
	if err != nil {
		return nil, &KeyUnavailableError{URL: redact(u), Err: fmt.Errorf("confirming the subscription: %w", err), RetryAfter: 5 * time.Second}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, &KeyUnavailableError{URL: redact(u), Err: fmt.Errorf("confirming the subscription: answered %s", resp.Status), RetryAfter: 5 * time.Second}
	}
	return jsonAnswer(map[string]string{"confirmed": "true"}), nil
}
