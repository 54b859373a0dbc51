package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// TestPreviewTemplateMapping: a mapping is previewed from a template, before
// any source exists, with the template's mappings or a draft, and a draft
// filter.
func TestPreviewTemplateMapping(t *testing.T) {
	e := startEnv(t, "sqlite")
	templates := plugsv1.NewTemplateServiceClient(e.conn)

	code, body := e.rest("POST", "/v1/templates/stripe:previewMapping", e.keyA,
		`{"metricId": "invoices", "body": "{\"id\":\"evt_9\",\"type\":\"invoice.paid\",\"created\":1700000000,\"data\":{\"object\":{\"customer\":\"cus_9\"}}}"}`)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var got struct {
		Event struct{ EventID, EventType, CustomerID, MetricID, SourceID string }
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Event.EventID != "evt_9" || got.Event.CustomerID != "cus_9" || got.Event.MetricID != "invoices" || got.Event.SourceID != "" {
		t.Fatalf("preview %s", body)
	}

	// A draft requiring a field the body lacks, and a draft filter.
	resp, err := templates.PreviewTemplateMapping(as(e.keyA), &plugsv1.PreviewTemplateMappingRequest{
		Id: "stripe", Body: `{"id":"evt_1","type":"invoice.paid"}`,
		FieldMappings: &plugsv1.FieldMappings{
			EventId:    &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.id"}, Required: true},
			CustomerId: &plugsv1.ValueRef{From: &plugsv1.ValueRef_JsonPath{JsonPath: "$.customer"}, Required: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetEvent() != nil || len(resp.GetFieldErrors()) != 1 || resp.GetFieldErrors()[0].GetField() != "customer_id" {
		t.Fatalf("draft preview %v", resp)
	}
	resp, err = templates.PreviewTemplateMapping(as(e.keyA), &plugsv1.PreviewTemplateMappingRequest{
		Id: "stripe", Body: `{"id":"e","type":"charge.refunded"}`,
		EventFilter: &plugsv1.EventFilter{EventTypes: []string{"invoice.*"}},
	})
	if err != nil || !resp.GetFiltered() {
		t.Fatalf("filtered preview %v %v", resp, err)
	}
	// A bad draft names its field; an unknown template is not found; no
	// key, no preview.
	_, err = templates.PreviewTemplateMapping(as(e.keyA), &plugsv1.PreviewTemplateMappingRequest{
		Id: "stripe", Body: `{}`, EventFilter: &plugsv1.EventFilter{EventTypes: []string{"in voice"}},
	})
	if v := fieldViolations(t, err); len(v) == 0 {
		t.Fatal("no violation for a bad filter")
	}
	_, err = templates.PreviewTemplateMapping(as(e.keyA), &plugsv1.PreviewTemplateMappingRequest{Id: "nope", Body: `{}`})
	wantCode(t, err, codes.NotFound)
	_, err = templates.PreviewTemplateMapping(as(""), &plugsv1.PreviewTemplateMappingRequest{Id: "stripe", Body: `{}`})
	wantCode(t, err, codes.Unauthenticated)
}
