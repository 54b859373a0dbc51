package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// maxKeyText bounds a key, certificate or key set read from a secret or a
// provider, so a hostile key server cannot make the parser work hard.
const maxKeyText = 256 << 10

// minRSABits refuses RSA keys too small to mean anything.
const minRSABits = 2048

// publicKey is one verification key: an *rsa.PublicKey, *ecdsa.PublicKey,
// ed25519.PublicKey, or an HMAC key ([]byte) for JWT HS algorithms.
type publicKey struct {
	key crypto.PublicKey
	// kid is the key id a JWK names, empty otherwise.
	kid string
	// alg is the algorithm a JWK restricts itself to, empty for any.
	alg string
	// notAfter is when a key from a certificate chain stops being valid;
	// zero for other keys.
	notAfter time.Time
}

// ParsePublicKey reads the public keys a secret holds in format. A JWK set
// may hold several; every other format holds one. It serves Compile and
// the control plane's validation of a new secret.
func ParsePublicKey(format plugsv1.KeySource_Format, text []byte) ([]crypto.PublicKey, error) {
	keys, err := parseKeys(format, text)
	if err != nil {
		return nil, err
	}
	out := make([]crypto.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k.key
	}
	return out, nil
}

func parseKeys(format plugsv1.KeySource_Format, text []byte) ([]publicKey, error) {
	if len(text) == 0 {
		return nil, errors.New("empty")
	}
	if len(text) > maxKeyText {
		return nil, fmt.Errorf("longer than %d bytes", maxKeyText)
	}
	s := strings.TrimSpace(string(text))
	switch format {
	case plugsv1.KeySource_FORMAT_PEM:
		k, err := parsePEMKey(s)
		if err != nil {
			return nil, err
		}
		return []publicKey{{key: k}}, nil
	case plugsv1.KeySource_FORMAT_SPKI_BASE64:
		der, err := decodeBase64Loose(s)
		if err != nil {
			return nil, fmt.Errorf("not base64: %w", err)
		}
		k, err := parseDERKey(der)
		if err != nil {
			return nil, err
		}
		return []publicKey{{key: k}}, nil
	case plugsv1.KeySource_FORMAT_ED25519_BASE64, plugsv1.KeySource_FORMAT_WHPK:
		if format == plugsv1.KeySource_FORMAT_WHPK {
			rest, ok := strings.CutPrefix(s, "whpk_")
			if !ok {
				return nil, errors.New(`not "whpk_" followed by base64`)
			}
			s = rest
		}
		raw, err := decodeBase64Loose(s)
		if err != nil {
			return nil, fmt.Errorf("not base64: %w", err)
		}
		return ed25519Key(raw)
	case plugsv1.KeySource_FORMAT_ED25519_HEX:
		raw, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not hex: %w", err)
		}
		return ed25519Key(raw)
	case plugsv1.KeySource_FORMAT_JWK:
		return parseJWKs([]byte(s))
	case plugsv1.KeySource_FORMAT_HMAC:
		return []publicKey{{key: []byte(string(text))}}, nil
	}
	return nil, fmt.Errorf("unknown key format %v", format)
}

func ed25519Key(raw []byte) ([]publicKey, error) {
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("an Ed25519 public key has %d bytes, not %d", ed25519.PublicKeySize, len(raw))
	}
	return []publicKey{{key: ed25519.PublicKey(raw)}}, nil
}

// decodeBase64Loose reads standard or URL-safe base64, padded or not, with
// any line breaks a copy from a dashboard leaves in.
func decodeBase64Loose(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// parsePEMKey reads the first PEM block of s, or base64 DER without the
// armour.
func parsePEMKey(s string) (crypto.PublicKey, error) {
	if !strings.Contains(s, "-----BEGIN") {
		der, err := decodeBase64Loose(s)
		if err != nil {
			return nil, errors.New("neither PEM nor base64 DER")
		}
		if pemText := string(der); strings.Contains(pemText, "-----BEGIN") {
			// Base64 of a PEM text, as Lago's API hands its key out.
			return parsePEMKey(pemText)
		}
		return parseDERKey(der)
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("PEM does not decode")
	}
	switch block.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		return checkKey(c.PublicKey)
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("RSA public key: %w", err)
		}
		return checkKey(k)
	case "PUBLIC KEY":
		return parseDERKey(block.Bytes)
	}
	return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
}

// parseDERKey reads SPKI DER, PKCS #1 DER or a DER certificate.
func parseDERKey(der []byte) (crypto.PublicKey, error) {
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		return checkKey(k)
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return checkKey(k)
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		return checkKey(c.PublicKey)
	}
	return nil, errors.New("DER is not a public key (SPKI or PKCS #1) or certificate")
}

// checkKey accepts the key types verification supports, and RSA keys of
// at least minRSABits.
func checkKey(k crypto.PublicKey) (crypto.PublicKey, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: at least %d are needed", k.N.BitLen(), minRSABits)
		}
		return k, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
			return k, nil
		}
		return nil, fmt.Errorf("ECDSA curve %s is not supported", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("%T keys are not supported", k)
}

// jwk is a JSON Web Key (RFC 7517) of the kinds verification uses.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// X5c, when present, carries the key's certificate.
	X5c []string `json:"x5c"`
}

// parseJWKs reads a JWK or a JWK set ({"keys":[…]}). Keys meant for
// encryption ("use": "enc") and key types not supported are skipped; a set
// with no usable key is an error.
func parseJWKs(data []byte) ([]publicKey, error) {
	var probe struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a JWK or JWK set: %w", err)
	}
	raws := probe.Keys
	if raws == nil {
		raws = []json.RawMessage{data}
	}
	var out []publicKey
	var firstErr error
	for _, raw := range raws {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		k, err := j.publicKey()
		if err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("key %q: %w", j.Kid, err))
			continue
		}
		out = append(out, publicKey{key: k, kid: j.Kid, alg: j.Alg})
	}
	if len(out) == 0 {
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, errors.New("no signing key in the set")
	}
	return out, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (j *jwk) publicKey() (crypto.PublicKey, error) {
	b := func(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")) }
	switch j.Kty {
	case "RSA":
		n, err1 := b(j.N)
		e, err2 := b(j.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("RSA key with bad n or e")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return nil, errors.New("RSA key with a bad exponent")
		}
		return checkKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp})
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return nil, fmt.Errorf("curve %q is not supported", j.Crv)
		}
		x, err1 := b(j.X)
		y, err2 := b(j.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("EC key with bad coordinates")
		}
		// The uncompressed point encoding makes the standard library check
		// that the point is on the curve.
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("EC key: %w", err)
		}
		return k, nil
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("curve %q is not supported", j.Crv)
		}
		x, err := b(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key with a bad x")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("key type %q is not supported", j.Kty)
}
