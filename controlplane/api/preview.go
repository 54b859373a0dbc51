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
	filtered, fields, err := mp.Preview(mapping.Input{Body: payload.New([]byte(req.GetBody()), contentType), Header: header, ReceiveTime: now}, ev)
	out := &plugsv1.PreviewMappingResponse{Filtered: filtered}
	for _, f := range fields {
		out.FieldErrors = append(out.FieldErrors, &plugsv1.FieldError{Field: f.Field, Description: f.Description, Required: f.Required})
	}
	switch {
	case errors.Is(err, payload.ErrUnparsable):
		out.ParseError = err.Error()
	case err == nil || filtered:
		out.Event = ev
	}
	return out, nil
}
