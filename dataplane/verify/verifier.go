// Package verify proves a webhook authentic. One engine runs every
// provider: a plugs.v1.SignatureScheme says which header carries the
// signature, how it is encoded and split, what content is signed and where
// the timestamp comes from; Compile turns a scheme and the source's secrets
// into a Verifier once per configuration, and Verify checks a request
// against it. Verify reads the raw body bytes; the body is parsed only when
// the scheme signs or carries something inside it.
package verify

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ohler55/ojg/jp"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultTolerance is how old (or how far ahead) a timestamp may be when a
// scheme sets no tolerance.
const DefaultTolerance = 300 * time.Second

// maxSignatures bounds how many signatures of one request are tried, so a
// header stuffed with thousands of candidates cannot multiply the work.
const maxSignatures = 16

// Verifier checks requests against one source's scheme and secrets. It is
// immutable and safe for concurrent use.
type Verifier struct {
	scheme    *plugsv1.SignatureScheme
	alg       plugsv1.SignatureScheme_Algorithm
	enc       plugsv1.SignatureScheme_Encoding
	header    string // canonical
	prefix    string
	structed  *plugsv1.StructuredHeader
	separator string
	parts     []part
	tsHeader  string // canonical; empty when none
	tsFormat  plugsv1.TimestampSource_Format
	tsSlot    int // body path of the timestamp, -1 when none
	hasTS     bool
	tolerance time.Duration
	token     string // canonical token header
	idHeader  string // canonical
	sigSlot   int    // body path of the signature, -1 when none
	paths     payload.Paths
	keys      []*key
	// signsForm is set when the scheme signs form parameters;
	// bodyHashParam then authenticates a body that is not a form.
	signsForm     bool
	bodyHashParam string
	// tsSigned and idSigned are set when a signed part is the timestamp
	// or the message id.
	tsSigned, idSigned bool
	// Keys whose secrets did not decode; reported by Problems.
	problems []string
	// pk and jwt are set for ALGORITHM_PUBLIC_KEY and ALGORITHM_JWT.
	pk  *pkScheme
	jwt *jwtScheme

	// Signature locations and signed-string sources beyond one header
	// (sources.go).
	alts       map[string][]string // canonical header → alternatives
	sigHeaders []string            // the signature header and its alternatives
	sigQuery   string
	tokenQuery string
	tokenPath  jp.Expr
	tsLeading  bool
	// plain is set for digest algorithms, which hash the parts (one of them
	// the secret) without HMAC; digests pools their hashes.
	plain   bool
	digests sync.Pool
	// items selects the separately signed items of a body (items.go).
	items jp.Expr
	// labelSep splits "<label><sep><signature>" items (Braintree's
	// "public_key|signature"); the label is dropped.
	labelSep string
	// xmlPaths are body fields holding base64 XML, decoded for mapping
	// once the request verified (xmldoc.go).
	xmlPaths []jp.Expr

	// Handshakes (handshake.go).
	handshakes                           []handshakeRule
	signedHandshakes, unsignedHandshakes bool
	captures                             bool
	// confirms is set when a handshake visits a confirmation URL
	// (confirm.go).
	confirms bool
}

type part struct {
	kind   plugsv1.SignedPart_Kind
	value  string // literal text or canonical header name
	slot   int    // body path for KIND_BODY_FIELD
	ctForm bool
	// escape lists characters written with a backslash before them;
	// optional signs an absent value as empty text.
	escape    string
	optional  bool
	lowercase bool
}

// key is one decoded secret.
type key struct {
	id  string
	raw []byte
	// value is the secret as configured, before decoding: what a
	// handshake that delivers the secret compares with.
	value  []byte
	pub    ed25519.PublicKey
	expire time.Time // zero: never
	macs   macPool   // hash.Hash keyed with raw
	// pubs are the keys of public-key and token schemes whose secrets are
	// keys.
	pubs []publicKey
}

// states pools the scratch space of verifications. It is shared by every
// verifier: nothing in it belongs to a scheme, and a pool per verifier would
// be empty whenever a source among thousands gets its next request.
var states = sync.Pool{New: func() any { return &state{scratch: make([]byte, 0, 512)} }}

// state is the scratch space of one verification, pooled.
type state struct {
	sigs    [maxSignatures][64]byte
	lens    [maxSignatures]int
	n       int
	scratch []byte
	sum     [64]byte
}

