package secrets

import "errors"

var (
	// ErrNoMasterKey means neither PLUGS_MASTER_KEY nor a key file gave a key.
	ErrNoMasterKey = errors.New("secrets: no master key configured")
	// ErrBadMasterKey means a configured master key is not base64 of 32 bytes
	// or is malformed in the key file.
	ErrBadMasterKey = errors.New("secrets: malformed master key")
	// ErrUnknownKey means a ciphertext names a master key id the keyring
	// does not hold.
	ErrUnknownKey = errors.New("secrets: unknown master key id")
	// ErrOpen means a ciphertext failed authentication: it was tampered
	// with, moved to another row, or sealed under another key. The error
	// never says more, and never carries plaintext.
	ErrOpen = errors.New("secrets: ciphertext does not open")
)
