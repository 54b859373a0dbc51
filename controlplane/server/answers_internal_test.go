package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// An answer writes out its empty lists and zero counts, where protojson
// would have put them, and nothing else that is unset.
func TestRESTJSONWritesEmptyListsAndCounts(t *testing.T) {
	m := newRESTJSON()
	for _, tc := range []struct {
		msg  proto.Message
		want string
	}{
		{&plugsv1.ListDeliveriesResponse{}, `{"deliveries":[]}`},
		{&plugsv1.ListDeliveriesResponse{NextPageToken: "t"}, `{"deliveries":[],"nextPageToken":"t"}`},
		{&plugsv1.RedriveDeadLettersResponse{}, `{"redrivenCount":0}`},
		{&plugsv1.PreviewMappingResponse{Filtered: true}, `{"fieldErrors":[],"filtered":true,"items":[]}`},
		{&plugsv1.ReplayOperation{Id: "op", ProcessedCount: 2},
			`{"id":"op","totalCount":0,"processedCount":2,"acceptedCount":0,"duplicateCount":0,"filteredCount":0,"rejectedCount":0,"failedCount":0}`},
		// Nested: each operation of a list has its counts.
		{&plugsv1.ListReplayOperationsResponse{Operations: []*plugsv1.ReplayOperation{{Id: "a", TotalCount: 1}}},
			`{"operations":[{"id":"a","totalCount":1,"processedCount":0,"acceptedCount":0,"duplicateCount":0,"filteredCount":0,"rejectedCount":0,"failedCount":0}]}`},
		// A resource's own lists stay out when empty: an empty sourceIds
		// means every source, not none.
		{&plugsv1.Destination{Id: "d", DisplayName: "billing"}, `{"id":"d","displayName":"billing"}`},
		{&plugsv1.Source{Id: "s"}, `{"id":"s"}`},
	} {
		b, err := m.Marshal(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(compact(t, b)); got != tc.want {
			t.Errorf("%T:\n got %s\nwant %s", tc.msg, got, tc.want)
		}
	}
}

// compact drops protojson's varying spaces.
func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out.Bytes()
}
