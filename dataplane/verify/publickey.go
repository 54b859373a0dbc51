package verify

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// maxSignatureBytes bounds one decoded public-key signature (RSA-8192).
const maxSignatureBytes = 1024

// pkScheme is a compiled plugsv1.PublicKeyScheme.
type pkScheme struct {
	alg        sigAlg // algNone when the request names it
	algHeader  string // canonical
	algSlot    int    // body path of the algorithm name, -1 when none
	algNames   map[string]sigAlg
	keys       *keySource
	canonical  plugsv1.PublicKeyScheme_Canonical
	pinSlot    int // body path of the pinned value, -1 when none
	signSecret bool
}

// compilePublicKey compiles the public-key part of a scheme; the signed
// parts, header and encoding are compiled by Compile.
func (v *Verifier) compilePublicKey(s *plugsv1.PublicKeyScheme) error {
	if s == nil {
		return errors.New("ALGORITHM_PUBLIC_KEY needs public_key")
	}
	pk := &pkScheme{alg: schemeAlg(s.GetAlgorithm()), algHeader: canonical(s.GetAlgorithmHeader()), algSlot: -1, pinSlot: -1,
		canonical: s.GetCanonical()}
	if p := s.GetAlgorithmJsonPath(); p != "" {
		slot, err := v.paths.Add(p)
		if err != nil {
			return fmt.Errorf("public_key.algorithm_json_path: %w", err)
		}
		pk.algSlot = slot
	}
	if pk.algHeader != "" || pk.algSlot >= 0 {
		if len(s.GetAlgorithmNames()) == 0 {
			return errors.New("public_key.algorithm_names must say which algorithm each name means")
		}
		pk.algNames = map[string]sigAlg{}
		for name, a := range s.GetAlgorithmNames() {
			if pk.algNames[name] = schemeAlg(a); pk.algNames[name] == algNone {
				return fmt.Errorf("public_key.algorithm_names[%q]: algorithm missing", name)
			}
		}
	} else if pk.alg == algNone {
		return errors.New("public_key.algorithm is required")
	}
	keys, err := compileKeySource(s.GetKeys(), &v.paths)
	if err != nil {
		return fmt.Errorf("public_key.%w", err)
	}
	if keys.kind == plugsv1.KeySource_KIND_X5C {
		return errors.New("public_key.keys: an x5c chain comes with a token; use ALGORITHM_JWT")
	}
	if keys.format == plugsv1.KeySource_FORMAT_HMAC {
		return errors.New("public_key.keys: an HMAC key is not a public key")
	}
	pk.keys = keys
	if p := s.GetPinJsonPath(); p != "" {
		slot, err := v.paths.Add(p)
		if err != nil {
			return fmt.Errorf("public_key.pin_json_path: %w", err)
		}
		pk.pinSlot = slot
	}
	for _, p := range v.parts {
		pk.signSecret = pk.signSecret || p.kind == plugsv1.SignedPart_KIND_SECRET
	}
	switch {
	case !keys.fetched() && (pk.signSecret || pk.pinSlot >= 0):
		return errors.New("public_key: the source's secrets are its keys; they cannot also be signed or pinned")
	case keys.fetched() && !pk.signSecret && pk.pinSlot < 0 && !keys.withSecret:
		return errors.New("public_key: keys fetched from the provider need the source's secret pinned (pin_json_path), signed (a KIND_SECRET part) or sent to the key endpoint; otherwise anything the provider signs for anyone passes")
	}
	switch pk.canonical {
	case plugsv1.PublicKeyScheme_CANONICAL_UNSPECIFIED:
		if len(v.parts) == 0 {
			return errors.New("signed_parts is empty")
		}
	case plugsv1.PublicKeyScheme_CANONICAL_AWS_SNS:
		if len(v.parts) > 0 {
			return errors.New("public_key.canonical replaces signed_parts; leave them empty")
		}
	default:
		return fmt.Errorf("public_key.canonical %v is unknown", pk.canonical)
	}
	if v.header == "" && v.sigSlot < 0 && v.sigQuery == "" {
		return errors.New("no header, signature_json_path or signature_query_param carries the signature")
	}
	if v.enc == plugsv1.SignatureScheme_ENCODING_UNSPECIFIED {
		return errors.New("encoding missing")
	}
	v.pk = pk
	return nil
}