// Compile checks a scheme and decodes the secrets. A secret that does not
// decode under the scheme is left out (and named by Problems) rather than
// failing the source: the source then fails closed with ErrSecretMissing if
// no secret is left.
func Compile(scheme *plugsv1.SignatureScheme, secrets []*plugsv1.SigningSecret) (*Verifier, error) {
	v := &Verifier{
		scheme:        scheme,
		alg:           scheme.GetAlgorithm(),
		enc:           scheme.GetEncoding(),
		header:        canonical(scheme.GetHeader()),
		prefix:        scheme.GetPrefix(),
		separator:     scheme.GetSignatureSeparator(),
		tsSlot:        -1,
		sigSlot:       -1,
		tolerance:     DefaultTolerance,
		bodyHashParam: scheme.GetBodyHashParam(),
		token:         canonical(scheme.GetTokenHeader()),
		idHeader:      canonical(scheme.GetIdHeader()),
	}
	if st := scheme.GetStructured(); proto.Size(st) > 0 {
		if st.GetItemSeparator() == "" || st.GetKeyValueSeparator() == "" || st.GetSignatureKey() == "" {
			return nil, fmt.Errorf("%w: structured header needs item and key/value separators and a signature key", ErrInvalidScheme)
		}
		v.structed = st
	}
	if d := scheme.GetTolerance(); d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() <= 0 {
			return nil, fmt.Errorf("%w: tolerance must be positive", ErrInvalidScheme)
		}
		v.tolerance = d.AsDuration()
	}
	if ts := scheme.GetTimestamp(); ts != nil {
		v.hasTS = true
		v.tsHeader = canonical(ts.GetHeader())
		v.tsFormat = ts.GetFormat()
		if v.tsFormat == plugsv1.TimestampSource_FORMAT_UNSPECIFIED {
			v.tsFormat = plugsv1.TimestampSource_FORMAT_UNIX_SECONDS
		}
		if p := ts.GetJsonPath(); p != "" {
			slot, err := v.paths.Add(p)
			if err != nil {
				return nil, fmt.Errorf("%w: timestamp.json_path: %w", ErrInvalidScheme, err)
			}
			v.tsSlot = slot
		}
		v.tsLeading = ts.GetLeadingItem()
		if v.tsLeading && v.separator == "" {
			return nil, fmt.Errorf("%w: timestamp.leading_item needs signature_separator", ErrInvalidScheme)
		}
		if v.tsHeader == "" && v.tsSlot < 0 && !v.tsLeading && (v.structed == nil || v.structed.GetTimestampKey() == "") {
			return nil, fmt.Errorf("%w: timestamp set but no header, JSONPath or structured key says where it is", ErrInvalidScheme)
		}
	}
	if p := scheme.GetSignatureJsonPath(); p != "" {
		slot, err := v.paths.Add(p)
		if err != nil {
			return nil, fmt.Errorf("%w: signature_json_path: %w", ErrInvalidScheme, err)
		}
		v.sigSlot = slot
	}
	if err := v.compileSources(scheme); err != nil {
		return nil, err
	}
	v.labelSep = scheme.GetSignatureLabelSeparator()
	if err := v.compileXMLPaths(scheme); err != nil {
		return nil, err
	}
	hasSecret := false
	for i, p := range scheme.GetSignedParts() {
		pt := part{kind: p.GetKind(), value: p.GetValue()}
		switch pt.kind {
		case plugsv1.SignedPart_KIND_HEADER:
			if pt.value == "" {
				return nil, fmt.Errorf("%w: signed_parts[%d]: header name missing", ErrInvalidScheme, i)
			}
			pt.value = canonical(pt.value)
		case plugsv1.SignedPart_KIND_BODY_FIELD:
			slot, err := v.paths.Add(pt.value)
			if err != nil {
				return nil, fmt.Errorf("%w: signed_parts[%d]: %w", ErrInvalidScheme, i, err)
			}
			pt.slot = slot
		case plugsv1.SignedPart_KIND_ID:
			if v.idHeader == "" {
				return nil, fmt.Errorf("%w: signed_parts[%d]: KIND_ID needs id_header", ErrInvalidScheme, i)
			}
			v.idSigned = true
		case plugsv1.SignedPart_KIND_TIMESTAMP:
			v.tsSigned = true
			if !v.hasTS {
				return nil, fmt.Errorf("%w: signed_parts[%d]: KIND_TIMESTAMP needs a timestamp source", ErrInvalidScheme, i)
			}
		case plugsv1.SignedPart_KIND_SORTED_FORM_PARAMS:
			v.signsForm = true
		case plugsv1.SignedPart_KIND_QUERY_PARAM:
			if pt.value == "" {
				return nil, fmt.Errorf("%w: signed_parts[%d]: query parameter name missing", ErrInvalidScheme, i)
			}
		case plugsv1.SignedPart_KIND_SECRET:
			// Plain digests hash the secret with the message; public-key
			// schemes sign a secret value in plain (PayPal's webhook id).
			if digestHash(v.alg) == nil && v.alg != plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY {
				return nil, fmt.Errorf("%w: signed_parts[%d]: KIND_SECRET is only signed by plain-digest and public-key algorithms", ErrInvalidScheme, i)
			}
			hasSecret = true
		case plugsv1.SignedPart_KIND_UNSPECIFIED:
			return nil, fmt.Errorf("%w: signed_parts[%d]: kind missing", ErrInvalidScheme, i)
		}
		pt.escape, pt.optional, pt.lowercase = p.GetEscape(), p.GetOptional(), p.GetLowercase()
		v.parts = append(v.parts, pt)
	}
	newHash := macHash(v.alg)
	if digest := digestHash(v.alg); digest != nil {
		if !hasSecret {
			return nil, fmt.Errorf("%w: a plain digest needs a KIND_SECRET part, or anyone could compute it", ErrInvalidScheme)
		}
		v.plain = true
		v.digests.New = func() any { return digest() }
	}
	if err := v.compileHandshakes(scheme); err != nil {
		return nil, err
	}
	switch {
	case newHash != nil, v.plain:
	case v.alg == plugsv1.SignatureScheme_ALGORITHM_ED25519:
	case v.alg == plugsv1.SignatureScheme_ALGORITHM_TOKEN:
		if v.token == "" && v.tokenQuery == "" && v.tokenPath == nil {
			return nil, fmt.Errorf("%w: token scheme needs token_header, token_query_param or token_json_path", ErrInvalidScheme)
		}
	case v.alg == plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
	case v.alg == plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, v.alg == plugsv1.SignatureScheme_ALGORITHM_JWT:
		if err := v.compileAsymmetric(scheme, secrets); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidScheme, err)
		}
		if err := v.checkConfirms(); err != nil {
			return nil, err
		}
		return v, nil
	default:
		return nil, fmt.Errorf("%w: algorithm %v", ErrInvalidScheme, v.alg)
	}
	if err := v.checkConfirms(); err != nil {
		return nil, err
	}
	if newHash != nil || v.plain || v.alg == plugsv1.SignatureScheme_ALGORITHM_ED25519 {
		if v.header == "" && v.sigSlot < 0 && v.sigQuery == "" {
			return nil, fmt.Errorf("%w: no header or signature_json_path carries the signature", ErrInvalidScheme)
		}
		if len(v.parts) == 0 {
			return nil, fmt.Errorf("%w: signed_parts is empty", ErrInvalidScheme)
		}
		if v.enc == plugsv1.SignatureScheme_ENCODING_UNSPECIFIED {
			return nil, fmt.Errorf("%w: encoding missing", ErrInvalidScheme)
		}
	}
	for _, s := range secrets {
		enc := scheme.GetSecretEncoding()
		if newHash == nil && !v.plain && v.alg != plugsv1.SignatureScheme_ALGORITHM_ED25519 {
			// A token or Basic credentials are compared as configured:
			// they are what the sender puts on the wire.
			enc = plugsv1.SignatureScheme_SECRET_ENCODING_RAW
		}
		k, err := decodeSecret(enc, s.GetValue())
		if err != nil {
			v.problems = append(v.problems, fmt.Sprintf("secret %s: %v", s.GetId(), err))
			continue
		}
		kk := &key{id: s.GetId(), raw: k, value: s.GetValue()}
		if t := s.GetExpireTime(); t != nil {
			kk.expire = t.AsTime()
		}
		if v.alg == plugsv1.SignatureScheme_ALGORITHM_ED25519 {
			if len(k) != ed25519.PublicKeySize {
				v.problems = append(v.problems, fmt.Sprintf("secret %s: an Ed25519 public key has 32 bytes, not %d", s.GetId(), len(k)))
				continue
			}
			kk.pub = ed25519.PublicKey(k)
		}
		if newHash != nil {
			raw := kk.raw
			kk.macs.newMAC = func() hash.Hash { return hmac.New(newHash, raw) }
		}
		v.keys = append(v.keys, kk)
	}
	return v, nil
}

