package schema

import "github.com/google/uuid"

// newIDFunc makes time-ordered UUIDv7 ids, so ordering by id is ordering by
// creation and serves as a stable pagination key.
func newIDFunc() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// newID is the zero value ent needs to learn the id's type.
func newID() uuid.UUID { return uuid.UUID{} }
