package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/apikey"
	"github.com/plugshq/plugs/ent/viewer"
)

// APIKeys authenticates tenants by API key.
type APIKeys struct {
	Client *ent.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticate returns the tenant a token belongs to.
func (a *APIKeys) Authenticate(ctx context.Context, token string) (uuid.UUID, error) {
	prefix, ok := splitAPIKeyToken(token)
	if !ok {
		return uuid.Nil, ErrInvalidCredentials
	}
	sys := viewer.System(ctx)
	k, err := a.Client.APIKey.Query().Where(apikey.Prefix(prefix)).Only(sys)
	if ent.IsNotFound(err) {
		hashMatches(token, nil)
		return uuid.Nil, ErrInvalidCredentials
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("auth: look up key: %w", err)
	}
	if !hashMatches(token, k.Hash) {
		return uuid.Nil, ErrInvalidCredentials
	}
	a.touch(sys, k)
	return k.TenantID, nil
}

// touch records the last use to the minute, so a busy key does not write on
// every request.
func (a *APIKeys) touch(ctx context.Context, k *ent.APIKey) {
	t, due := touchDue(a.Now, k.LastUsedTime)
	if !due {
		return
	}
	// Best effort: a failed touch must not fail the request.
	_ = a.Client.APIKey.UpdateOneID(k.ID).SetLastUsedTime(t).Exec(ctx)
}

// CreateAPIKey makes a key for tenantID and returns its token, which is not
// stored anywhere.
func CreateAPIKey(ctx context.Context, c *ent.Client, tenantID uuid.UUID, name string) (*ent.APIKey, string, error) {
	token, prefix, hash, err := NewAPIKeyToken()
	if err != nil {
		return nil, "", err
	}
	k, err := c.APIKey.Create().
		SetTenantID(tenantID).
		SetDisplayName(name).
		SetPrefix(prefix).
		SetHash(hash).
		Save(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("auth: create key: %w", err)
	}
	return k, token, nil
}

// Bootstrap creates a tenant with one API key, as `plugs dev` and
// `plugs tokens create --tenant` do.
func Bootstrap(ctx context.Context, c *ent.Client, tenantName, keyName string) (*ent.Tenant, string, error) {
	sys := viewer.System(ctx)
	tx, err := c.Tx(sys)
	if err != nil {
		return nil, "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	t, err := tx.Tenant.Create().SetName(tenantName).Save(sys)
	if err != nil {
		return nil, "", errors.Join(fmt.Errorf("auth: bootstrap tenant: %w", err), tx.Rollback())
	}
	_, token, err := CreateAPIKey(sys, tx.Client(), t.ID, keyName)
	if err != nil {
		return nil, "", errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("auth: bootstrap: %w", err)
	}
	return t, token, nil
}
