package store

import (
	"context"
	"fmt"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/destination"
	"github.com/plugshq/plugs/ent/secret"
	"github.com/plugshq/plugs/ent/viewer"
)

// ResealSecrets re-encrypts every secret not sealed under the keyring's
// primary key, in one transaction: either all move or none does. It returns
// how many moved. Old keys can be removed from the key file afterwards.
func ResealSecrets(ctx context.Context, c *ent.Client, kr *secrets.Keyring) (int, error) {
	sys := viewer.System(ctx)
	tx, err := c.Tx(sys)
	if err != nil {
		return 0, fmt.Errorf("store: reseal: %w", err)
	}
	rows, err := tx.Secret.Query().Where(secret.KeyIDNEQ(kr.PrimaryID())).All(sys)
	if err != nil {
		_ = tx.Rollback()
		return 0, fmt.Errorf("store: reseal: %w", err)
	}
	for _, s := range rows {
		b := secrets.Binding{TenantID: s.TenantID.String(), SourceID: s.SourceID.String(), SecretID: s.ID.String()}
		plain, err := kr.Open(s.KeyID, s.Ciphertext, b)
		if err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("store: reseal secret %s: %w", s.ID, err)
		}
		keyID, sealed, err := kr.Seal(plain, b)
		clear(plain)
		if err != nil {
			_ = tx.Rollback()
			return 0, err
		}
		if err := tx.Secret.UpdateOneID(s.ID).SetKeyID(keyID).SetCiphertext(sealed).Exec(sys); err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("store: reseal secret %s: %w", s.ID, err)
		}
	}
	dests, err := tx.Destination.Query().Where(destination.KeyIDNEQ(kr.PrimaryID())).All(sys)
	if err != nil {
		_ = tx.Rollback()
		return 0, fmt.Errorf("store: reseal: %w", err)
	}
	for _, d := range dests {
		b := secrets.DestinationBinding(d.TenantID.String(), d.ID.String())
		plain, err := kr.Open(d.KeyID, d.SharedKeyCiphertext, b)
		if err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("store: reseal destination %s: %w", d.ID, err)
		}
		keyID, sealed, err := kr.Seal(plain, b)
		clear(plain)
		if err != nil {
			_ = tx.Rollback()
			return 0, err
		}
		if err := tx.Destination.UpdateOneID(d.ID).SetKeyID(keyID).SetSharedKeyCiphertext(sealed).Exec(sys); err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("store: reseal destination %s: %w", d.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: reseal: %w", err)
	}
	return len(rows) + len(dests), nil
}
