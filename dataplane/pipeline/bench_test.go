package pipeline_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/snapshot"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

const benchSecret = "whsec_benchmark_secret_0123456789"

// stripeEvent is a 2 KB Stripe-like invoice.paid event.
func stripeEvent() []byte {
	var lines strings.Builder
	for i := range 9 {
		if i > 0 {
			lines.WriteByte(',')
		}
		fmt.Fprintf(&lines, `{"id":"il_1NG8Dt2eZvKYlo2C%04d","object":"line_item","amount":2000,"currency":"usd","description":"1 × Pro plan (at $20.00 / month)","quantity":1,"period":{"start":1686089970,"end":1688681970}}`, i)
	}
	body := `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2023-10-16","created":1686089970,` +
		`"data":{"object":{"id":"in_1NG8Dt2eZvKYlo2C","object":"invoice","customer":"cus_NffrFeUfNV2Hib","amount_paid":2000,"currency":"usd",` +
		`"lines":{"object":"list","data":[` + lines.String() + `]}}},"livemode":false,"pending_webhooks":1,` +
		`"request":{"id":"req_ab12cd34","idempotency_key":"6e8f1c2a"},"type":"invoice.paid"}`
	return []byte(body)
}

type benchSource struct {
	src    *snapshot.Source
	body   []byte
	header http.Header
	now    time.Time
}

func newBenchSource(b *testing.B) benchSource {
	tpl, err := templates.MustBuiltin().Get("stripe")
	if err != nil {
		b.Fatal(err)
	}
	sc := &plugsv1.SourceConfig{
		Id: "0192d1a0-0000-7000-8000-000000000001", TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
		EventFilter: &plugsv1.EventFilter{EventTypes: []string{"customer.subscription.*", "invoice.*"}},
		Secrets:     []*plugsv1.SigningSecret{{Id: "s", Value: []byte(benchSecret)}},
	}
	src, err := snapshot.Compile(sc)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	body := stripeEvent()
	signed, err := verify.Sign(tpl.GetSignatureScheme(), benchSecret, verify.Message{Body: body, ContentType: "application/json"}, now)
	if err != nil {
		b.Fatal(err)
	}
	return benchSource{src: src, body: body, header: signed.Header, now: now}
}

// BenchmarkVerifyFilterMap is the receiver's work for one webhook once the
// body is read: verify the Stripe signature of a 2 KB event, apply a type
// filter and map it to a usage event.
func BenchmarkVerifyFilterMap(b *testing.B) {
	bs := newBenchSource(b)
	var doc payload.Doc
	b.SetBytes(int64(len(bs.body)))
	b.ReportAllocs()
	for b.Loop() {
		doc.Reset(bs.body, "application/json")
		req := verify.Request{Method: "POST", Header: bs.header, Body: &doc}
		if err := bs.src.Verifier.Verify(&req, verify.Options{Now: bs.now}); err != nil {
			b.Fatal(err)
		}
		ev := plugsv1.UsageEvent{}
		if _, err := bs.src.Mapper.Map(mapping.Input{Body: &doc, Header: bs.header, ReceiveTime: bs.now}, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareHMAC is the baseline measured in the same run: what a
// hand-written handler for this one provider does at least, an HMAC-SHA256
// of "{t}.{body}" compared with the header's hex signature.
func BenchmarkBareHMAC(b *testing.B) {
	bs := newBenchSource(b)
	sig := bs.header.Get("Stripe-Signature")
	ts, v1, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
	key := []byte(benchSecret)
	b.SetBytes(int64(len(bs.body)))
	b.ReportAllocs()
	for b.Loop() {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(ts))
		mac.Write([]byte("."))
		mac.Write(bs.body)
		want, _ := hex.DecodeString(v1)
		if !hmac.Equal(mac.Sum(nil), want) {
			b.Fatal("mismatch")
		}
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Enqueue(context.Context, *plugsv1.UsageEvent) (bool, error) { return false, nil }

// BenchmarkHandle is the whole pipeline for one webhook, body read and
// event id included, with a sink that keeps nothing.
func BenchmarkHandle(b *testing.B) {
	bs := newBenchSource(b)
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{bs.src.Config}, nil)
	if err != nil {
		b.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	p := pipeline.New(store, discard{}, pipeline.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var r bytes.Reader
	b.SetBytes(int64(len(bs.body)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(bs.body)
		res := p.Handle(context.Background(), &pipeline.Request{
			SourceID: bs.src.Config.GetId(), Method: "POST", Header: bs.header, Body: &r,
			ContentLength: int64(len(bs.body)), ReceiveTime: bs.now,
		})
		if res.Outcome != pipeline.Accepted {
			b.Fatal(res.Outcome, res.Cause, res.Detail)
		}
	}
}

// BenchmarkVerifyFilterMapSpread is BenchmarkVerifyFilterMap with the
// requests spread round-robin over many sources, each with its own secret:
// what a data plane holding 10,000 active sources does per webhook, each
// source's verifier state cold when its next request comes.
func BenchmarkVerifyFilterMapSpread(b *testing.B) {
	for _, n := range []int{1, 10_000} {
		b.Run(fmt.Sprintf("sources=%d", n), func(b *testing.B) {
			tpl, err := templates.MustBuiltin().Get("stripe")
			if err != nil {
				b.Fatal(err)
			}
			now := time.Unix(1700000000, 0)
			body := stripeEvent()
			srcs := make([]*snapshot.Source, n)
			headers := make([]http.Header, n)
			for i := range srcs {
				secret := fmt.Sprintf("whsec_bench_%08d", i)
				sc := &plugsv1.SourceConfig{
					Id: fmt.Sprintf("0192d1a0-0000-7000-8000-%012d", i), TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
					SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
					EventFilter: &plugsv1.EventFilter{EventTypes: []string{"customer.subscription.*", "invoice.*"}},
					Secrets:     []*plugsv1.SigningSecret{{Id: "s", Value: []byte(secret)}},
				}
				if srcs[i], err = snapshot.Compile(sc); err != nil {
					b.Fatal(err)
				}
				signed, err := verify.Sign(tpl.GetSignatureScheme(), secret, verify.Message{Body: body, ContentType: "application/json"}, now)
				if err != nil {
					b.Fatal(err)
				}
				headers[i] = signed.Header
			}
			var doc payload.Doc
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				src, h := srcs[i], headers[i]
				if i++; i == n {
					i = 0
				}
				doc.Reset(body, "application/json")
				req := verify.Request{Method: "POST", Header: h, Body: &doc}
				if err := src.Verifier.Verify(&req, verify.Options{Now: now}); err != nil {
					b.Fatal(err)
				}
				ev := plugsv1.UsageEvent{}
				if _, err := src.Mapper.Map(mapping.Input{Body: &doc, Header: h, ReceiveTime: now}, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
