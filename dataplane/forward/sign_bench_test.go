package forward

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// benchEvent is a usage event as the Stripe template maps an invoice.paid.
func benchEvent() *plugsv1.UsageEvent {
	t := timestamppb.New(time.Unix(1700000000, 0))
	return &plugsv1.UsageEvent{
		Id: "0192d1a0-7c3e-7000-8000-0123456789ab", TenantId: "0192d1a0-0000-7000-8000-00000000000a",
		SourceId: "0192d1a0-0000-7000-8000-000000000001", MetricId: "invoices",
		EventId: "evt_1NG8Du2eZvKYlo2CUI79vXWy", EventType: "invoice.paid", CustomerId: "cus_NffrFeUfNV2Hib",
		Quantity: "1", EventTime: t, ReceiveTime: t,
	}
}

// BenchmarkSignDelivery is a delivery attempt's own work before the
// request goes out: encode the usage event as a CloudEvent and sign the
// body, in each signature style. Encode is the encoding alone; BareHMAC is
// the HMAC-SHA256 of the same body alone, the least any signed delivery
// costs.
func BenchmarkSignDelivery(b *testing.B) {
	ev := benchEvent()
	now := time.Unix(1700000000, 0)
	for _, c := range []struct {
		name  string
		style plugsv1.Destination_SignatureStyle
	}{{"StandardWebhooks", plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS}, {"Hub", plugsv1.Destination_SIGNATURE_STYLE_HUB}} {
		b.Run(c.name, func(b *testing.B) {
			d, err := compile(&plugsv1.DestinationConfig{Id: "d1", TenantId: "t1", Url: "https://billing.example.com/usage",
				SharedKey: []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), SignatureStyle: c.style})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				body, err := encodeCloudEvent(ev, ev.GetId())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.signer.Sign(ev.GetId(), now, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeCloudEvent(ev, ev.GetId()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("BareHMAC", func(b *testing.B) {
		body, err := encodeCloudEvent(ev, ev.GetId())
		if err != nil {
			b.Fatal(err)
		}
		key := []byte("0123456789abcdef0123456789abcdef")
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(body)
			_ = m.Sum(nil)
		}
	})
}
