package api

import (
	"context"
	"fmt"
	"strings"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// Templates implements plugs.v1.TemplateService over the built-in catalog.
type Templates struct {
	plugsv1.UnimplementedTemplateServiceServer
	Catalog *templates.Catalog
}

// ListTemplates implements plugs.v1.TemplateService: templates in id order,
// optionally only one category's or those matching a search text.
func (t *Templates) ListTemplates(_ context.Context, req *plugsv1.ListTemplatesRequest) (*plugsv1.ListTemplatesResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if c := req.GetCategory(); c != "" && !templates.IsCategory(c) {
		return nil, invalid("category", fmt.Sprintf("unknown category %q; one of %s", c, strings.Join(templates.Categories(), ", ")))
	}
	filter := templates.Filter{Category: req.GetCategory(), Search: strings.TrimSpace(req.GetSearch())}
	resp := &plugsv1.ListTemplatesResponse{}
	resp.Templates, resp.NextPageToken = trimPage(t.Catalog.Find(filter, after, size+1), size, (*plugsv1.Template).GetId)
	return resp, nil
}

// GetTemplate implements plugs.v1.TemplateService.
func (t *Templates) GetTemplate(_ context.Context, req *plugsv1.GetTemplateRequest) (*plugsv1.Template, error) {
	if req.GetId() == "" {
		return nil, invalid("id", "is required")
	}
	tpl, err := t.Catalog.Get(req.GetId())
	if err != nil {
		return nil, notFound("template", req.GetId())
	}
	return tpl, nil
}
