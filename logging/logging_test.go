package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/plugshq/plugs/logging"
)

func TestRequestIDReachesEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logging.NewHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := logging.WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "with")
	log.Info("without")
	dec := json.NewDecoder(&buf)
	var with, without map[string]any
	if err := dec.Decode(&with); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&without); err != nil {
		t.Fatal(err)
	}
	if with["request_id"] != "req-1" || with["component"] != "test" {
		t.Fatalf("line with the id: %v", with)
	}
	if _, ok := without["request_id"]; ok {
		t.Fatalf("line without a context has an id: %v", without)
	}
}
