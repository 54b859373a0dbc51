package pipeline_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// BenchmarkBatchVerifySplitMap is the receiver's work for a GoCardless
// webhook of 50 events once the body is read: verify the HMAC of the
// whole body, split it into its items in one pass, read the envelope, and
// filter and map each item to a usage event of its own.
func BenchmarkBatchVerifySplitMap(b *testing.B) {
	tpl, err := templates.MustBuiltin().Get("gocardless")
	if err != nil {
		b.Fatal(err)
	}
	store := batchStore(b, tpl.GetFieldMappings(), &plugsv1.EventFilter{EventTypes: []string{"confirmed", "paid_out"}})
	src := store.Load().Source(batchSourceID)
	body := batchBody(50)
	now := time.Now()
	signed, err := verify.Sign(batchScheme, batchSecret, verify.Message{Body: body, ContentType: "application/json"}, now)
	if err != nil {
		b.Fatal(err)
	}
	header := http.Header(signed.Header)
	var doc payload.Doc
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		doc.Reset(body, "application/json")
		req := verify.Request{Method: "POST", Header: header, Body: &doc}
		if err := src.Verifier.Verify(&req, verify.Options{Now: now}); err != nil {
			b.Fatal(err)
		}
		in := mapping.Input{Body: &doc, Header: header, ReceiveTime: now}
		items, err := src.Mapper.Split(in)
		if err != nil {
			b.Fatal(err)
		}
		if len(items.Items) != 50 {
			b.Fatalf("%d items", len(items.Items))
		}
		for i := range items.Items {
			ev := plugsv1.UsageEvent{}
			if _, err := src.Mapper.MapItem(items, i, in, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
}
