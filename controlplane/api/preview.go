package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// maxPreviewHeaders bounds the sample headers of a preview.
const maxPreviewHeaders = 100

// PreviewMapping implements plugs.v1.SourceService. It runs the data
// plane's own mapping code (package mapping) on the sample, so what the
// preview shows is what ingestion will do.
func (s *Sources) PreviewMapping(ctx context.Context, req *plugsv1.PreviewMappingRequest) (*plugsv1.PreviewMappingResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	src, err := s.get(ctx, s.Client, id)
	if err != nil {
		return nil, err
	}
	return previewMapping(req, src.GetFieldMappings(), src.GetEventFilter(), src.GetMaxBodyBytes(),
		&plugsv1.UsageEvent{SourceId: src.GetId(), MetricId: src.GetMetricId()}, s.now())
}

// PreviewTemplateMapping implements plugs.v1.TemplateService: the preview
// of a source not created yet, from its template.
func (t *Templates) PreviewTemplateMapping(_ context.Context, req *plugsv1.PreviewTemplateMappingRequest) (*plugsv1.PreviewMappingResponse, error) {
	if req.GetId() == "" {
		return nil, invalid("id", "is required")
	}
	tpl, err := t.Catalog.Get(req.GetId())
	if err != nil {
		return nil, notFound("template", req.GetId())
	}
	sample := &plugsv1.PreviewMappingRequest{
		Body: req.GetBody(), Headers: req.GetHeaders(), ContentType: req.GetContentType(),
		FieldMappings: req.GetFieldMappings(), EventFilter: req.GetEventFilter(),
	}
	return previewMapping(sample, tpl.GetFieldMappings(), nil, DefaultMaxBodyBytes,
		&plugsv1.UsageEvent{MetricId: req.GetMetricId()}, time.Now())
}

// previewMapping maps req's sample with its draft mappings and filter, or
// else the given ones, into ev, received now.
func previewMapping(req *plugsv1.PreviewMappingRequest, mappings *plugsv1.FieldMappings, filter *plugsv1.EventFilter,
	maxBody int64, ev *plugsv1.UsageEvent, now time.Time,
) (*plugsv1.PreviewMappingResponse, error) {
	var v violations
	if proto.Size(req.GetFieldMappings()) > 0 {
		mappings = req.GetFieldMappings()
		validateMappings(&v, "field_mappings.", mappings)
	}
	if req.GetEventFilter() != nil {
		filter = req.GetEventFilter()
		validateFilter(&v, "event_filter.", filter)
	}
	if int64(len(req.GetBody())) > maxBody {
		v.add("body", fmt.Sprintf("larger than the source's limit of %d bytes", maxBody))
	}
	if len(req.GetHeaders()) > maxPreviewHeaders {
		v.add("headers", fmt.Sprintf("at most %d headers", maxPreviewHeaders))
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	mp, err := mapping.Compile(mappings, filter)
	if err != nil {
		return nil, invalid("field_mappings", err.Error())
	}
	header := http.Header{}
	for k, val := range req.GetHeaders() {
		header.Set(k, val)
	}
	contentType := req.GetContentType()
	if contentType == "" {
		contentType = "application/json"
	}
	header.Set("Content-Type", contentType)
	ev.ReceiveTime = timestamppb.New(now)
	in := mapping.Input{Body: payload.New([]byte(req.GetBody()), contentType), Header: header, ReceiveTime: now}
	if mp.Batch() {
		return previewBatch(mp, in, ev), nil
	}
	filtered, fields, err := mp.Preview(in, ev)
	out := &plugsv1.PreviewMappingResponse{Filtered: filtered, FieldErrors: fieldErrors(fields)}
	switch {
	case errors.Is(err, payload.ErrUnparsable):
		out.ParseError = err.Error()
	case err == nil || filtered:
		out.Event = ev
	}
	return out, nil
}

// previewBatch previews every item of a batch, each mapped to an event of
// its own as the data plane maps it; base is what every item's event
// starts from.
func previewBatch(mp *mapping.Mapper, in mapping.Input, base *plugsv1.UsageEvent) *plugsv1.PreviewMappingResponse {
	out := &plugsv1.PreviewMappingResponse{}
	items, err := mp.Split(in)
	if err != nil {
		out.ParseError = err.Error()
		return out
	}
	for i := range items.Items {
		ev := proto.Clone(base).(*plugsv1.UsageEvent)
		filtered, fields, err := mp.PreviewItem(items, i, in, ev)
		item := &plugsv1.PreviewItem{Index: int32(i), Filtered: filtered, FieldErrors: fieldErrors(fields)}
		switch {
		case errors.Is(err, payload.ErrUnparsable):
			item.ParseError = err.Error()
		case err == nil || filtered:
			item.Event = ev
		}
		out.Items = append(out.Items, item)
	}
	return out
}

func fieldErrors(fields []mapping.FieldError) []*plugsv1.FieldError {
	var out []*plugsv1.FieldError
	for _, f := range fields {
		out = append(out, &plugsv1.FieldError{Field: f.Field, Description: f.Description, Required: f.Required})
	}
	return out
}
