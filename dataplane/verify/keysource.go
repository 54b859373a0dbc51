package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// maxChain bounds the certificates of an x5c header.
const maxChain = 5

// keySource is a compiled plugsv1.KeySource.
type keySource struct {
	kind      plugsv1.KeySource_Kind
	format    plugsv1.KeySource_Format
	urlHeader string // canonical
	urlSlot   int    // body path of the certificate URL, -1 when none
	patterns  []urlPattern
	url       string
	roots     plugsv1.KeySource_Roots
	oids      []asn1.ObjectIdentifier
	dnsNames  []string
	kidHeader string // canonical
	endpoint  *plugsv1.KeyEndpoint
	keyPath   jp.Expr
	// withSecret is set when key endpoint calls carry the source's secret
	// (a credential).
	withSecret bool
	// policyID names the chain policy in cache keys: the same URL checked
	// under two policies is two entries.
	policyID string
}

func compileKeySource(ks *plugsv1.KeySource, paths *payload.Paths) (*keySource, error) {
	s := &keySource{kind: ks.GetKind(), format: ks.GetFormat(), urlSlot: -1, roots: ks.GetRoots(),
		dnsNames: ks.GetLeafDnsNames(), kidHeader: canonical(ks.GetKeyIdHeader()), endpoint: ks.GetEndpoint()}
	switch s.kind {
	case plugsv1.KeySource_KIND_SECRET:
		if s.format == plugsv1.KeySource_FORMAT_UNSPECIFIED {
			return nil, errors.New("keys.format is required when the keys are the source's secrets")
		}
	case plugsv1.KeySource_KIND_CERTIFICATE_URL:
		s.urlHeader = canonical(ks.GetUrlHeader())
		if p := ks.GetUrlJsonPath(); p != "" {
			slot, err := paths.Add(p)
			if err != nil {
				return nil, fmt.Errorf("keys.url_json_path: %w", err)
			}
			s.urlSlot = slot
		}
		if (s.urlHeader == "") == (s.urlSlot < 0) {
			return nil, errors.New("keys: a certificate URL comes from url_header or url_json_path, one of them")
		}
		if len(ks.GetAllowedUrls()) == 0 {
			return nil, errors.New("keys.allowed_urls is required: a certificate URL a request names is fetched only from allowed hosts")
		}
		if err := s.allow(ks.GetAllowedUrls()); err != nil {
			return nil, err
		}
	case plugsv1.KeySource_KIND_JWKS, plugsv1.KeySource_KIND_KEY_ENDPOINT:
		u, err := url.Parse(strings.ReplaceAll(ks.GetUrl(), "{secret}", "secret.invalid"))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("keys.url must be an https URL, not %q", ks.GetUrl())
		}
		s.url = ks.GetUrl()
		if s.kind == plugsv1.KeySource_KIND_JWKS && strings.Contains(s.url, "{secret}") {
			// The URL is the tenant's, from its secret: only allowed ones.
			if len(ks.GetAllowedUrls()) == 0 {
				return nil, errors.New("keys.allowed_urls is required when keys.url carries {secret}")
			}
			if err := s.allow(ks.GetAllowedUrls()); err != nil {
				return nil, err
			}
			s.withSecret = true
		}
		if s.kind == plugsv1.KeySource_KIND_KEY_ENDPOINT {
			ep := s.endpoint
			switch ep.GetMethod() {
			case "", http.MethodGet, http.MethodPost:
			default:
				return nil, fmt.Errorf("keys.endpoint.method must be GET or POST, not %q", ep.GetMethod())
			}
			if ep.GetKeyJsonPath() == "" {
				return nil, errors.New("keys.endpoint.key_json_path is required")
			}
			x, err := jp.ParseString(ep.GetKeyJsonPath())
			if err != nil {
				return nil, fmt.Errorf("keys.endpoint.key_json_path: %w", err)
			}
			s.keyPath = x
			s.withSecret = strings.Contains(ep.GetBody(), "{secret") || strings.Contains(s.url, "{secret")
			for _, v := range ep.GetHeaders() {
				s.withSecret = s.withSecret || strings.Contains(v, "{secret")
			}
		}
	case plugsv1.KeySource_KIND_X5C:
	default:
		return nil, errors.New("keys.kind is required")
	}
	if s.kind == plugsv1.KeySource_KIND_X5C && s.roots == plugsv1.KeySource_ROOTS_UNSPECIFIED {
		return nil, errors.New("keys.roots is required for an x5c chain: nothing else vouches for it")
	}
	for i, o := range ks.GetChainExtensionOids() {
		oid, err := parseOID(o)
		if err != nil {
			return nil, fmt.Errorf("keys.chain_extension_oids[%d]: %w", i, err)
		}
		s.oids = append(s.oids, oid)
	}
	s.policyID = fmt.Sprintf("%d|%s|%s", s.roots, strings.Join(s.dnsNames, ","), strings.Join(ks.GetChainExtensionOids(), ","))
	return s, nil
}

