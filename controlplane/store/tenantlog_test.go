package store_test

import (
	"context"
	"testing"

	"github.com/plugshq/plugs/controlplane/store/storetest"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/configchange"
	"github.com/plugshq/plugs/ent/viewer"
)

// Every change in the revision log carries the tenant whose configuration
// it changed, a secret created by a tenant (which leaves its tenant to the
// tenant mixin) included; a tenant reads its own changes only.
func TestRevisionLogRowsBelongToTheirTenant(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			db := storetest.Open(t, d)
			sys := viewer.System(context.Background())
			a := db.Client.Tenant.Create().SetName("a").SaveX(sys)
			b := db.Client.Tenant.Create().SetName("b").SaveX(sys)
			for _, tn := range []*ent.Tenant{a, b} {
				ctx := viewer.ForTenant(context.Background(), tn.ID)
				tx, err := db.Client.Tx(ctx)
				if err != nil {
					t.Fatal(err)
				}
				src := tx.Source.Create().SetDisplayName("s").SetTemplateID("custom").
					SetMaxBodyBytes(1).SetDedupWindowSeconds(60).SaveX(ctx)
				tx.Secret.Create().SetSourceID(src.ID).SetKeyID("k").SetCiphertext([]byte("sealed")).
					SetFingerprint("sha256:0000000000000000").ExecX(ctx)
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			rows := db.Client.ConfigChange.Query().Order(ent.Asc(configchange.FieldID)).AllX(sys)
			if len(rows) != 4 {
				t.Fatalf("%d changes, want 4", len(rows))
			}
			for i, r := range rows {
				if want := []*ent.Tenant{a, a, b, b}[i]; r.TenantID != want.ID {
					t.Errorf("change %d of tenant %s, want %s", r.ID, r.TenantID, want.ID)
				}
			}
			seen := db.Client.ConfigChange.Query().IDsX(viewer.ForTenant(context.Background(), b.ID))
			if len(seen) != 2 || seen[0] != rows[2].ID || seen[1] != rows[3].ID {
				t.Errorf("tenant b reads changes %v, want [%d %d]", seen, rows[2].ID, rows[3].ID)
			}
		})
	}
}
