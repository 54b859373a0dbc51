package templates_test

import (
	"fmt"
	"testing"

	"github.com/plugshq/plugs/dataplane/mapping"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// mapBody maps a body as the data plane does and returns its first event:
// for a batch template, every item is mapped, the body must hold at least
// one, and their event ids must differ.
func mapBody(t *testing.T, mp *mapping.Mapper, in mapping.Input) (*plugsv1.UsageEvent, error) {
	t.Helper()
	if !mp.Batch() {
		ev := &plugsv1.UsageEvent{}
		return ev, noWarnings(mp.Map(in, ev))
	}
	items, err := mp.Split(in)
	if err != nil {
		return nil, err
	}
	if len(items.Items) == 0 {
		t.Fatal("a batch of no item")
	}
	var first *plugsv1.UsageEvent
	ids := map[string]bool{}
	for i := range items.Items {
		ev := &plugsv1.UsageEvent{}
		if err := noWarnings(mp.MapItem(items, i, in, ev)); err != nil {
			return nil, err
		}
		if id := ev.GetEventId(); id != "" && ids[id] {
			t.Errorf("items share the event id %q", id)
		} else {
			ids[id] = true
		}
		if first == nil {
			first = ev
		}
	}
	return first, nil
}

// noWarnings makes a sample's optional field left empty an error: a
// template's sample must map cleanly.
func noWarnings(warnings []mapping.FieldError, err error) error {
	if err == nil && len(warnings) > 0 {
		return fmt.Errorf("optional fields left empty: %v", warnings)
	}
	return err
}
