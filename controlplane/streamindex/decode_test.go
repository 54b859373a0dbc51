package streamindex_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/streamindex"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

var errMalformed = errors.New("test: malformed")

// decode reads a message whose rows are receipt ids; an id "bad" does
// not pass.
func decode(header nats.Header, data []byte) ([]string, error) {
	check := func(r *plugsv1.Receipt) (string, error) {
		if r.GetId() == "bad" {
			return "", fmt.Errorf("%w: id %q", errMalformed, r.GetId())
		}
		return r.GetId(), nil
	}
	return streamindex.DecodeMsg(header, data, errMalformed, "item",
		func() (string, error) {
			r := &plugsv1.Receipt{}
			if err := proto.Unmarshal(data, r); err != nil {
				return "", fmt.Errorf("%w: %w", errMalformed, err)
			}
			return check(r)
		},
		(*plugsv1.ReceiptBatch).GetReceipts, check)
}

// marshal encodes m, which the tests build valid.
func marshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// A message without the batch header is one row; with it, a batch of
// rows in order, refused whole when one entry is, and with the entry's
// place in the error.
func TestDecodeMsg(t *testing.T) {
	batch := nats.Header{}
	batch.Set(backbone.BatchHeader, "2")
	if rows, err := decode(nats.Header{}, marshal(&plugsv1.Receipt{Id: "a"})); err != nil || !reflect.DeepEqual(rows, []string{"a"}) {
		t.Fatalf("one: %v %v", rows, err)
	}
	if rows, err := decode(nil, marshal(&plugsv1.Receipt{Id: "bad"})); !errors.Is(err, errMalformed) || rows != nil {
		t.Fatalf("one refused: %v %v", rows, err)
	}
	two := &plugsv1.ReceiptBatch{Receipts: []*plugsv1.Receipt{{Id: "a"}, {Id: "b"}}}
	if rows, err := decode(batch, marshal(two)); err != nil || !reflect.DeepEqual(rows, []string{"a", "b"}) {
		t.Fatalf("batch: %v %v", rows, err)
	}
	if rows, err := decode(batch, marshal(&plugsv1.ReceiptBatch{})); err != nil || len(rows) != 0 {
		t.Fatalf("empty batch: %v %v", rows, err)
	}
	mixed := &plugsv1.ReceiptBatch{Receipts: []*plugsv1.Receipt{{Id: "a"}, {Id: "bad"}}}
	rows, err := decode(batch, marshal(mixed))
	if !errors.Is(err, errMalformed) || rows != nil || !strings.HasPrefix(err.Error(), "batch item 1: ") {
		t.Fatalf("batch with a bad entry: %v %v", rows, err)
	}
	rows, err = decode(batch, []byte{0xff})
	if !errors.Is(err, errMalformed) || rows != nil || !strings.Contains(err.Error(), "malformed: batch: ") {
		t.Fatalf("batch that does not decode: %v %v", rows, err)
	}
}
