package templates

import (
	"strings"
	"testing"

	"github.com/ohler55/ojg/jp"
)

func TestBuiltinTemplatesAreValid(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.IDs()) == 0 {
		t.Fatal("no templates")
	}
	for _, id := range c.IDs() {
		tpl, err := c.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if tpl.GetDisplayName() == "" {
			t.Errorf("%s: no display name", id)
		}
		if !IsCategory(tpl.GetCategory()) {
			t.Errorf("%s: category %q is not one of %v", id, tpl.GetCategory(), Categories())
		}
		if tpl.GetSignatureScheme().GetAlgorithm() == 0 {
			t.Errorf("%s: no algorithm", id)
		}
		m := tpl.GetFieldMappings()
		refs := map[string]string{
			"event_id":    m.GetEventId().GetJsonPath(),
			"event_type":  m.GetEventType().GetJsonPath(),
			"customer_id": m.GetCustomerId().GetJsonPath(),
			"quantity":    m.GetQuantity().GetJsonPath(),
			"timestamp":   m.GetTimestamp().GetJsonPath(),
		}
		for k, v := range m.GetProperties() {
			refs["properties."+k] = v.GetJsonPath()
		}
		for field, path := range refs {
			if path == "" {
				continue
			}
			// In a batch, a path from $$ reads the envelope.
			if rest, ok := strings.CutPrefix(path, "$$"); ok && m.GetBatch() != nil {
				path = "$" + rest
			}
			if _, err := jp.ParseString(path); err != nil {
				t.Errorf("%s: %s: bad JSONPath %q: %v", id, field, path, err)
			}
		}
	}
}

func TestListPaginates(t *testing.T) {
	c := MustBuiltin()
	var got []string
	after := ""
	for {
		page := c.List(after, 1)
		if len(page) == 0 {
			break
		}
		got = append(got, page[0].GetId())
		after = page[0].GetId()
	}
	if len(got) != len(c.IDs()) {
		t.Fatalf("paged %v, want %v", got, c.IDs())
	}
}

func TestGetUnknown(t *testing.T) {
	if _, err := MustBuiltin().Get("nope"); err == nil {
		t.Fatal("want error")
	}
}
