package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Binding is what a sealed secret belongs to. It is the AES-GCM additional
// data: a ciphertext opens only for the same kind, tenant, source and secret
// id.
type Binding struct {
	// Kind says what sort of row holds the ciphertext. Empty is a source's
	// signing secret, whose additional data predates kinds and must not
	// change, or every stored secret would stop opening.
	Kind     string
	TenantID string
	SourceID string
	SecretID string
}

// KindDestinationKey is the kind of a destination's shared key.
const KindDestinationKey = "destination-key"

// DestinationBinding binds a destination's shared key to its tenant and
// destination id. The destination id fills both id slots: a destination
// holds exactly one key, and the kind keeps it apart from source secrets.
func DestinationBinding(tenantID, destinationID string) Binding {
	return Binding{Kind: KindDestinationKey, TenantID: tenantID, SourceID: destinationID, SecretID: destinationID}
}

func (b Binding) additionalData() []byte {
	var sb strings.Builder
	if b.Kind == "" {
		sb.WriteString("plugs.secret.v1")
	} else {
		// A prefix of its own, so legacy additional data stays byte for
		// byte what it was and no ids can make the two kinds collide
		// (as long as no kind is named "secret").
		sb.WriteString("plugs." + b.Kind + ".v1")
	}
	for _, part := range []string{b.TenantID, b.SourceID, b.SecretID} {
		sb.WriteByte(0)
		sb.WriteString(part)
	}
	return []byte(sb.String())
}

// Seal encrypts plaintext under the primary key with a fresh random 96-bit
// nonce. It returns the key id and nonce||ciphertext||tag.
func (kr *Keyring) Seal(plaintext []byte, b Binding) (keyID string, sealed []byte, err error) {
	r := kr.ring.Load()
	aead := r.aeads[r.primary]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("secrets: nonce: %w", err)
	}
	sealed = aead.Seal(nonce, nonce, plaintext, b.additionalData())
	return r.primary, sealed, nil
}

// Open decrypts what Seal returned for the same binding. A key id the
// keyring does not hold makes it look at its key file once more first (when
// a Reloader watches it), so a secret sealed under a key just added to the
// file opens without waiting for the next poll.
func (kr *Keyring) Open(keyID string, sealed []byte, b Binding) ([]byte, error) {
	aead, ok := kr.ring.Load().aeads[keyID]
	if miss := kr.miss.Load(); !ok && miss != nil && (*miss)() {
		aead, ok = kr.ring.Load().aeads[keyID]
	}
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
