// Package rule holds the privacy rules of the ent schema. Rules are named for
// their decision (Deny…, Allow…, Filter…) and depend only on ent's base
// packages, so the generated code can be rebuilt from nothing.
package rule

import (
	"context"
	"reflect"
	"slices"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"

	"github.com/plugshq/plugs/ent/viewer"
)

// DenyIfNoViewer denies any query or mutation whose context carries no viewer.
func DenyIfNoViewer() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if _, ok := viewer.FromContext(ctx); !ok {
			return privacy.Denyf("no viewer in context")
		}
		return privacy.Skip
	})
}

// AllowIfSystem allows everything to the system viewer.
func AllowIfSystem() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v, ok := viewer.FromContext(ctx); ok && v.System {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// DenyMutation denies every mutation that earlier rules did not allow.
func DenyMutation() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(context.Context, ent.Mutation) error {
		return privacy.Denyf("mutation not allowed")
	})
}

// wherer is implemented by every generated mutation.
type wherer interface {
	WhereP(...func(*sql.Selector))
}

// addPredicate adds p to a generated query or mutation. Mutations take a
// plain selector function; queries take their own predicate type, whose
// underlying type is the same function type, through Where. Reflection
// keeps this package free of generated code.
func addPredicate(q any, p func(*sql.Selector)) bool {
	if w, ok := q.(wherer); ok {
		w.WhereP(p)
		return true
	}
	m := reflect.ValueOf(q).MethodByName("Where")
	if !m.IsValid() || m.Type().NumIn() != 1 || !m.Type().IsVariadic() {
		return false
	}
	pt := m.Type().In(0).Elem()
	pv := reflect.ValueOf(p)
	if !pv.Type().ConvertibleTo(pt) {
		return false
	}
	m.Call([]reflect.Value{pv.Convert(pt)})
	return true
}

// FilterTenantRule restricts queries, updates and deletes to the viewer's
// tenant by adding a tenant_id predicate, then allows them: a row of another
// tenant is simply not there.
func FilterTenantRule() privacy.QueryMutationRule {
	return filterColumnRule{column: "tenant_id"}
}

// FilterOwnTenantRule does the same for the tenant table itself, whose key is
// id.
func FilterOwnTenantRule() privacy.QueryMutationRule {
	return filterColumnRule{column: "id"}
}

type filterColumnRule struct{ column string }

func (r filterColumnRule) filter(ctx context.Context, w any) error {
	v, ok := viewer.FromContext(ctx)
	if !ok || v.System {
		return privacy.Skip
	}
	if !addPredicate(w, sql.FieldEQ(r.column, v.TenantID)) {
		return privacy.Denyf("unexpected %T in tenant filter", w)
	}
	return privacy.Allow
}

func (r filterColumnRule) EvalQuery(ctx context.Context, q ent.Query) error {
	return r.filter(ctx, q)
}

func (r filterColumnRule) EvalMutation(ctx context.Context, m ent.Mutation) error {
	// Creates carry no predicate; the tenant mixin's hook stamps them with
	// the viewer's tenant instead.
	if m.Op().Is(ent.OpCreate) {
		return privacy.Allow
	}
	return r.filter(ctx, m)
}

// FilterColumnsRule lets a tenant viewer read rows shared by every tenant,
// such as the data planes, but only the given columns: a query that selects
// nothing is narrowed to them, and one that names another column is
// denied, so what a tenant may not see is never read for it. The row's key
// is read all the same (ent always selects it); whoever renders the rows
// for a tenant leaves it out where it names shared infrastructure.
func FilterColumnsRule(columns ...string) privacy.QueryRule {
	return filterColumnsRule{columns: columns}
}

type filterColumnsRule struct{ columns []string }

func (r filterColumnsRule) EvalQuery(ctx context.Context, _ ent.Query) error {
	v, ok := viewer.FromContext(ctx)
	if !ok || v.System {
		return privacy.Skip
	}
	qc := ent.QueryFromContext(ctx)
	if qc == nil {
		return privacy.Denyf("no query context for the column filter")
	}
	if len(qc.Fields) == 0 {
		qc.Fields = slices.Clone(r.columns)
		return privacy.Allow
	}
	for _, f := range qc.Fields {
		if !slices.Contains(r.columns, f) {
			return privacy.Denyf("column %q is not readable by a tenant", f)
		}
	}
	return privacy.Allow
}
