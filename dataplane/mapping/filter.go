package mapping

import (
	"fmt"
	"strings"

	"github.com/ohler55/ojg/jp"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// filter keeps wanted event types: exact names, "prefix.*" wildcards, and
// an optional ojg JSONPath filter expression the payload must match.
type filter struct {
	any      bool // no type list: every type is kept
	exact    map[string]struct{}
	prefixes []string
	expr     jp.Expr
}

func compileFilter(f *plugsv1.EventFilter) (filter, error) {
	flt := filter{any: len(f.GetEventTypes()) == 0}
	for _, t := range f.GetEventTypes() {
		switch {
		case t == "*":
			flt.any = true
		case strings.HasSuffix(t, ".*"):
			flt.prefixes = append(flt.prefixes, strings.TrimSuffix(t, "*"))
		case strings.Contains(t, "*"):
			return flt, fmt.Errorf("%w: event_filter: %q: a wildcard may only end a type, as in \"invoice.*\"", ErrInvalidMapping, t)
		default:
			if flt.exact == nil {
				flt.exact = map[string]struct{}{}
			}
			flt.exact[t] = struct{}{}
		}
	}
	if e := f.GetExpression(); e != "" {
		x, err := jp.ParseString(e)
		if err != nil {
			return flt, fmt.Errorf("%w: event_filter.expression: %w", ErrInvalidMapping, err)
		}
		flt.expr = x
	}
	return flt, nil
}

// keep reports whether an event of eventType with body passes the filter.
// The expression is applied to a one-element array holding the payload, so
// "$[?(@.livemode == true)]" keeps live events.
func (f *filter) keep(eventType string, body *payload.Doc) (bool, error) {
	if !f.any && !f.typeMatches(eventType) {
		return false, nil
	}
	if f.expr == nil {
		return true, nil
	}
	data, err := body.Parsed()
	if err != nil {
		return false, err
	}
	return len(f.expr.Get([]any{data})) > 0, nil
}

func (f *filter) typeMatches(t string) bool {
	if t == "" {
		return false
	}
	if _, ok := f.exact[t]; ok {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}
