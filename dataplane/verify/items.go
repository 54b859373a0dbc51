package verify

import (
	"fmt"

	"github.com/ohler55/ojg/oj"

	"github.com/plugshq/plugs/dataplane/payload"
)

// maxItems bounds how many items of one body are verified, so a body of
// thousands of tiny items cannot multiply the work past what its size
// already allows.
const maxItems = 1000

// Items returns the separately signed items of a body (Adyen's
// notificationItems), each as a document of its own for VerifyItem, and
// nil when the scheme signs the body as a whole.
func (v *Verifier) Items(body *payload.Doc) ([]*payload.Doc, error) {
	if v.items == nil {
		return nil, nil
	}
	data, err := body.Parsed()
	if err != nil {
		return nil, fmt.Errorf("%w: body does not parse: %w", ErrSignatureMissing, err)
	}
	found := v.items.Get(data)
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: no item at %s", ErrSignatureMissing, v.items.String())
	}
	if len(found) > maxItems {
		return nil, fmt.Errorf("%w: %d items, at most %d are verified", ErrSignatureMalformed, len(found), maxItems)
	}
	docs := make([]*payload.Doc, len(found))
	for i, item := range found {
		docs[i] = payload.New([]byte(oj.JSON(item)), "application/json")
	}
	return docs, nil
}

// VerifyItem verifies one item of a body whose items are signed one by one
// (see Items): the scheme's signature and body-field paths are read
// relative to item, headers and the URL from req. Batch fan-out calls it
// per item, so one item that fails is refused without the others.
func (v *Verifier) VerifyItem(req *Request, item *payload.Doc, opts Options) error {
	r := *req
	r.Body = item
	return v.verify(&r, opts)
}

// verifyItems verifies a request whose items are signed one by one: it
// passes only when every item does.
func (v *Verifier) verifyItems(req *Request, opts Options) error {
	if v.activeKeys(opts.Now) == 0 {
		return ErrSecretMissing
	}
	items, err := v.Items(req.Body)
	if err != nil {
		return err
	}
	for i, item := range items {
		if err := v.VerifyItem(req, item, opts); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	return nil
}
