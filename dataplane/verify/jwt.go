package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// DefaultLeeway is the clock skew allowed on a token's exp, nbf and iat
// when a scheme sets none.
const DefaultLeeway = time.Minute

// jwtScheme is a compiled plugsv1.JwtScheme.
type jwtScheme struct {
	header     string // canonical
	prefix     string
	slot       int // body path of the token, -1 when none
	wholeBody  bool
	algs       map[string]sigAlg
	keys       *keySource
	issuers    []string
	audiences  []string
	claims     []claimPin
	pin        jp.Expr
	pinText    string
	hashClaim  string
	hash       plugsv1.JwtScheme_BodyHash
	maxAge     time.Duration
	leeway     time.Duration
	requireExp bool
	detached   bool
	document   plugsv1.JwtScheme_Document
	decode     []jp.Expr
	decodeText []jp.Expr
	nested     []jp.Expr
}

type claimPin struct {
	path jp.Expr
	text string
	want string
}

func (v *Verifier) compileJWT(s *plugsv1.JwtScheme) error {
	if s == nil {
		return errors.New("ALGORITHM_JWT needs jwt")
	}
	j := &jwtScheme{header: canonical(s.GetHeader()), prefix: s.GetPrefix(), slot: -1, wholeBody: s.GetWholeBody(),
		issuers: s.GetIssuers(), audiences: s.GetAudiences(), hashClaim: s.GetBodyHashClaim(), hash: s.GetBodyHash(),
		requireExp: s.GetRequireExpiry(), detached: s.GetDetached(), document: s.GetDocument(), leeway: DefaultLeeway, algs: map[string]sigAlg{}}
	if p := s.GetJsonPath(); p != "" {
		slot, err := v.paths.Add(p)
		if err != nil {
			return fmt.Errorf("jwt.json_path: %w", err)
		}
		j.slot = slot
	}
	where := 0
	for _, set := range []bool{j.header != "", j.slot >= 0, j.wholeBody} {
		if set {
			where++
		}
	}
	if where != 1 {
		return errors.New("jwt: the token is in a header, a body JSONPath or the whole body: exactly one")
	}
	keys, err := compileKeySource(s.GetKeys(), &v.paths)
	if err != nil {
		return fmt.Errorf("jwt.%w", err)
	}
	j.keys = keys
	if len(s.GetAlgorithms()) == 0 {
		return errors.New("jwt.algorithms is required")
	}
	for _, name := range s.GetAlgorithms() {
		a, ok := joseAlgs[name]
		if !ok {
			return fmt.Errorf("jwt.algorithms: %q is not supported", name)
		}
		// An HMAC algorithm with a public key, or a public-key algorithm
		// with an HMAC secret, is how algorithm confusion starts: refused
		// here, and keys that do not fit never verify anyway.
		if a.hmac() != (keys.kind == plugsv1.KeySource_KIND_SECRET && keys.format == plugsv1.KeySource_FORMAT_HMAC) {
			return fmt.Errorf("jwt.algorithms: %s needs %s", name, map[bool]string{true: "keys of FORMAT_HMAC", false: "a public key"}[a.hmac()])
		}
		j.algs[name] = a
	}
	for p, want := range s.GetClaims() {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("jwt.claims[%q]: %w", p, err)
		}
		j.claims = append(j.claims, claimPin{path: x, text: p, want: want})
	}
	slices.SortFunc(j.claims, func(a, b claimPin) int { return strings.Compare(a.text, b.text) })
	if p := s.GetPinClaim(); p != "" {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("jwt.pin_claim: %w", err)
		}
		j.pin, j.pinText = x, p
	}
	if keys.fetched() && j.pin == nil && !keys.withSecret {
		return errors.New("jwt: keys fetched from the provider need the source's secret pinned (pin_claim) or sent to the key endpoint; otherwise any token the provider signs for anyone passes")
	}
	if !keys.fetched() && j.pin != nil {
		return errors.New("jwt: the source's secrets are its keys; they cannot also be pinned")
	}
	if (j.hashClaim == "") != (j.hash == plugsv1.JwtScheme_BODY_HASH_UNSPECIFIED) {
		return errors.New("jwt: body_hash_claim and body_hash go together")
	}
	if d := s.GetMaxAge(); d != nil {
		if j.maxAge = d.AsDuration(); j.maxAge <= 0 {
			return errors.New("jwt.max_age must be positive")
		}
	}
	if d := s.GetLeeway(); d != nil {
		if j.leeway = d.AsDuration(); j.leeway < 0 || j.leeway > time.Hour {
			return errors.New("jwt.leeway must be between 0 and 1 h")
		}
	}
	for _, p := range s.GetDecodeBase64JsonPaths() {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("jwt.decode_base64_json_paths: %w", err)
		}
		j.decode = append(j.decode, x)
	}
	for _, p := range s.GetDecodeJsonTextPaths() {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("jwt.decode_json_text_paths: %w", err)
		}
		j.decodeText = append(j.decodeText, x)
	}
	for _, p := range s.GetNestedJwsJsonPaths() {
		x, err := jp.ParseString(p)
		if err != nil {
			return fmt.Errorf("jwt.nested_jws_json_paths: %w", err)
		}
		j.nested = append(j.nested, x)
	}
	v.jwt = j
	return nil
}

