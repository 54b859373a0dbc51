package api

import (
	"context"
	"math"
	"net/url"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/destination"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Paging of the registration form, which numbers pages instead of handing
// out tokens.
const (
	defaultWebhookPageSize = 20
	maxWebhookPageSize     = 1000
	// WebhookAlgorithm is the only algorithm either signature style uses.
	WebhookAlgorithm = "SHA_256"
)

// Webhooks implements plugs.v1.WebhookRegistrationService: the registration
// form some billing pipelines already speak. A registration is a destination
// with the default signature style and retry policy, stored and validated by
// Destinations, so both APIs see the same endpoints.
type Webhooks struct {
	plugsv1.UnimplementedWebhookRegistrationServiceServer

	Destinations *Destinations
}

// RegisterWebhook implements plugs.v1.WebhookRegistrationService.
func (w *Webhooks) RegisterWebhook(ctx context.Context, req *plugsv1.RegisterWebhookRequest) (*plugsv1.WebhookRegistration, error) {
	// Checked here first so violations name the form's fields, not the
	// destination's.
	var v violations
	w.Destinations.validateURL(&v, "callback_url", req.GetCallbackUrl())
	validateSharedKey(&v, "shared_key", req.GetSharedKey())
	if err := v.err(); err != nil {
		return nil, err
	}
	d, err := w.Destinations.create(ctx, &plugsv1.Destination{
		DisplayName: registrationName(req.GetCallbackUrl()),
		Url:         req.GetCallbackUrl(),
		SharedKey:   req.GetSharedKey(),
	})
	if err != nil {
		return nil, err
	}
	return registrationOf(d), nil
}

// ListWebhooks implements plugs.v1.WebhookRegistrationService.
func (w *Webhooks) ListWebhooks(ctx context.Context, req *plugsv1.ListWebhooksRequest) (*plugsv1.ListWebhooksResponse, error) {
	var v violations
	if req.GetPage() < 0 {
		v.add("page", "must not be negative; pages are numbered from 0")
	}
	if req.GetSize() < 0 {
		v.add("size", "must not be negative")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	size := int(req.GetSize())
	switch {
	case size == 0:
		size = defaultWebhookPageSize
	case size > maxWebhookPageSize:
		size = maxWebhookPageSize
	}
	c := w.Destinations.Client
	total, err := c.Destination.Query().Count(ctx)
	if err != nil {
		return nil, internal(ctx, w.Destinations.log(), "count webhooks", err)
	}
	resp := &plugsv1.ListWebhooksResponse{
		Content:       []*plugsv1.WebhookRegistration{},
		TotalPages:    clampInt32((total + size - 1) / size),
		TotalElements: clampInt32(total),
		Size:          int32(size),
		Number:        req.GetPage(),
	}
	// int arithmetic: page and size are int32, so the offset cannot
	// overflow.
	offset := int(req.GetPage()) * size
	if offset >= total {
		return resp, nil
	}
	rows, err := c.Destination.Query().Order(ent.Asc(destination.FieldID)).Offset(offset).Limit(size).All(ctx)
	if err != nil {
		return nil, internal(ctx, w.Destinations.log(), "list webhooks", err)
	}
	for _, r := range rows {
		d, err := destinationToProto(r)
		if err != nil {
			return nil, internal(ctx, w.Destinations.log(), "render webhook", err)
		}
		resp.Content = append(resp.Content, registrationOf(d))
	}
	return resp, nil
}

// registrationOf is a destination in the form's terms.
func registrationOf(d *plugsv1.Destination) *plugsv1.WebhookRegistration {
	header := StandardWebhooksSignatureHeader
	if d.GetSignatureStyle() == plugsv1.Destination_SIGNATURE_STYLE_HUB {
		header = d.GetSignatureHeader()
	}
	st := "ACTIVE"
	if d.GetStatus() == plugsv1.Destination_STATUS_PAUSED {
		st = "PAUSED"
	}
	return &plugsv1.WebhookRegistration{
		Id:             d.GetId(),
		EndpointUrl:    d.GetUrl(),
		HmacHeaderName: header,
		Algorithm:      WebhookAlgorithm,
		Status:         st,
	}
}

// registrationName names a registered destination for people: the form
// carries no name, and the host is what its owner will recognise.
func registrationName(raw string) string {
	name := raw
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		name = u.Host
	}
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return name
}

func clampInt32(n int) int32 {
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(n)
}