// fetched reports whether keys come from the provider rather than the
// source's secrets.
// allow compiles the URLs keys may be fetched from.
func (s *keySource) allow(urls []string) error {
	for _, a := range urls {
		p, err := parseURLPattern(a)
		if err != nil {
			return fmt.Errorf("keys.allowed_urls: %w", err)
		}
		s.patterns = append(s.patterns, p)
	}
	return nil
}

func (s *keySource) fetched() bool { return s.kind != plugsv1.KeySource_KIND_SECRET }

// keyRequest is what a request says about its key.
type keyRequest struct {
	kid string
	x5c []string
	// secret is the source's secret a key endpoint is called with.
	secret []byte
}

// resolve returns the keys that may have signed req; for KIND_SECRET the
// caller holds them.
func (s *keySource) resolve(ctx context.Context, f *Fetcher, req *Request, paths *payload.Paths, now time.Time, kr keyRequest) ([]publicKey, error) {
	if s.kind == plugsv1.KeySource_KIND_X5C {
		return s.x5cKey(f, kr.x5c, now)
	}
	if f == nil {
		return nil, &KeyUnavailableError{URL: s.url, Err: errors.New("this data plane fetches no keys"), RetryAfter: time.Minute}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	switch s.kind {
	case plugsv1.KeySource_KIND_CERTIFICATE_URL:
		return s.certificateKey(ctx, f, req, paths, now)
	case plugsv1.KeySource_KIND_JWKS:
		u := s.url
		if s.withSecret {
			var err error
			if u, err = allowedURL(strings.ReplaceAll(s.url, "{secret}", string(kr.secret)), s.patterns, true); err != nil {
				return nil, fmt.Errorf("%w: the source's secret does not make an allowed key set URL: %w", ErrSecretMissing, err)
			}
		}
		return s.jwksKeys(ctx, f, u, kr.kid)
	case plugsv1.KeySource_KIND_KEY_ENDPOINT:
		return s.endpointKey(ctx, f, kr)
	}
	return nil, fmt.Errorf("%w: no key source", ErrInvalidScheme)
}

func (s *keySource) policy(f *Fetcher) (chainPolicy, error) {
	p := chainPolicy{oids: s.oids, dnsNames: s.dnsNames}
	if s.roots == plugsv1.KeySource_ROOTS_UNSPECIFIED {
		return p, nil
	}
	var err error
	if f != nil {
		p.roots, err = f.roots(s.roots)
	} else if s.roots == plugsv1.KeySource_ROOTS_APPLE_ROOT_CA_G3 {
		p.roots, err = appleRoots()
	} else {
		p.roots, err = x509.SystemCertPool()
	}
	if err != nil {
		return p, &KeyUnavailableError{URL: "roots", Err: err, RetryAfter: time.Minute}
	}
	return p, nil
}

// certificateKey fetches the certificate the request names, from an
// allowed URL only: the URL is checked before any connection is made.
func (s *keySource) certificateKey(ctx context.Context, f *Fetcher, req *Request, paths *payload.Paths, now time.Time) ([]publicKey, error) {
	raw, err := requestText(req, paths, s.urlHeader, s.urlSlot)
	if err != nil {
		return nil, err
	}
	if raw == "" {
		return nil, fmt.Errorf("%w: certificate URL", ErrSignatureMissing)
	}
	u, err := allowedURL(raw, s.patterns, true)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate URL: %w", ErrSignatureInvalid, err)
	}
	pol, err := s.policy(f)
	if err != nil {
		return nil, err
	}
	v, err := f.get(ctx, fetchSpec{key: "cert " + s.policyID + " " + u, url: u, parse: func(body []byte) (any, time.Time, error) {
		certs, err := parseCertificates(body)
		if err != nil {
			return nil, time.Time{}, err
		}
		if err := pol.check(certs, f.opts.Now()); err != nil {
			return nil, time.Time{}, err
		}
		if _, err := checkKey(certs[0].PublicKey); err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: certificate key: %w", ErrSignatureInvalid, err)
		}
		notAfter := certs[0].NotAfter
		for _, c := range certs[1:] {
			if c.NotAfter.Before(notAfter) {
				notAfter = c.NotAfter
			}
		}
		return certs[0], notAfter, nil
	}}, time.Time{})
	if err != nil {
		return nil, err
	}
	leaf := v.(*x509.Certificate)
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: certificate is not valid at %s", ErrSignatureInvalid, now.UTC().Format(time.RFC3339))
	}
	return []publicKey{{key: leaf.PublicKey}}, nil
}