// verifyJWT checks the request's token, its claims, and sets
// req.Document when mapping reads something other than the body.
func (v *Verifier) verifyJWT(req *Request, opts Options) error {
	j := v.jwt
	text, err := j.token(req, &v.paths)
	if err != nil {
		return err
	}
	var body []byte
	if j.detached {
		body = req.Body.Raw()
	}
	claims, payloadJSON, err := v.verifyJWS(req, opts, text, body)
	if err != nil {
		return err
	}
	if err := j.checkClaims(claims, opts); err != nil {
		return err
	}
	if j.pin != nil {
		if !v.pinnedClaim(j.pin.Get(claims), opts) {
			return fmt.Errorf("%w: claim %s is not one of the source's", ErrSignatureInvalid, j.pinText)
		}
	}
	if j.hashClaim != "" {
		if err := j.checkBodyHash(claims, req.Body.Raw()); err != nil {
			return err
		}
	}
	doc, err := v.document(req, opts, claims, payloadJSON)
	if err != nil {
		return err
	}
	req.Document = doc
	return nil
}

// token returns the token text of a request.
func (j *jwtScheme) token(req *Request, paths *payload.Paths) (string, error) {
	switch {
	case j.header != "":
		h := strings.TrimSpace(req.Header.Get(j.header))
		if h == "" {
			return "", fmt.Errorf("%w: header %s", ErrSignatureMissing, j.header)
		}
		if j.prefix != "" {
			if len(h) < len(j.prefix) || !strings.EqualFold(h[:len(j.prefix)], j.prefix) {
				return "", fmt.Errorf("%w: expected prefix %q", ErrSignatureMalformed, j.prefix)
			}
			h = strings.TrimSpace(h[len(j.prefix):])
		}
		return h, nil
	case j.slot >= 0:
		val, err := paths.Get(req.Body, j.slot)
		if err != nil {
			return "", fmt.Errorf("%w: body does not parse: %w", ErrSignatureMissing, err)
		}
		if val.Kind != payload.String || val.Text() == "" {
			return "", fmt.Errorf("%w: %s", ErrSignatureMissing, paths.Text(j.slot))
		}
		return val.Text(), nil
	}
	t := strings.TrimSpace(string(req.Body.Raw()))
	if t == "" {
		return "", fmt.Errorf("%w: empty body", ErrSignatureMissing)
	}
	return t, nil
}

// verifyJWS verifies a token's signature under the scheme's keys and
// returns its claims (parsed) and its payload. A detached payload, when
// not nil, is the payload the token's empty segment stands for.
func (v *Verifier) verifyJWS(req *Request, opts Options, text string, detached []byte) (any, []byte, error) {
	j := v.jwt
	t, err := parseJWS(text)
	if err != nil {
		return nil, nil, err
	}
	if detached != nil {
		if len(t.payload) > 0 {
			return nil, nil, fmt.Errorf("%w: a detached token carries no payload", ErrSignatureMalformed)
		}
		h, _, _ := strings.Cut(text, ".")
		t.signingInput = append([]byte(h+"."), base64.RawURLEncoding.EncodeToString(detached)...)
		t.payload = detached
	}
	alg, ok := j.algs[t.header.Alg]
	if !ok {
		// "none" lands here: it is never in the list.
		return nil, nil, fmt.Errorf("%w: token algorithm %q is not accepted", ErrSignatureInvalid, t.header.Alg)
	}
	kr := keyRequest{kid: t.header.Kid, x5c: t.header.X5c}
	if j.keys.kidHeader != "" {
		kr.kid = strings.TrimSpace(req.Header.Get(j.keys.kidHeader))
	}
	keys, err := v.keysFor(req, opts, j.keys, kr)
	if err != nil {
		return nil, nil, err
	}
	matched := false
	for _, k := range keys {
		if k.alg != "" && k.alg != t.header.Alg {
			continue // a JWK that names its algorithm is used for that one only
		}
		if (t.header.Kid != "" && k.kid != "" && k.kid != t.header.Kid) && !j.keys.fetched() {
			continue
		}
		if verifySignature(alg, k.key, t.signingInput, t.sig) {
			matched = true
			break
		}
	}
	if !matched {
		return nil, nil, ErrSignatureInvalid
	}
	claims, err := oj.Parse(t.payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: token payload is not JSON: %w", ErrSignatureMalformed, err)
	}
	if _, ok := claims.(map[string]any); !ok {
		return nil, nil, fmt.Errorf("%w: token payload is not a JSON object", ErrSignatureMalformed)
	}
	return claims, t.payload, nil
}

