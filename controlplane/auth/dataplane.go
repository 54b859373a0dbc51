package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/dataplanetoken"
	"github.com/plugshq/plugs/ent/viewer"
)

// DataPlanes authenticates data planes by token on the configuration
// stream. A token is accepted when it is one of the operator's static
// tokens (--dataplane-token) or one made by `plugs tokens create
// --dataplane`, which is stored as a hash like an API key. A data plane may
// instead present a client certificate; the Interceptor checks that.
type DataPlanes struct {
	// Client holds the stored tokens; nil accepts static tokens only.
	Client *ent.Client
	// Static are the configured tokens.
	Static []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticate returns nil when token is an accepted data-plane token,
// ErrInvalidCredentials when it is not, and another error when the stored
// tokens cannot be read.
func (d *DataPlanes) Authenticate(ctx context.Context, token string) error {
	if d.staticOK(token) {
		return nil
	}
	prefix, ok := splitDataPlaneToken(token)
	if !ok || d.Client == nil {
		return ErrInvalidCredentials
	}
	sys := viewer.System(ctx)
	t, err := d.Client.DataPlaneToken.Query().Where(dataplanetoken.Prefix(prefix)).Only(sys)
	if ent.IsNotFound(err) {
		hashMatches(token, nil)
		return ErrInvalidCredentials
	}
	if err != nil {
		return fmt.Errorf("auth: look up data-plane token: %w", err)
	}
	if !hashMatches(token, t.Hash) {
		return ErrInvalidCredentials
	}
	if at, due := touchDue(d.Now, t.LastUsedTime); due {
		// Best effort: a failed touch must not fail the stream.
		_ = d.Client.DataPlaneToken.UpdateOneID(t.ID).SetLastUsedTime(at).Exec(sys)
	}
	return nil
}

// staticOK compares token with every static token, in constant time over
// all of them, so neither a match nor its position shows in the timing.
// Hashing first makes the compared lengths equal.
func (d *DataPlanes) staticOK(token string) bool {
	got := sha256.Sum256([]byte(token))
	ok := 0
	for _, s := range d.Static {
		want := sha256.Sum256([]byte(s))
		ok |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return ok == 1
}

// CreateDataPlaneToken stores a new data-plane token named name and returns
// it; only its hash is kept, so this is the one time it can be read.
func CreateDataPlaneToken(ctx context.Context, c *ent.Client, name string) (string, error) {
	token, prefix, hash, err := NewDataPlaneToken()
	if err != nil {
		return "", err
	}
	err = c.DataPlaneToken.Create().
		SetDisplayName(name).
		SetPrefix(prefix).
		SetHash(hash).
		Exec(viewer.System(ctx))
	if err != nil {
		return "", fmt.Errorf("auth: create data-plane token: %w", err)
	}
	return token, nil
}
