package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/snapshot"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/internal/ratelimit"
	"github.com/plugshq/plugs/templates"
)

// Only requests rejected before they were verified spend the source's
// budget for rejections: a verified webhook that fails its mapping and an
// operator's replay do not. Past the budget the request is answered
// too_many_rejections and recorded nowhere; one already refused by the
// rate limit stays rate_limited. Verified says who got past verification,
// plugs dev's bypass included.
func TestRejectionBudget(t *testing.T) {
	tpl, err := templates.MustBuiltin().Get("stripe")
	if err != nil {
		t.Fatal(err)
	}
	sc := &plugsv1.SourceConfig{
		Id: traceSourceID, TenantId: "t", Status: plugsv1.Source_STATUS_ACTIVE,
		SignatureScheme: tpl.GetSignatureScheme(), FieldMappings: tpl.GetFieldMappings(),
		Secrets:   []*plugsv1.SigningSecret{{Id: "s", Value: []byte(traceSecret)}},
		RateLimit: &plugsv1.RateLimit{RequestsPerSecond: 0.001, Burst: 4},
	}
	cfg, err := snapshot.Build(nil, "1", true, []*plugsv1.SourceConfig{sc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := &snapshot.Store{}
	store.Swap(cfg)
	p := pipeline.New(store, &spanSink{}, pipeline.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		AllowUnverified: true, Limits: ratelimit.New(0, 0), Rejections: ratelimit.NewBudget(1, 1, 0)})
	ctx := context.Background()
	now := time.Now()
	at := func(r *pipeline.Request) *pipeline.Request { r.ReceiveTime = now; return r }

	// The body changed under the signature: rejected unverified, the
	// budget's one.
	tampered := at(webhook(t, traceSecret))
	tampered.Body = bytes.NewReader([]byte(`{"type":"invoice.paid"}`))
	if res := p.Handle(ctx, tampered); res.Cause != pipeline.CauseSignatureInvalid || res.Verified {
		t.Fatalf("tampered: %s %s, verified %v", res.Outcome, res.Cause, res.Verified)
	}
	res := p.Handle(ctx, at(webhook(t, "whsec_someone_else_0000000")))
	if res.Cause != pipeline.CauseTooManyRejections || res.Unrecorded != pipeline.CauseSignatureInvalid || res.RetryAfter != time.Second {
		t.Fatalf("forged past the budget: %s, unrecorded %q, retry after %v", res.Cause, res.Unrecorded, res.RetryAfter)
	}
	replay := at(webhook(t, "whsec_someone_else_0000000"))
	replay.Replay = true
	if res := p.Handle(ctx, replay); res.Cause != pipeline.CauseSignatureInvalid || res.Unrecorded != pipeline.CauseNone {
		t.Fatalf("replay: %s, unrecorded %q", res.Cause, res.Unrecorded)
	}
	bypass := &pipeline.Request{SourceID: traceSourceID, Method: http.MethodPost, SkipVerification: true,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.NewReader([]byte(`{"type":"invoice.paid"}`)),
		ReceiveTime: now}
	if res := p.Handle(ctx, bypass); res.Cause != pipeline.CauseMappingFailed || !res.Verified || res.Unrecorded != pipeline.CauseNone {
		t.Fatalf("verified but unmappable: %s, verified %v, unrecorded %q", res.Cause, res.Verified, res.Unrecorded)
	}
	if res := p.Handle(ctx, at(webhook(t, traceSecret))); res.Outcome != pipeline.Accepted || !res.Verified {
		t.Fatalf("signed: %s %s, verified %v", res.Outcome, res.Cause, res.Verified)
	}
	// The source's rate limit (burst 4; replays are not limited) is spent
	// by now; the next is refused before its body is read and, the
	// rejection budget spent too, keeps its cause but no receipt.
	if res := p.Handle(ctx, at(webhook(t, traceSecret))); res.Cause != pipeline.CauseRateLimited || res.Unrecorded != pipeline.CauseRateLimited {
		t.Fatalf("over the rate limit: %s, unrecorded %q", res.Cause, res.Unrecorded)
	}
}
