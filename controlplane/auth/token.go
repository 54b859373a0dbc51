// Package auth authenticates callers of the control plane: tenants by API
// key on the admin API, data planes by their own token on the configuration
// stream.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// An API key token is "plg_" + 12 characters of public prefix + 32 characters
// of secret, all lower-case base32. The prefix finds the stored row; only the
// SHA-256 of the whole token is stored. The secret part has 160 bits of
// entropy, so a fast hash is enough: there is nothing to brute-force.
const (
	tokenTag       = "plg_"
	prefixChars    = 12
	secretChars    = 32
	tokenLen       = len(tokenTag) + prefixChars + secretChars
	storedPrefixes = len(tokenTag) + prefixChars
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKeyToken returns a fresh token, the prefix to store with it and the
// hash to store.
func NewAPIKeyToken() (token, prefix string, hash []byte, err error) {
	raw := make([]byte, 30) // 240 bits → 48 base32 characters, 44 used
	if _, err := rand.Read(raw); err != nil {
		return "", "", nil, fmt.Errorf("auth: token: %w", err)
	}
	body := b32.EncodeToString(raw)[:prefixChars+secretChars]
	token = tokenTag + body
	return token, token[:storedPrefixes], HashToken(token), nil
}

// HashToken is what is stored for a token.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte("plugs.api-key.v1:" + token))
	return sum[:]
}

// splitAPIKeyToken returns the stored prefix of a well-formed token.
func splitAPIKeyToken(token string) (prefix string, ok bool) {
	if len(token) != tokenLen || !strings.HasPrefix(token, tokenTag) {
		return "", false
	}
	for _, c := range token[len(tokenTag):] {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	return token[:storedPrefixes], true
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