// Problems lists secrets that were left out because they do not decode.
func (v *Verifier) Problems() []string { return v.problems }

// Scheme returns the scheme the verifier was compiled from.
func (v *Verifier) Scheme() *plugsv1.SignatureScheme { return v.scheme }

func canonical(h string) string {
	if h == "" {
		return ""
	}
	return textproto.CanonicalMIMEHeaderKey(h)
}

func decodeSecret(enc plugsv1.SignatureScheme_SecretEncoding, value []byte) ([]byte, error) {
	if len(value) == 0 {
		return nil, fmt.Errorf("empty")
	}
	s := string(value)
	switch enc {
	case plugsv1.SignatureScheme_SECRET_ENCODING_WHSEC_BASE64:
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return nil, fmt.Errorf("not whsec_ and base64: %w", err)
		}
		return b, nil
	case plugsv1.SignatureScheme_SECRET_ENCODING_BASE64:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not base64: %w", err)
		}
		return b, nil
	case plugsv1.SignatureScheme_SECRET_ENCODING_HEX:
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not hex: %w", err)
		}
		return b, nil
	case plugsv1.SignatureScheme_SECRET_ENCODING_SHA1_DIGEST:
		sum := sha1.Sum(value)
		return sum[:], nil
	}
	return value, nil
}
