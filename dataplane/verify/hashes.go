package verify

import (
	"crypto/md5"
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
	case plugsv1.SignatureScheme_ALGORITHM_HMAC_MD5:
		return md5.New
	}
	return nil
}

// digestHash returns the hash of a plain-digest algorithm, nil for other
// algorithms.
func digestHash(alg plugsv1.SignatureScheme_Algorithm) func() hash.Hash {
	switch alg {
	case plugsv1.SignatureScheme_ALGORITHM_SHA256:
		return sha256.New
	case plugsv1.SignatureScheme_ALGORITHM_SHA1:
		return sha1.New
	case plugsv1.SignatureScheme_ALGORITHM_SHA512:
		return sha512.New
	}
	return nil
}
