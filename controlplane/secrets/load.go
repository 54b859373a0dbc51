package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvMasterKey is the environment variable holding master keys.
const EnvMasterKey = "PLUGS_MASTER_KEY"

// Load builds the keyring from PLUGS_MASTER_KEY if it is set, else from the
// key file. With create set (plugs dev), a missing key file is created with
// one new key and mode 0600.
func Load(keyFile string, create bool) (*Keyring, error) {
	if FromEnvironment() {
		keys, err := ParseKeys(os.Getenv(EnvMasterKey))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		return NewKeyring(keys...)
	}
	if keyFile == "" {
		return nil, ErrNoMasterKey
	}
	data, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) && create {
		if _, err := AppendNewKey(keyFile); err != nil {
			return nil, err
		}
		data, err = os.ReadFile(keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file: %w", err)
	}
	keys, err := parseKeyFile(keyFile, data)
	if err != nil {
		return nil, err
	}
	return NewKeyring(keys...)
}

// FromEnvironment reports whether Load takes the keys from
// PLUGS_MASTER_KEY rather than from a key file.
func FromEnvironment() bool { return strings.TrimSpace(os.Getenv(EnvMasterKey)) != "" }

// parseKeyFile checks the key file's mode and parses what was read from it.
func parseKeyFile(keyFile string, data []byte) ([]Key, error) {
	if info, err := os.Stat(keyFile); err == nil && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: key file %s is readable by others (mode %v); chmod 600 it", ErrBadMasterKey, keyFile, info.Mode().Perm())
	}
	keys, err := ParseKeys(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", keyFile, err)
	}
	return keys, nil
}

// AppendNewKey generates a master key and appends it to keyFile (creating
// the file with mode 0600), making it the primary key. It returns the new
// key's id.
func AppendNewKey(keyFile string) (string, error) {
	k, err := GenerateKey()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return "", fmt.Errorf("secrets: key dir: %w", err)
	}
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", fmt.Errorf("secrets: open key file: %w", err)
	}
	if _, err := fmt.Fprintln(f, FormatKey(k)); err != nil {
		f.Close()
		return "", fmt.Errorf("secrets: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("secrets: sync key file: %w", err)
	}
	return k.ID, f.Close()
}
