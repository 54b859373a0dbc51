package main

import (
	"context"
	"io"

	"google.golang.org/grpc"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// runTemplates is plugs templates: the built-in provider templates a
// source starts from.
func runTemplates(ctx context.Context, args []string, stdout io.Writer) error {
	return runVerbs(ctx, "templates", []verb{
		{"list", "list the provider templates: id (for sources create --template), provider, category, docs", templatesList},
	}, args, stdout)
}

func templatesList(ctx context.Context, args []string, stdout io.Writer) error {
	c := newClientCmd("templates list", "[flags]", `
Lists the built-in provider templates by id: the --template of plugs sources
create, the provider's name, its category and where the provider documents
its webhooks. --category keeps one category (payments, commerce,
communications, ...); --search keeps the templates whose id, name or
description contains the text. -o json prints each whole, with its signature
scheme, default mappings and sample payload.`)
	pageSize := c.pageSize()
	category := c.fs.String("category", "", "only templates of this category, for example payments")
	search := c.fs.String("search", "", "only templates whose id, name or description contains this text (any case)")
	if err := c.parse(args, stdout); err != nil {
		return err
	}
	return callList(ctx, c, stdout, 0,
		func(ctx context.Context, conn *grpc.ClientConn, token string) ([]*plugsv1.Template, string, error) {
			resp, err := plugsv1.NewTemplateServiceClient(conn).ListTemplates(ctx, &plugsv1.ListTemplatesRequest{
				PageSize: int32(*pageSize), PageToken: token, Category: *category, Search: *search})
			return resp.GetTemplates(), resp.GetNextPageToken(), err
		},
		[]string{"ID", "PROVIDER", "CATEGORY", "DOCS"},
		func(t *plugsv1.Template) []string {
			docs := ""
			if refs := t.GetReferences(); len(refs) > 0 {
				docs = refs[0]
			}
			return []string{t.GetId(), t.GetDisplayName(), t.GetCategory(), docs}
		})
}
