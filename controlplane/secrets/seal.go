package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Binding is what a sealed secret belongs to. It is the AES-GCM additional
// data: a ciphertext opens only for the same tenant, source and secret id.
type Binding struct {
	TenantID string
	SourceID string
	SecretID string
}

func (b Binding) additionalData() []byte {
	var sb strings.Builder
	sb.WriteString("plugs.secret.v1")
	for _, part := range []string{b.TenantID, b.SourceID, b.SecretID} {
		sb.WriteByte(0)
		sb.WriteString(part)
	}
	return []byte(sb.String())
}

// Seal encrypts plaintext under the primary key with a fresh random 96-bit
// nonce. It returns the key id and nonce||ciphertext||tag.
func (kr *Keyring) Seal(plaintext []byte, b Binding) (keyID string, sealed []byte, err error) {
	aead := kr.aeads[kr.primary]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("secrets: nonce: %w", err)
	}
	sealed = aead.Seal(nonce, nonce, plaintext, b.additionalData())
	return kr.primary, sealed, nil
}

// Open decrypts what Seal returned for the same binding.
func (kr *Keyring) Open(keyID string, sealed []byte, b Binding) ([]byte, error) {
	aead, ok := kr.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, keyID)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], b.additionalData())
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// Fingerprint identifies a secret to people without revealing it:
// "sha256:" and 16 hex digits of a domain-separated SHA-256.
func Fingerprint(secret []byte) string {
	sum := sha256.Sum256(append([]byte("plugs.secret-fingerprint.v1:"), secret...))
	return "sha256:" + hex.EncodeToString(sum[:8])
}
