package api

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

func TestListTemplatesFilters(t *testing.T) {
	svc := &Templates{Catalog: templates.MustBuiltin()}
	ctx := context.Background()

	// Paging one category two at a time visits each of its templates once.
	var got []string
	tok := ""
	for {
		page, err := svc.ListTemplates(ctx, &plugsv1.ListTemplatesRequest{Category: "payments", PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, tpl := range page.GetTemplates() {
			if tpl.GetCategory() != "payments" {
				t.Errorf("%s is %q, not payments", tpl.GetId(), tpl.GetCategory())
			}
			got = append(got, tpl.GetId())
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	want := 0
	for _, id := range svc.Catalog.IDs() {
		if tpl, _ := svc.Catalog.Get(id); tpl.GetCategory() == "payments" {
			want++
		}
	}
	if len(got) != want || want < 10 {
		t.Fatalf("paged %d payments templates (%v), want %d", len(got), got, want)
	}

	// Search matches the id, the display name or the description, ignoring
	// case, and combines with the category.
	for _, c := range []struct {
		category, search string
		want             string
	}{
		{"", "STRIPE", "stripe"},
		{"", "merchant of record", "polar"},
		{"developer-tools", "gitlab", "gitlab"},
	} {
		page, err := svc.ListTemplates(ctx, &plugsv1.ListTemplatesRequest{Category: c.category, Search: c.search, PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, tpl := range page.GetTemplates() {
			found = found || tpl.GetId() == c.want
		}
		if !found {
			t.Errorf("category %q search %q: %s missing", c.category, c.search, c.want)
		}
	}
	page, err := svc.ListTemplates(ctx, &plugsv1.ListTemplatesRequest{Category: "payments", Search: "github"})
	if err != nil || len(page.GetTemplates()) != 0 {
		t.Errorf("payments templates matching github: %v, %v", page.GetTemplates(), err)
	}

	if _, err := svc.ListTemplates(ctx, &plugsv1.ListTemplatesRequest{Category: "nope"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown category: got %v, want InvalidArgument", err)
	}
}
