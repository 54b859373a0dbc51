package streamindex

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// SubjectIDs reads the two ids of a subject that subject built from them,
// as backbone.ReceiptSubject(tenant, source) does; false when it is not
// such a subject or an id is not a UUID.
func SubjectIDs(s string, subject func(a, b string) string) (a, b uuid.UUID, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return uuid.Nil, uuid.Nil, false
	}
	pa, pb := parts[len(parts)-2], parts[len(parts)-1]
	if subject(pa, pb) != s {
		return uuid.Nil, uuid.Nil, false
	}
	var err1, err2 error
	a, err1 = uuid.Parse(pa)
	b, err2 = uuid.Parse(pb)
	return a, b, err1 == nil && err2 == nil
}

// MatchID parses an id a message carries, taking the subject's when it is
// empty, and refuses one that disagrees with the subject: the data plane
// derived both from the same id, so a message filed under another
// tenant's subject is a bug, and indexing it could show it to the wrong
// tenant.
func MatchID(field, s string, fromSubject uuid.UUID) (uuid.UUID, error) {
	if s == "" {
		return fromSubject, nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s %q: %w", field, s, err)
	}
	if id != fromSubject {
		return uuid.Nil, fmt.Errorf("%s %s published on the subject of %s", field, id, fromSubject)
	}
	return id, nil
}

// IDs are the ids a message is filed under: its own, its tenant's and its
// owner's (the source of a receipt, the destination of an attempt).
type IDs struct {
	ID, Tenant, Owner uuid.UUID
}

// ParseIDs reads the ids of a message published on subject, which
// subjectOf built from the tenant and owner ids (as
// backbone.ReceiptSubject(tenant, source) does): its own id must parse,
// and its tenant and owner ids are taken from the subject when empty and
// refused when they disagree with it (MatchID). ownerField names the
// owner's id, as in "source_id". No error is worth a retry: a package
// wraps them in its ErrMalformed.
func ParseIDs(subject string, subjectOf func(tenant, owner string) string, id, tenantID, ownerField, ownerID string) (IDs, error) {
	owner := strings.TrimSuffix(ownerField, "_id")
	subTenant, subOwner, ok := SubjectIDs(subject, subjectOf)
	if !ok {
		return IDs{}, fmt.Errorf("subject %q is not %s", subject, subjectOf("<tenant id>", "<"+owner+" id>"))
	}
	var ids IDs
	var err error
	if ids.ID, err = uuid.Parse(id); err != nil {
		return IDs{}, fmt.Errorf("id %q: %w", id, err)
	}
	if ids.Tenant, err = MatchID("tenant_id", tenantID, subTenant); err != nil {
		return IDs{}, err
	}
	if ids.Owner, err = MatchID(ownerField, ownerID, subOwner); err != nil {
		return IDs{}, err
	}
	if ids.Tenant == uuid.Nil || ids.Owner == uuid.Nil {
		return IDs{}, fmt.Errorf("nil tenant or %s id", owner)
	}
	return ids, nil
}
