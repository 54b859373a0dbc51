// Package viewer carries who is making a request through a context: a tenant
// authenticated by an API key, or the control plane itself acting for the
// system (authentication look-ups, snapshots for data planes, key rotation).
// Privacy rules in package rule read it; handlers never filter by tenant
// themselves.
package viewer

import (
	"context"

	"github.com/google/uuid"
)

// Viewer is the identity behind a request.
type Viewer struct {
	// TenantID is the tenant whose rows the viewer may see; uuid.Nil for the
	// system viewer.
	TenantID uuid.UUID
	// System is true for the control plane's own work across tenants.
	System bool
}

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx and whether there is one.
func FromContext(ctx context.Context) (Viewer, bool) {
	v, ok := ctx.Value(ctxKey{}).(Viewer)
	return v, ok
}

// ForTenant returns ctx acting as a member of tenant id.
func ForTenant(ctx context.Context, id uuid.UUID) context.Context {
	return NewContext(ctx, Viewer{TenantID: id})
}

// System returns ctx acting for the control plane itself, across tenants.
// Only code paths that are not driven by a tenant's request use it.
func System(ctx context.Context) context.Context {
	return NewContext(ctx, Viewer{System: true})
}
