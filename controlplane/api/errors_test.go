package api

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A transaction PostgreSQL gave up for another it crossed answers ABORTED,
// which clients retry; other database errors stay INTERNAL.
func TestInternalTellsConflictsApart(t *testing.T) {
	for code, want := range map[string]codes.Code{
		"40P01": codes.Aborted,
		"40001": codes.Aborted,
		"23505": codes.Internal,
	} {
		err := fmt.Errorf("delete source: %w", &pgconn.PgError{Code: code})
		if got := status.Code(internal(context.Background(), slog.New(slog.DiscardHandler), "delete source", err)); got != want {
			t.Errorf("SQLSTATE %s: %v, want %v", code, got, want)
		}
	}
}
