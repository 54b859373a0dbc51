package mapping

import (
	"fmt"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultMaxItems is the item limit of a batch that sets none: a request
// with more is refused whole.
const DefaultMaxItems = 1000

// MaxMaxItems bounds Batch.max_items. A receipt lists what became of each
// item and a request is answered only once every item is stored, so a
// request of many more items would be answered late, and its receipt
// could not show them.
const MaxMaxItems = 10000

// errBatch is Map's answer for mappings that read a batch.
var errBatch = fmt.Errorf("%w: these mappings read a batch: use Split and MapItem", ErrInvalidMapping)

// batch is how the items of a body are found.
type batch struct {
	items  *payload.Items // nil for NDJSON
	ndjson bool
	max    int
}

func compileBatch(b *plugsv1.Batch) (*batch, error) {
	out := &batch{max: int(b.GetMaxItems())}
	switch {
	case out.max == 0:
		out.max = DefaultMaxItems
	case out.max < 0 || out.max > MaxMaxItems:
		return nil, fmt.Errorf("%w: batch.max_items: must be between 1 and %d (0 means %d)", ErrInvalidMapping, MaxMaxItems, DefaultMaxItems)
	}
	switch b.GetFormat() {
	case plugsv1.Batch_FORMAT_UNSPECIFIED:
		if b.GetItemsPath() == "" {
			return nil, fmt.Errorf("%w: batch.items_path: required for a JSON body, for example \"$.events[*]\"", ErrInvalidMapping)
		}
		it, err := payload.CompileItems(b.GetItemsPath())
		if err != nil {
			return nil, fmt.Errorf("%w: batch.items_path: %w", ErrInvalidMapping, err)
		}
		out.items = it
	case plugsv1.Batch_FORMAT_NDJSON:
		if b.GetItemsPath() != "" {
			return nil, fmt.Errorf("%w: batch.items_path: must be empty for NDJSON, whose lines are the items", ErrInvalidMapping)
		}
		out.ndjson = true
	default:
		return nil, fmt.Errorf("%w: batch.format: unknown format %d", ErrInvalidMapping, b.GetFormat())
	}
	return out, nil
}

// Batch reports whether the mappings read several events from one body:
// Split and MapItem then take the place of Map.
func (mp *Mapper) Batch() bool { return mp.batch != nil }

// MaxItems is the most items a batch body may hold; 0 when the mappings
// read no batch.
func (mp *Mapper) MaxItems() int {
	if mp.batch == nil {
		return 0
	}
	return mp.batch.max
}

// Items is a batch body split into its items, with the values of its
// envelope ("$$" paths) read once for all of them. It is valid as long as
// the body it was split from.
type Items struct {
	// Items are the items in body order.
	Items    []payload.Item
	envelope []payload.Value
}

// Split splits the body of in into its items. It fails wrapping
// payload.ErrUnparsable when a JSON body is not well-formed (or is a form),
// and wrapping ErrTooManyItems when the body holds more than MaxItems. A
// line of an NDJSON body that is not JSON fails alone, as its item.
func (mp *Mapper) Split(in Input) (*Items, error) {
	b := mp.batch
	if b == nil {
		return nil, fmt.Errorf("%w: these mappings read no batch", ErrInvalidMapping)
	}
	if in.Body.Form() {
		return nil, fmt.Errorf("%w: a batch body must be JSON, not a form", payload.ErrUnparsable)
	}
	out := &Items{}
	var n int
	if b.ndjson {
		out.Items, n = payload.SplitLines(in.Body.Raw(), b.max)
	} else {
		var err error
		if out.Items, n, err = b.items.Split(in.Body.Raw(), b.max); err != nil {
			return nil, err
		}
	}
	if n > b.max {
		return nil, fmt.Errorf("%w: %d items, the limit is %d", ErrTooManyItems, n, b.max)
	}
	if mp.envelope.Len() > 0 {
		out.envelope = make([]payload.Value, mp.envelope.Len())
		if err := mp.envelope.Lookup(in.Body, out.envelope); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MapItem maps item i of items as Map maps a body; in gives the headers and
// the receive time. An item that is not JSON fails wrapping
// payload.ErrUnparsable.
func (mp *Mapper) MapItem(items *Items, i int, in Input, ev *plugsv1.UsageEvent) (warnings []FieldError, err error) {
	in, err = itemInput(items, i, in)
	if err != nil {
		return nil, err
	}
	return mp.run(in, ev, nil)
}

// PreviewItem is Preview for item i of items.
func (mp *Mapper) PreviewItem(items *Items, i int, in Input, ev *plugsv1.UsageEvent) (filtered bool, fields []FieldError, err error) {
	in, err = itemInput(items, i, in)
	if err != nil {
		return false, nil, err
	}
	var report []FieldError
	_, err = mp.run(in, ev, &report)
	return err == ErrFiltered, report, err
}

func itemInput(items *Items, i int, in Input) (Input, error) {
	it := items.Items[i]
	if it.Err != nil {
		return in, it.Err
	}
	in.Body = payload.New(it.Raw, "application/json")
	in.envelope = items.envelope
	return in, nil
}
