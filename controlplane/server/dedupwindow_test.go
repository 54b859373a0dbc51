package server_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A dedup window shorter than the time a signed request stays fresh lets
// the same captured request be accepted twice (Stripe: tolerance 300 s, so
// bytes first seen at 0 s still verify at +70 s after a 60 s window forgot
// their id). Such windows are refused, on create and on every update that
// would leave one: a shorter window, a longer tolerance, another template's
// scheme.
func TestDedupWindowCoversSignatureTolerance(t *testing.T) {
	e := startEnv(t, "sqlite")
	ctx := as(e.keyA)
	stripe := func(window time.Duration) *plugsv1.CreateSourceRequest {
		req := newSource("stripe", secretA)
		req.Source.DedupWindow = durationpb.New(window)
		return req
	}
	// Twice Stripe's 300 s tolerance, plus a minute for clocks.
	least := 11 * time.Minute
	for _, w := range []time.Duration{time.Minute, 5 * time.Minute, least - time.Second} {
		_, err := e.sources().CreateSource(ctx, stripe(w))
		if d := fieldViolations(t, err)["source.dedup_window"]; !strings.Contains(d, "at least 11m0s") {
			t.Fatalf("window %s: violation %q", w, d)
		}
	}
	src, err := e.sources().CreateSource(ctx, stripe(least))
	if err != nil {
		t.Fatalf("window of %s refused: %v", least, err)
	}
	update := func(s *plugsv1.Source, paths ...string) error {
		s.Id = src.GetId()
		_, err := e.sources().UpdateSource(ctx, &plugsv1.UpdateSourceRequest{Source: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		return err
	}
	if err := update(&plugsv1.Source{DedupWindow: durationpb.New(10 * time.Minute)}, "dedup_window"); fieldViolations(t, err)["source.dedup_window"] == "" {
		t.Fatal("window shortened below the tolerance")
	}
	err = update(&plugsv1.Source{SignatureScheme: &plugsv1.SignatureScheme{Tolerance: durationpb.New(10 * time.Minute)}}, "signature_scheme.tolerance")
	if d := fieldViolations(t, err)["source.dedup_window"]; !strings.Contains(d, "at least 21m0s") {
		t.Fatalf("tolerance raised past the window: %q", d)
	}
	if err := update(&plugsv1.Source{DisplayName: "renamed"}, "display_name"); err != nil {
		t.Fatalf("an unrelated change refused: %v", err)
	}

	// A scheme without a timestamp never goes stale: the minimum window
	// applies, and a change to a template with one is held to its rule.
	gh, err := e.sources().CreateSource(ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "github", TemplateId: "github", Secret: secretA, DedupWindow: durationpb.New(2 * time.Minute),
	}})
	if err != nil {
		t.Fatalf("github source with a 2 min window: %v", err)
	}
	_, err = e.sources().UpdateSource(ctx, &plugsv1.UpdateSourceRequest{
		Source:     &plugsv1.Source{Id: gh.GetId(), TemplateId: "stripe"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"template_id", "signature_scheme"}},
	})
	if d := fieldViolations(t, err)["source.dedup_window"]; !strings.Contains(d, "at least 11m0s") {
		t.Fatalf("template change to stripe with a 2 min window: %q", d)
	}

	// REST answers 400 with the same field violation.
	code, body := e.rest("POST", "/v1/sources", e.keyA, `{"displayName":"x","templateId":"stripe","secret":"`+secretA+`","dedupWindow":"60s"}`)
	if code != 400 || !strings.Contains(string(body), "source.dedup_window") {
		t.Fatalf("REST: %d %s", code, body)
	}
}
