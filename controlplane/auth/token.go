// Package auth authenticates callers of the control plane: tenants by API
// key on the admin API, data planes by their own token or a client
// certificate on the configuration stream.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// A stored token is a tag + 12 characters of public prefix + 32 characters
// of secret, all lower-case base32. The tag says what the token is for:
// "plg_" for a tenant's API key, "pdp_" for a data plane. The prefix (tag
// included) finds the stored row; only the SHA-256 of the whole token is
// stored. The secret part has 160 bits of entropy, so a fast hash is
// enough: there is nothing to brute-force.
const (
	apiKeyTag    = "plg_"
	dataPlaneTag = "pdp_"
	tagChars     = 4
	prefixChars  = 12
	secretChars  = 32
	tokenLen     = tagChars + prefixChars + secretChars
	storedPrefix = tagChars + prefixChars
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKeyToken returns a fresh API key token, the prefix to store with it
// and the hash to store.
func NewAPIKeyToken() (token, prefix string, hash []byte, err error) {
	return newToken(apiKeyTag)
}

// NewDataPlaneToken returns a fresh data-plane token, the prefix to store
// with it and the hash to store.
func NewDataPlaneToken() (token, prefix string, hash []byte, err error) {
	return newToken(dataPlaneTag)
}

func newToken(tag string) (token, prefix string, hash []byte, err error) {
	raw := make([]byte, 30) // 240 bits → 48 base32 characters, 44 used
	if _, err := rand.Read(raw); err != nil {
		return "", "", nil, fmt.Errorf("auth: token: %w", err)
	}
	token = tag + b32.EncodeToString(raw)[:prefixChars+secretChars]
	return token, token[:storedPrefix], HashToken(token), nil
}

// HashToken is what is stored for a token of either kind. The tag is part
// of the hashed text, so an API key and a data-plane token can never share a
// hash; the label stays "api-key" because stored keys were hashed with it.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte("plugs.api-key.v1:" + token))
	return sum[:]
}

// splitAPIKeyToken returns the stored prefix of a well-formed API key.
func splitAPIKeyToken(token string) (prefix string, ok bool) {
	return splitToken(token, apiKeyTag)
}

// splitDataPlaneToken returns the stored prefix of a well-formed data-plane
// token.
func splitDataPlaneToken(token string) (prefix string, ok bool) {
	return splitToken(token, dataPlaneTag)
}

func splitToken(token, tag string) (prefix string, ok bool) {
	if len(token) != tokenLen || !strings.HasPrefix(token, tag) {
		return "", false
	}
	for _, c := range token[len(tag):] {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	return token[:storedPrefix], true
}

// BearerToken extracts the token of an "Authorization: Bearer …" value.
func BearerToken(header string) (string, error) {
	if header == "" {
		return "", ErrNoCredentials
	}
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", ErrInvalidCredentials
	}
	return strings.TrimSpace(tok), nil
}
