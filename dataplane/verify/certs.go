package verify

import (
	"crypto/x509"
	_ "embed"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// appleRootPEM is Apple Root CA - G3 (roots/README.md says where it comes
// from).
//
//go:embed roots/AppleRootCA-G3.pem
var appleRootPEM []byte

var appleRoots = sync.OnceValues(func() (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(appleRootPEM) {
		return nil, errors.New("embedded Apple Root CA - G3 does not parse")
	}
	return p, nil
})

// urlPattern is one allowed certificate URL: https, a host whose labels
// match (a "*" label matches any one label), and a path prefix.
type urlPattern struct {
	host []string // labels, lower case
	path string
}

func parseURLPattern(s string) (urlPattern, error) {
	u, err := url.Parse(s)
	if err != nil {
		return urlPattern{}, err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" {
		return urlPattern{}, fmt.Errorf("%q: an allowed URL is https://host/path-prefix, without port, query or credentials", s)
	}
	labels := strings.Split(strings.ToLower(u.Hostname()), ".")
	wild := 0
	for _, l := range labels {
		if l == "" || (l != "*" && strings.Contains(l, "*")) {
			return urlPattern{}, fmt.Errorf("%q: a host label is a name or exactly \"*\"", s)
		}
		if l == "*" {
			wild++
		}
	}
	if len(labels)-wild < 2 {
		return urlPattern{}, fmt.Errorf("%q: at least two host labels must be names", s)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return urlPattern{host: labels, path: path}, nil
}

// matchHost reports whether host (lower case, no port) matches the
// pattern's host.
func (p urlPattern) matchHost(host string) bool {
	labels := strings.Split(host, ".")
	if len(labels) != len(p.host) {
		return false
	}
	for i, l := range labels {
		if p.host[i] == "*" {
			if !validLabel(l) {
				return false
			}
			continue
		}
		if l != p.host[i] {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	for i := range len(l) {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// allowedURL checks a URL a request names against patterns, before
// anything connects to it. It returns the URL as it will be fetched.
func allowedURL(raw string, patterns []urlPattern, withPath bool) (string, error) {
	if len(raw) > 2048 {
		return "", errors.New("URL too long")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("URL does not parse: %w", err)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("%q is not https", redact(raw))
	}
	if u.User != nil || u.Opaque != "" || (u.Port() != "" && u.Port() != "443") {
		return "", fmt.Errorf("%q carries credentials or a port", redact(raw))
	}
	host := strings.ToLower(u.Hostname())
	u.Host = host // the port, if any, is 443
	path := u.EscapedPath()
	for _, p := range patterns {
		if !p.matchHost(host) {
			continue
		}
		if !withPath {
			return u.String(), nil
		}
		// A path with dot segments or a query is never a certificate a
		// provider names: refuse rather than normalise.
		if strings.HasPrefix(path, p.path) && !dotSegments(path) && u.RawQuery == "" && u.Fragment == "" {
			return u.String(), nil
		}
	}
	return "", fmt.Errorf("%q is not on the scheme's list of allowed URLs", redact(raw))
}

// dotSegments reports whether an escaped path has a "." or ".." segment,
// spelled out or percent-encoded.
func dotSegments(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		seg = strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// parseCertificates reads PEM certificates (or one DER certificate), leaf
// first.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		out = append(out, c)
		if len(out) > 8 {
			return nil, errors.New("more than 8 certificates")
		}
	}
	if len(out) == 0 {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, errors.New("no certificate in the answer")
		}
		out = append(out, c)
	}
	return out, nil
}

// chainPolicy is how a certificate chain is checked.
type chainPolicy struct {
	// roots is nil when no chain is checked, only the leaf's validity.
	roots *x509.CertPool
	oids  []asn1.ObjectIdentifier // per chain position, nil for none
	// dnsNames are the names the leaf may be issued to, one of them; none
	// means any.
	dnsNames []string
}

// check verifies certs (leaf first, then intermediates) at now and
// returns an error wrapping ErrSignatureInvalid when they cannot be
// trusted.
func (p chainPolicy) check(certs []*x509.Certificate, now time.Time) error {
	leaf := certs[0]
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: certificate %q is not valid at %s (valid %s to %s)", ErrSignatureInvalid,
			leaf.Subject.CommonName, now.UTC().Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	chain := certs
	if p.roots != nil {
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: p.roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return fmt.Errorf("%w: certificate chain: %w", ErrSignatureInvalid, err)
		}
		chain = chains[0]
	}
	if len(p.dnsNames) > 0 && !slices.ContainsFunc(p.dnsNames, func(n string) bool { return leaf.VerifyHostname(n) == nil }) {
		return fmt.Errorf("%w: certificate is issued to %v, not to %v", ErrSignatureInvalid, leaf.DNSNames, p.dnsNames)
	}
	for i, oid := range p.oids {
		if oid == nil {
			continue
		}
		if i >= len(chain) || !hasExtension(chain[i], oid) {
			return fmt.Errorf("%w: certificate %d of the chain lacks extension %s", ErrSignatureInvalid, i, oid)
		}
	}
	return nil
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	if s == "" {
		return nil, nil
	}
	var oid asn1.ObjectIdentifier
	for part := range strings.SplitSeq(s, ".") {
		n := 0
		if part == "" || len(part) > 9 {
			return nil, fmt.Errorf("%q is not an object identifier", s)
		}
		for _, c := range part {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("%q is not an object identifier", s)
			}
			n = n*10 + int(c-'0')
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("%q is not an object identifier", s)
	}
	return oid, nil
}
