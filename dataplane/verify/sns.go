package verify

import (
	"fmt"

	"github.com/plugshq/plugs/dataplane/payload"
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
