package payload

import (
	"strings"
	"testing"
)

// doc2k is a 2 KB Stripe-like event.
var doc2k = []byte(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2023-10-16","created":1686089970,"data":{"object":{"id":"in_1NG8Dt2eZvKYlo2C","object":"invoice","customer":"cus_NffrFeUfNV2Hib","amount_paid":2000,"currency":"usd","lines":{"data":[` +
	strings.Repeat(`{"id":"il_1","amount":2000,"description":"1 x Pro plan","quantity":1,"period":{"start":1686089970,"end":1688681970}},`, 12) +
	`{"id":"il_2"}]}}},"livemode":false,"type":"invoice.paid"}`)

func BenchmarkLookup(b *testing.B) {
	var ps Paths
	for _, p := range []string{"$.id", "$.type", "$.data.object.customer", "$.created", "$.data.object.lines.data[0].quantity"} {
		ps.MustAdd(p)
	}
	out := make([]Value, ps.Len())
	var d Doc
	b.SetBytes(int64(len(doc2k)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset(doc2k, "application/json")
		if err := ps.Lookup(&d, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	b.SetBytes(int64(len(doc2k)))
	b.ReportAllocs()
	var d Doc
	for b.Loop() {
		d.Reset(doc2k, "application/json")
		if err := d.Check(); err != nil {
			b.Fatal(err)
		}
	}
}
