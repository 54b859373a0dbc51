package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"math/big"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// sigAlg is one signature algorithm as verification runs it, whether a
// scheme names it (PublicKeyScheme.Algorithm) or a token does (JOSE "alg").
type sigAlg int

const (
	algNone sigAlg = iota
	algRS1         // RSASSA-PKCS1-v1_5 with SHA-1
	algRS256
	algRS384
	algRS512
	algPS256
	algPS384
	algPS512
	algES256    // ECDSA P-256, DER signature
	algES256Raw // ECDSA P-256, r‖s (JWS)
	algES384Raw // ECDSA P-384, r‖s (JWS)
	algEdDSA
	algHS256
	algHS384
	algHS512
)

// schemeAlg maps a public-key scheme's algorithm.
func schemeAlg(a plugsv1.PublicKeyScheme_Algorithm) sigAlg {
	switch a {
	case plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA1:
		return algRS1
	case plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA256:
		return algRS256
	case plugsv1.PublicKeyScheme_ALGORITHM_RSA_PKCS1_SHA512:
		return algRS512
	case plugsv1.PublicKeyScheme_ALGORITHM_RSA_PSS_SHA256:
		return algPS256
	case plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256:
		return algES256
	case plugsv1.PublicKeyScheme_ALGORITHM_ECDSA_P256_SHA256_RAW:
		return algES256Raw
	case plugsv1.PublicKeyScheme_ALGORITHM_ED25519:
		return algEdDSA
	}
	return algNone
}

// joseAlgs are the JWS "alg" values verification accepts when a scheme
// lists them. "none" is not among them and never will be.
var joseAlgs = map[string]sigAlg{
	"RS256": algRS256, "RS384": algRS384, "RS512": algRS512,
	"PS256": algPS256, "PS384": algPS384, "PS512": algPS512,
	"ES256": algES256Raw, "ES384": algES384Raw,
	"EdDSA": algEdDSA,
	"HS256": algHS256, "HS384": algHS384, "HS512": algHS512,
}

func (a sigAlg) hmac() bool { return a == algHS256 || a == algHS384 || a == algHS512 }

func (a sigAlg) hash() (crypto.Hash, func() hash.Hash) {
	switch a {
	case algRS1:
		return crypto.SHA1, sha1.New
	case algRS384, algPS384, algES384Raw, algHS384:
		return crypto.SHA384, sha512.New384
	case algRS512, algPS512, algHS512:
		return crypto.SHA512, sha512.New
	}
	return crypto.SHA256, sha256.New
}

// fits reports whether key can verify signatures of a: an RSA key only
// RSA signatures, an HMAC key only HMACs, and so on. This is what refuses
// algorithm confusion, an RSA public key taken for an HMAC secret.
func (a sigAlg) fits(key crypto.PublicKey) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch a {
		case algRS1, algRS256, algRS384, algRS512, algPS256, algPS384, algPS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch a {
		case algES256, algES256Raw:
			return k.Curve == elliptic.P256()
		case algES384Raw:
			return k.Curve == elliptic.P384()
		}
	case ed25519.PublicKey:
		return a == algEdDSA
	case []byte:
		return a.hmac()
	}
	return false
}

// verifySignature reports whether sig is a valid signature of msg under
// key with a. A key that does not fit a never verifies.
func verifySignature(a sigAlg, key crypto.PublicKey, msg, sig []byte) bool {
	if !a.fits(key) {
		return false
	}
	if a == algEdDSA {
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(key.(ed25519.PublicKey), msg, sig)
	}
	h, newHash := a.hash()
	if a.hmac() {
		m := hmac.New(newHash, key.([]byte))
		m.Write(msg)
		return hmac.Equal(m.Sum(nil), sig)
	}
	d := newHash()
	d.Write(msg)
	digest := d.Sum(nil)
	switch a {
	case algRS1, algRS256, algRS384, algRS512:
		return rsa.VerifyPKCS1v15(key.(*rsa.PublicKey), h, digest, sig) == nil
	case algPS256, algPS384, algPS512:
		return rsa.VerifyPSS(key.(*rsa.PublicKey), h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case algES256:
		return ecdsa.VerifyASN1(key.(*ecdsa.PublicKey), digest, sig)
	case algES256Raw, algES384Raw:
		k := key.(*ecdsa.PublicKey)
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}