// jwksKeys returns the keys of the set with kid (every key when kid is
// empty). A kid the cached set lacks fetches the set again, at most once
// per RefetchWait: providers publish a new key before they sign with it.
func (s *keySource) jwksKeys(ctx context.Context, f *Fetcher, u, kid string) ([]publicKey, error) {
	spec := fetchSpec{key: "jwks " + u, url: u, header: http.Header{"Accept": {"application/json"}},
		parse: func(body []byte) (any, time.Time, error) {
			keys, err := parseJWKs(body)
			return keys, time.Time{}, err
		}}
	fresher := time.Time{}
	for range 2 {
		v, err := f.get(ctx, spec, fresher)
		if err != nil {
			return nil, err
		}
		keys := v.([]publicKey)
		if kid == "" {
			return keys, nil
		}
		var out []publicKey
		for _, k := range keys {
			if k.kid == kid {
				out = append(out, k)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		fresher = f.opts.Now().Add(-f.opts.RefetchWait)
	}
	return nil, fmt.Errorf("%w: no key %q in the key set", ErrSignatureInvalid, kid)
}

// validKeyID bounds what a request may put in a key endpoint's URL.
func validKeyID(kid string) bool {
	if kid == "" || len(kid) > 200 {
		return false
	}
	for i := range len(kid) {
		c := kid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// endpointKey calls the provider's key endpoint for kr.kid.
func (s *keySource) endpointKey(ctx context.Context, f *Fetcher, kr keyRequest) ([]publicKey, error) {
	if kr.kid == "" {
		return nil, fmt.Errorf("%w: key id", ErrSignatureMissing)
	}
	if !validKeyID(kr.kid) {
		return nil, fmt.Errorf("%w: key id %q", ErrSignatureMalformed, kr.kid)
	}
	ep := s.endpoint
	user, pass, _ := strings.Cut(string(kr.secret), ":")
	expand := func(t string, escape func(string) string) string {
		return strings.NewReplacer("{kid}", escape(kr.kid), "{secret}", escape(string(kr.secret)),
			"{secret.user}", escape(user), "{secret.password}", escape(pass)).Replace(t)
	}
	jsonText := func(v string) string { b, _ := json.Marshal(v); return string(b[1 : len(b)-1]) }
	spec := fetchSpec{method: ep.GetMethod(), url: expand(s.url, url.PathEscape), header: http.Header{"Accept": {"application/json"}}}
	if ep.GetBody() != "" {
		spec.body = []byte(expand(ep.GetBody(), jsonText))
		spec.header.Set("Content-Type", "application/json")
	}
	for k, v := range ep.GetHeaders() {
		val := expand(v, func(s string) string { return s })
		if strings.ContainsAny(val, "\r\n") {
			return nil, fmt.Errorf("%w: a key endpoint header would carry a line break", ErrSecretMissing)
		}
		spec.header.Set(k, val)
	}
	// The cache key covers what is sent, credential included (hashed): two
	// sources with different credentials never share a failure.
	h := sha256.New()
	h.Write(spec.body)
	for _, k := range slices.Sorted(maps.Keys(spec.header)) {
		fmt.Fprintf(h, "\n%s:%s", k, spec.header[k])
	}
	spec.key = "endpoint " + spec.method + " " + spec.url + " " + hex.EncodeToString(h.Sum(nil))
	spec.parse = func(body []byte) (any, time.Time, error) {
		doc, err := oj.Parse(body)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("answer is not JSON: %w", err)
		}
		switch k := s.keyPath.First(doc).(type) {
		case map[string]any:
			keys, err := parseJWKs([]byte(oj.JSON(k)))
			return keys, time.Time{}, err
		case string:
			pk, err := parsePEMKey(k)
			if err != nil {
				return nil, time.Time{}, err
			}
			return []publicKey{{key: pk, kid: kr.kid}}, time.Time{}, nil
		}
		return nil, time.Time{}, fmt.Errorf("no key at %s of the answer", ep.GetKeyJsonPath())
	}
	v, err := f.get(ctx, spec, time.Time{})
	if err != nil {
		return nil, err
	}
	return v.([]publicKey), nil
}

// x5cKey checks the chain a token carries and returns its leaf's key.
func (s *keySource) x5cKey(f *Fetcher, x5c []string, now time.Time) ([]publicKey, error) {
	if len(x5c) == 0 {
		return nil, fmt.Errorf("%w: the token carries no x5c chain", ErrSignatureMissing)
	}
	if len(x5c) > maxChain {
		return nil, fmt.Errorf("%w: x5c chain of %d certificates", ErrSignatureMalformed, len(x5c))
	}
	if f == nil {
		return s.x5cCheck(nil, x5c, now)
	}
	h := sha256.New()
	for _, c := range x5c {
		h.Write([]byte(c))
		h.Write([]byte{0})
	}
	v, err := f.remember("x5c "+s.policyID+" "+hex.EncodeToString(h.Sum(nil)), func() (any, time.Time, error) {
		keys, err := s.x5cCheck(f, x5c, now)
		if err != nil {
			return nil, time.Time{}, err
		}
		return keys, keys[0].notAfter, nil
	})
	if err != nil {
		return nil, err
	}
	keys := v.([]publicKey)
	if now.After(keys[0].notAfter) {
		return nil, fmt.Errorf("%w: x5c chain expired at %s", ErrSignatureInvalid, keys[0].notAfter.UTC().Format(time.RFC3339))
	}
	return keys, nil
}

// x5cCheck parses and checks a chain; the key it returns carries the
// earliest expiry of the chain.
func (s *keySource) x5cCheck(f *Fetcher, x5c []string, now time.Time) ([]publicKey, error) {
	certs := make([]*x509.Certificate, 0, len(x5c))
	for i, c := range x5c {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil || len(der) > 16<<10 {
			return nil, fmt.Errorf("%w: x5c[%d] is not base64 DER", ErrSignatureMalformed, i)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %w", ErrSignatureMalformed, i, err)
		}
		certs = append(certs, cert)
	}
	pol, err := s.policy(f)
	if err != nil {
		return nil, err
	}
	if err := pol.check(certs, now); err != nil {
		return nil, err
	}
	k, err := checkKey(certs[0].PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: x5c leaf: %w", ErrSignatureInvalid, err)
	}
	notAfter := certs[0].NotAfter
	for _, c := range certs[1:] {
		notAfter = minTime(notAfter, c.NotAfter)
	}
	return []publicKey{{key: k, notAfter: notAfter}}, nil
}
