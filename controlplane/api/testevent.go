package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpreceipts "github.com/plugshq/plugs/controlplane/receipts"
	"github.com/plugshq/plugs/dataplane/pipeline"
	"github.com/plugshq/plugs/dataplane/receiver"
	"github.com/plugshq/plugs/dataplane/verify"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/source"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates/sample"
)

// maxTestEventAnswer bounds the ingest answer a test event returns; the
// ingest contract's answers are a few dozen bytes.
const maxTestEventAnswer = 16 << 10

// TestEvents sends test events through the real ingest endpoint, so they
// take every step a provider's webhook takes. Set on Sources to enable
// SendTestEvent.
type TestEvents struct {
	// Sources gives a source's configuration as data planes run it, with
	// its decrypted secrets.
	Sources interface {
		Source(id string) *plugsv1.SourceConfig
	}
	// IngestURL is the base URL this control plane reaches a data plane
	// at; empty answers FAILED_PRECONDITION.
	IngestURL string
	// Client sends the test events; nil means one with a 10 s timeout.
	Client *http.Client
	// ReceiptWait bounds the wait for the receipts index to have the test
	// event's receipt; zero means 5 s.
	ReceiptWait time.Duration
}

var defaultTestEventClient = &http.Client{Timeout: 10 * time.Second}

// SendTestEvent implements plugs.v1.SourceService. The source's template
// sample (or the given body) is signed with the source's newest active
// secret as its provider signs and posted to the ingest endpoint; the
// answer names the receipt, which is read back from the index.
func (s *Sources) SendTestEvent(ctx context.Context, req *plugsv1.SendTestEventRequest) (*plugsv1.SendTestEventResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	// The tenant's own sources only: the configuration cache holds every
	// tenant's.
	ok, err := s.Client.Source.Query().Where(source.ID(id)).Exist(ctx)
	if err != nil {
		return nil, internal(ctx, s.log(), "look up source", err)
	}
	if !ok {
		return nil, notFound("source", id.String())
	}
	te := s.TestEvents
	if te == nil || te.IngestURL == "" {
		return nil, status.Error(codes.FailedPrecondition, "the control plane knows no ingest URL: start it with --ingest-url")
	}
	sc, err := te.source(ctx, id.String())
	if err != nil {
		return nil, err
	}
	if sc.GetStatus() == plugsv1.Source_STATUS_DISABLED {
		// Data planes hold no secret of a disabled source, and would only
		// answer 403.
		return nil, status.Error(codes.FailedPrecondition, "the source is disabled")
	}
	tpl, err := s.Catalog.Get(sc.GetTemplateId())
	if err != nil {
		tpl = &plugsv1.Template{}
	}
	secret := activeSecret(sc.GetSecrets(), s.now())
	if secret == nil {
		return nil, status.Error(codes.FailedPrecondition, "the source has no active secret to sign with")
	}
	ingest := strings.TrimSuffix(te.IngestURL, "/") + "/v1/ingest/webhook/" + id.String()
	// Schemes that sign the URL (Twilio, Square, HubSpot) sign the URL the
	// provider calls, which the data planes know as their public URL.
	signURL := ingest
	if s.PublicIngestURL != "" {
		signURL = s.WebhookURL(id.String())
	}
	wh, err := sample.Sign(sample.Spec{
		Template: tpl, Scheme: sc.GetSignatureScheme(), Mappings: sc.GetFieldMappings(), Filter: sc.GetEventFilter(),
		Secret: string(secret.GetValue()), URL: signURL, Body: req.GetBody(),
	}, s.now())
	switch {
	case errors.Is(err, sample.ErrNoSample):
		return nil, status.Error(codes.FailedPrecondition, "the source's template has no sample payload: send a body")
	case errors.Is(err, sample.ErrEventID), errors.Is(err, verify.ErrCannotSign):
		// Neither names the secret: they describe the scheme and the body.
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	case err != nil:
		return nil, internal(ctx, s.log(), "sign test event", err)
	}
	if _, query, ok := strings.Cut(wh.URL, "?"); ok {
		ingest += "?" + query
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, ingest, bytes.NewReader(wh.Body))
	if err != nil {
		return nil, internal(ctx, s.log(), "build test event", err)
	}
	hreq.Header = wh.Header
	// A test event is not usage: its event is marked test, and its id
	// cannot make the provider's real event with the same id a duplicate.
	hreq.Header.Set(pipeline.TestEventHeader, "true")
	if u, err := url.Parse(signURL); err == nil {
		// The Host the provider would send, for a data plane that
		// rebuilds the signed URL from it.
		hreq.Host = u.Host
	}
	client := te.Client
	if client == nil {
		client = defaultTestEventClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		s.log().WarnContext(ctx, "test event not delivered", "source_id", id, "error", err)
		return nil, status.Errorf(codes.Unavailable, "the ingest endpoint at %s did not answer", te.IngestURL)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxTestEventAnswer))
	resp.Body.Close()
	out := &plugsv1.SendTestEventResponse{
		StatusCode:      int32(resp.StatusCode),
		ResponseBody:    string(answer),
		ProviderEventId: wh.EventID,
		ReceiptId:       resp.Header.Get(receiver.ReceiptIDHeader),
	}
	if rid, err := uuid.Parse(out.ReceiptId); err == nil {
		out.Receipt, err = te.receipt(ctx, s.Client, rid)
		if err != nil {
			return nil, internal(ctx, s.log(), "read test event receipt", err)
		}
	}
	s.log().InfoContext(ctx, "test event sent", "source_id", id, "status", resp.StatusCode,
		"receipt", out.ReceiptId, "provider_event_id", out.ProviderEventId)
	return out, nil
}

// source waits briefly for the configuration cache to have a source that
// was just created: the cache follows the database within moments.
func (te *TestEvents) source(ctx context.Context, id string) (*plugsv1.SourceConfig, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		if sc := te.Sources.Source(id); sc != nil {
			return sc, nil
		}
		if time.Now().After(deadline) {
			return nil, status.Error(codes.FailedPrecondition, "the source is not in the data planes' configuration yet; try again")
		}
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// receipt polls the receipts index for a receipt until it is there or the
// wait is over; nil then. The caller's context keeps it tenant-scoped.
func (te *TestEvents) receipt(ctx context.Context, c *ent.Client, id uuid.UUID) (*plugsv1.Receipt, error) {
	wait := te.ReceiptWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		row, err := c.Receipt.Get(ctx, id)
		if err == nil {
			return cpreceipts.ToProto(row, true), nil
		}
		if !ent.IsNotFound(err) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// activeSecret is the secret a provider signs with now: the newest that
// does not expire (rotation gives the old ones an expiry), else the one
// expiring last. Ids are UUIDv7, so the greatest id is the newest.
func activeSecret(secrets []*plugsv1.SigningSecret, now time.Time) *plugsv1.SigningSecret {
	live := slices.DeleteFunc(slices.Clone(secrets), func(s *plugsv1.SigningSecret) bool {
		return len(s.GetValue()) == 0 || (s.GetExpireTime() != nil && !s.GetExpireTime().AsTime().After(now))
	})
	if len(live) == 0 {
		return nil
	}
	return slices.MaxFunc(live, func(a, b *plugsv1.SigningSecret) int {
		ae, be := a.GetExpireTime(), b.GetExpireTime()
		switch {
		case ae == nil && be != nil:
			return 1
		case ae != nil && be == nil:
			return -1
		case ae != nil && !ae.AsTime().Equal(be.AsTime()):
			return ae.AsTime().Compare(be.AsTime())
		}
		return strings.Compare(a.GetId(), b.GetId())
	})
}