// checkClaims checks the registered claims (exp, nbf, iat, iss, aud) and
// the scheme's pinned claims.
func (j *jwtScheme) checkClaims(claims any, opts Options) error {
	m := claims.(map[string]any)
	now := opts.Now
	numeric := func(name string) (time.Time, bool, error) {
		raw, ok := m[name]
		if !ok {
			return time.Time{}, false, nil
		}
		var f float64
		switch n := raw.(type) {
		case int64:
			f = float64(n)
		case float64:
			f = n
		default:
			return time.Time{}, true, fmt.Errorf("%w: claim %s is not a number", ErrSignatureMalformed, name)
		}
		if math.IsNaN(f) || math.Abs(f) > 1e11 {
			return time.Time{}, true, fmt.Errorf("%w: claim %s is out of range", ErrSignatureMalformed, name)
		}
		return time.Unix(int64(f), 0), true, nil
	}
	exp, hasExp, err := numeric("exp")
	if err != nil {
		return err
	}
	if hasExp && !now.Before(exp.Add(j.leeway)) {
		return fmt.Errorf("%w: token expired at %s", ErrSignatureStale, exp.UTC().Format(time.RFC3339))
	}
	if !hasExp && j.requireExp {
		return fmt.Errorf("%w: token has no exp", ErrSignatureMissing)
	}
	if nbf, ok, err := numeric("nbf"); err != nil {
		return err
	} else if ok && now.Add(j.leeway).Before(nbf) {
		return fmt.Errorf("%w: token not valid before %s", ErrSignatureStale, nbf.UTC().Format(time.RFC3339))
	}
	iat, hasIat, err := numeric("iat")
	if err != nil {
		return err
	}
	if hasIat && now.Add(j.leeway).Before(iat) {
		return fmt.Errorf("%w: token issued in the future (%s)", ErrSignatureStale, iat.UTC().Format(time.RFC3339))
	}
	if j.maxAge > 0 && !opts.SkipFreshness {
		if !hasIat {
			return fmt.Errorf("%w: token has no iat", ErrSignatureMissing)
		}
		if now.Sub(iat) > j.maxAge+j.leeway {
			return fmt.Errorf("%w: token issued %s ago", ErrSignatureStale, now.Sub(iat).Round(time.Second))
		}
	}
	if len(j.issuers) > 0 {
		iss, _ := m["iss"].(string)
		if !slices.Contains(j.issuers, iss) {
			return fmt.Errorf("%w: token issuer %q is not accepted", ErrSignatureInvalid, iss)
		}
	}
	if len(j.audiences) > 0 {
		if !slices.ContainsFunc(audiences(m["aud"]), func(a string) bool { return slices.Contains(j.audiences, a) }) {
			return fmt.Errorf("%w: token audience is not accepted", ErrSignatureInvalid)
		}
	}
	for _, c := range j.claims {
		got, ok := c.path.First(claims).(string)
		if !ok || got != c.want {
			return fmt.Errorf("%w: claim %s is not %q", ErrSignatureInvalid, c.text, c.want)
		}
	}
	return nil
}

// audiences reads "aud": a string or an array of strings.
func audiences(aud any) []string {
	switch a := aud.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// pinnedClaim reports whether one of the values found (strings, or arrays
// of strings) equals one of the source's active secrets.
func (v *Verifier) pinnedClaim(found []any, opts Options) bool {
	for _, f := range found {
		for _, s := range audiences(f) {
			if v.pinned(s, opts) {
				return true
			}
		}
	}
	return false
}

// checkBodyHash compares the body hash claim with the body.
func (j *jwtScheme) checkBodyHash(claims any, body []byte) error {
	got, ok := claims.(map[string]any)[j.hashClaim].(string)
	if !ok || got == "" {
		return fmt.Errorf("%w: token has no %s claim", ErrSignatureMissing, j.hashClaim)
	}
	if j.hash == plugsv1.JwtScheme_BODY_HASH_IDENTITY {
		if subtle.ConstantTimeCompare([]byte(got), body) != 1 {
			return fmt.Errorf("%w: the body is not the token's %s", ErrSignatureInvalid, j.hashClaim)
		}
		return nil
	}
	sum := sha256.Sum256(body)
	var want string
	switch j.hash {
	case plugsv1.JwtScheme_BODY_HASH_SHA256_HEX:
		want, got = hex.EncodeToString(sum[:]), strings.ToLower(got)
	case plugsv1.JwtScheme_BODY_HASH_SHA256_BASE64:
		want, got = base64.RawStdEncoding.EncodeToString(sum[:]), strings.TrimRight(got, "=")
	case plugsv1.JwtScheme_BODY_HASH_SHA256_BASE64URL:
		want, got = base64.RawURLEncoding.EncodeToString(sum[:]), strings.TrimRight(got, "=")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fmt.Errorf("%w: the body does not match the token's %s", ErrSignatureInvalid, j.hashClaim)
	}
	return nil
}
