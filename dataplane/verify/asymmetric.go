package verify

import (
	"fmt"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// compileAsymmetric compiles a public-key or token scheme and the source's
// secrets: keys, when the scheme's keys are the secrets (one that does not
// parse is left out and named by Problems), and otherwise values the
// request must carry or credentials, kept as configured.
func (v *Verifier) compileAsymmetric(scheme *plugsv1.SignatureScheme, secrets []*plugsv1.SigningSecret) error {
	var ks *keySource
	if v.alg == plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY {
		if err := v.compilePublicKey(scheme.GetPublicKey()); err != nil {
			return err
		}
		ks = v.pk.keys
	} else {
		if err := v.compileJWT(scheme.GetJwt()); err != nil {
			return err
		}
		ks = v.jwt.keys
	}
	for _, s := range secrets {
		k := &key{id: s.GetId(), raw: s.GetValue()}
		if t := s.GetExpireTime(); t != nil {
			k.expire = t.AsTime()
		}
		if len(k.raw) == 0 {
			v.problems = append(v.problems, fmt.Sprintf("secret %s: empty", s.GetId()))
			continue
		}
		if !ks.fetched() {
			pubs, err := parseKeys(ks.format, s.GetValue())
			if err != nil {
				v.problems = append(v.problems, fmt.Sprintf("secret %s: %v", s.GetId(), err))
				continue
			}
			k.pubs = pubs
		}
		v.keys = append(v.keys, k)
	}
	return nil
}

// PublicSecret reports whether the secrets of scheme are not secret: public
// keys, or values requests carry in plain (a PayPal webhook id, an SNS
// topic ARN, a token's audience). They may be shown back to people.
// HMAC keys and key endpoint credentials are secret.
func PublicSecret(scheme *plugsv1.SignatureScheme) bool {
	var ks *plugsv1.KeySource
	switch scheme.GetAlgorithm() {
	case plugsv1.SignatureScheme_ALGORITHM_ED25519:
		return true
	case plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY:
		ks = scheme.GetPublicKey().GetKeys()
	case plugsv1.SignatureScheme_ALGORITHM_JWT:
		ks = scheme.GetJwt().GetKeys()
	default:
		return false
	}
	switch ks.GetKind() {
	case plugsv1.KeySource_KIND_SECRET:
		return ks.GetFormat() != plugsv1.KeySource_FORMAT_HMAC
	case plugsv1.KeySource_KIND_KEY_ENDPOINT:
		// Called with the secret, it is a credential.
		v, err := Compile(scheme, nil)
		return err == nil && !v.keySource().withSecret
	}
	return true
}

func (v *Verifier) keySource() *keySource {
	if v.pk != nil {
		return v.pk.keys
	}
	return v.jwt.keys
}