// verifyPublicKey checks a public-key signature.
func (v *Verifier) verifyPublicKey(req *Request, opts Options) error {
	pk := v.pk
	var sigs [][]byte
	tsText, err := v.collectAll(req, func(text string) bool {
		if len(sigs) < maxSignatures {
			if b := decodeSignature(v.enc, text); b != nil {
				sigs = append(sigs, b)
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no signature in the expected encoding", ErrSignatureMalformed)
	}
	if tsText, err = v.signedTimestamp(req, tsText); err != nil {
		return err
	}
	alg, err := pk.algorithm(req, &v.paths)
	if err != nil {
		return err
	}
	kr := keyRequest{}
	if pk.keys.kidHeader != "" {
		kr.kid = strings.TrimSpace(req.Header.Get(pk.keys.kidHeader))
	}
	keys, err := v.keysFor(req, opts, pk.keys, kr)
	if err != nil {
		return err
	}
	matched := false
	for _, k := range v.keys {
		if matched || (pk.signSecret && !k.activeAt(opts.Now)) {
			continue
		}
		var secret []byte
		if pk.signSecret {
			secret = k.raw
		}
		msg, err := v.signedMessage(req, tsText, secret)
		if err != nil {
			return err
		}
		matched = anySignature(alg, keys, msg, sigs)
		if !pk.signSecret {
			break // one message whatever the secret
		}
	}
	if !matched {
		return ErrSignatureInvalid
	}
	if pk.pinSlot >= 0 {
		if err := v.checkPin(req, opts); err != nil {
			return err
		}
	}
	return v.checkFresh(req, tsText, opts)
}

// signedMessage is what the sender signed.
func (v *Verifier) signedMessage(req *Request, tsText string, secret []byte) ([]byte, error) {
	if v.pk.canonical == plugsv1.PublicKeyScheme_CANONICAL_AWS_SNS {
		return snsStringToSign(req.Body)
	}
	return v.message(nil, req, tsText, secret)
}

func anySignature(alg sigAlg, keys []publicKey, msg []byte, sigs [][]byte) bool {
	for _, k := range keys {
		for _, sig := range sigs {
			if verifySignature(alg, k.key, msg, sig) {
				return true
			}
		}
	}
	return false
}

// algorithm returns the algorithm of a request: the scheme's, or the one
// the request names among those the scheme accepts.
func (pk *pkScheme) algorithm(req *Request, paths *payload.Paths) (sigAlg, error) {
	if pk.algNames == nil {
		return pk.alg, nil
	}
	name, err := requestText(req, paths, pk.algHeader, pk.algSlot)
	if err != nil {
		return algNone, err
	}
	if name == "" {
		return algNone, fmt.Errorf("%w: the request names no signature algorithm", ErrSignatureMissing)
	}
	a, ok := pk.algNames[name]
	if !ok {
		return algNone, fmt.Errorf("%w: signature algorithm %q is not accepted", ErrSignatureInvalid, name)
	}
	return a, nil
}

// checkPin makes sure the pinned value of the body equals one of the
// source's active secrets.
func (v *Verifier) checkPin(req *Request, opts Options) error {
	val, err := v.paths.Get(req.Body, v.pk.pinSlot)
	if err != nil || val.Kind != payload.String {
		return fmt.Errorf("%w: %s", ErrSignatureMissing, v.paths.Text(v.pk.pinSlot))
	}
	if !v.pinned(val.Text(), opts) {
		return fmt.Errorf("%w: %s %q is not one of the source's", ErrSignatureInvalid, v.paths.Text(v.pk.pinSlot), val.Text())
	}
	return nil
}

// pinned reports whether got equals one of the source's active secrets.
func (v *Verifier) pinned(got string, opts Options) bool {
	for _, k := range v.keys {
		if k.activeAt(opts.Now) && subtle.ConstantTimeCompare([]byte(got), k.raw) == 1 {
			return true
		}
	}
	return false
}

// decodeSignature decodes one signature text, nil when it does not
// decode.
func decodeSignature(enc plugsv1.SignatureScheme_Encoding, text string) []byte {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 4*maxSignatureBytes {
		return nil
	}
	var b []byte
	var err error
	switch enc {
	case plugsv1.SignatureScheme_ENCODING_HEX:
		b, err = hex.DecodeString(text)
	case plugsv1.SignatureScheme_ENCODING_BASE64, plugsv1.SignatureScheme_ENCODING_BASE64URL:
		b, err = decodeBase64Loose(text)
	default:
		return nil
	}
	if err != nil || len(b) == 0 || len(b) > maxSignatureBytes {
		return nil
	}
	return b
}

// requestText reads a value a request carries: the header when one is
// named, else the string at the body path slot; "" when absent.
func requestText(req *Request, paths *payload.Paths, header string, slot int) (string, error) {
	if header != "" {
		return strings.TrimSpace(req.Header.Get(header)), nil
	}
	val, err := paths.Get(req.Body, slot)
	if err != nil {
		return "", fmt.Errorf("%w: body does not parse: %w", ErrSignatureMissing, err)
	}
	if val.Kind != payload.String {
		return "", nil
	}
	return val.Text(), nil
}

// keysFor returns the keys that may have signed req: the source's own, or
// those fetched from the provider. When fetching takes the source's secret
// (a credential, a tenant's host), every active secret is tried, so the
// previous one of a rotation still works; it fails only when none gave a
// key.
func (v *Verifier) keysFor(req *Request, opts Options, ks *keySource, kr keyRequest) ([]publicKey, error) {
	var keys []publicKey
	if !ks.fetched() {
		for _, k := range v.keys {
			if k.activeAt(opts.Now) {
				keys = append(keys, k.pubs...)
			}
		}
		return keys, nil
	}
	if !ks.withSecret {
		return ks.resolve(opts.Context, opts.Keys, req, &v.paths, opts.Now, kr)
	}
	var firstErr error
	for _, k := range v.keys {
		if !k.activeAt(opts.Now) {
			continue
		}
		kr.secret = k.raw
		got, err := ks.resolve(opts.Context, opts.Keys, req, &v.paths, opts.Now, kr)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		keys = append(keys, got...)
	}
	if len(keys) == 0 {
		return nil, firstErr
	}
	return keys, nil
}
