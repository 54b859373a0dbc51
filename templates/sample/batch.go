package sample

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// setItemIDs gives every item of a batch body a fresh event id at path,
// which is read from each item: items of one request must not share an
// id, or all but the first would be duplicates.
func setItemIDs(body []byte, b *plugsv1.Batch, path string, now time.Time) ([]byte, error) {
	if b.GetFormat() == plugsv1.Batch_FORMAT_NDJSON {
		var out [][]byte
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			set, err := setLineIDs(line, path, now)
			if err != nil {
				return nil, err
			}
			out = append(out, set)
		}
		return bytes.Join(out, []byte("\n")), nil
	}
	items, err := jp.ParseString(b.GetItemsPath())
	if err != nil {
		return nil, fmt.Errorf("%w: batch.items_path %s: %w", ErrEventID, b.GetItemsPath(), err)
	}
	data, err := oj.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: the sample payload is not JSON: %w", ErrEventID, err)
	}
	x, err := jp.ParseString(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEventID, path, err)
	}
	// The items are the parsed body's own values: setting a field of one
	// changes the body.
	for _, item := range items.Get(data) {
		if err := x.Set(item, freshIDLike(x.First(item), now)); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrEventID, path, err)
		}
	}
	return []byte(oj.JSON(data)), nil
}

// setLineIDs gives the item of an NDJSON line a fresh event id, or each of
// its items when the line is an array of them (Auth0's JSON Array format).
func setLineIDs(line []byte, path string, now time.Time) ([]byte, error) {
	data, err := oj.Parse(line)
	if err != nil {
		return nil, fmt.Errorf("%w: a line of the sample payload is not JSON: %w", ErrEventID, err)
	}
	list, ok := data.([]any)
	if !ok {
		return setEventID(line, "application/json", path, now)
	}
	x, err := jp.ParseString(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEventID, path, err)
	}
	for _, item := range list {
		if err := x.Set(item, freshIDLike(x.First(item), now)); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrEventID, path, err)
		}
	}
	return []byte(oj.JSON(data)), nil
}
