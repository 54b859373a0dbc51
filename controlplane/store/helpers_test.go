package store_test

import "github.com/google/uuid"

func mustV7() uuid.UUID { return uuid.Must(uuid.NewV7()) }
