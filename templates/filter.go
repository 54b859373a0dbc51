package templates

import (
	"strings"

	"google.golang.org/protobuf/proto"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Filter selects templates. The zero Filter selects every template.
type Filter struct {
	// Category, when set, must equal the template's category.
	Category string
	// Search, when set, must occur in the template's id, display name or
	// description, ignoring case.
	Search string
}

func (f Filter) matches(t *plugsv1.Template) bool {
	if f.Category != "" && t.GetCategory() != f.Category {
		return false
	}
	if f.Search == "" {
		return true
	}
	q := strings.ToLower(f.Search)
	for _, field := range []string{t.GetId(), t.GetDisplayName(), t.GetDescription()} {
		if strings.Contains(strings.ToLower(field), q) {
			return true
		}
	}
	return false
}

// Find returns copies of the templates f selects whose id sorts after
// `after`, at most limit of them, in id order.
func (c *Catalog) Find(f Filter, after string, limit int) []*plugsv1.Template {
	var out []*plugsv1.Template
	for _, id := range c.ids {
		if len(out) == limit {
			break
		}
		if id <= after {
			continue
		}
		if t := c.byID[id]; f.matches(t) {
			out = append(out, proto.Clone(t).(*plugsv1.Template))
		}
	}
	return out
}
