package streamindex

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
)

// DecodeMsg reads the rows of a message with header and data, as a kind's
// Table.Decode does: a batch B of entries when header carries
// backbone.BatchHeader, else one row, which one reads. entries lists a
// batch's entries and entry reads each into a row, checking it against the
// message's subject as one checks a single row; an entry that does not
// pass makes the whole message malformed, for a batch is published as one
// and its entries share one subject. A batch that does not decode is the
// package's malformed error; an entry's error is wrapped with its place,
// as in "batch entry 3: …", noun naming an entry.
func DecodeMsg[B any, PB interface {
	*B
	proto.Message
}, E, R any](header nats.Header, data []byte, malformed error, noun string,
	one func() (R, error), entries func(PB) []E, entry func(E) (R, error),
) ([]R, error) {
	if header.Get(backbone.BatchHeader) == "" {
		row, err := one()
		if err != nil {
			return nil, err
		}
		return []R{row}, nil
	}
	b := PB(new(B))
	if err := proto.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("%w: batch: %w", malformed, err)
	}
	es := entries(b)
	rows := make([]R, len(es))
	for i, e := range es {
		row, err := entry(e)
		if err != nil {
			return nil, fmt.Errorf("batch %s %d: %w", noun, i, err)
		}
		rows[i] = row
	}
	return rows, nil
}
