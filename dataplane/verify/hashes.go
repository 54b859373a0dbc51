package verify

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// macHash returns the hash of an HMAC algorithm, nil for other algorithms.
func macHash(alg plugsv1.SignatureScheme_Algorithm) func() hash.Hash {
	switch alg {
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA256:
		return sha256.New
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA1:
		return sha1.New
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_SHA512:
		return sha512.New
	}
	return nil
}
