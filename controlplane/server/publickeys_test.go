package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/plugshq/plugs/controlplane/store/storetest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// A public-key source's secret is its provider's public key: it is checked
// to be a key when set, and shown back (it is not secret) on reads, next to
// its fingerprint, through rotation. A pinned value (an SNS topic) is shown
// back too; an HMAC key never is.
func TestPublicKeysAreShownBack(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testPublicKeys(t, d) })
	}
}

func testPublicKeys(t *testing.T, dialect string) {
	e := startEnv(t, dialect)
	ctx := as(e.keyA)
	spki := func() string {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return base64.StdEncoding.EncodeToString(der)
	}
	create := func(template, secret string) (*plugsv1.Source, error) {
		return e.sources().CreateSource(ctx, &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
			DisplayName: template, TemplateId: template, MetricId: "emails", Secret: secret}})
	}
	_, err := create("sendgrid", "whsec_not_a_public_key_at_all_0123")
	if v := fieldViolations(t, err); v["source.secret"] == "" {
		t.Fatalf("violations %v", v)
	}
	first := spki()
	src, err := create("sendgrid", first)
	if err != nil {
		t.Fatal(err)
	}
	if got := src.GetSecrets()[0].GetPublicValue(); got != first {
		t.Fatalf("public value %q, want the key", got)
	}
	second := spki()
	rotated, err := e.sources().RotateSecret(ctx, &plugsv1.RotateSecretRequest{Id: src.GetId(), Secret: second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated.GetSecrets()) != 2 || rotated.GetSecrets()[0].GetPublicValue() != second || rotated.GetSecrets()[1].GetPublicValue() != first {
		t.Fatalf("after rotation: %v", rotated.GetSecrets())
	}
	got, err := e.sources().GetSource(ctx, &plugsv1.GetSourceRequest{Id: src.GetId()})
	if err != nil || got.GetSecrets()[0].GetPublicValue() != second {
		t.Fatalf("read back: %v, %v", got.GetSecrets(), err)
	}
	if _, err := e.sources().RotateSecret(ctx, &plugsv1.RotateSecretRequest{Id: src.GetId(), Secret: "not a key"}); err == nil {
		t.Fatal("a rotation to something that is not a key was accepted")
	}

	topic := "arn:aws:sns:us-east-1:123456789012:usage"
	sns, err := create("awssns", topic)
	if err != nil {
		t.Fatal(err)
	}
	if sns.GetSecrets()[0].GetPublicValue() != topic {
		t.Fatalf("SNS topic not shown back: %v", sns.GetSecrets())
	}
	hmac, err := create("vonage", "vonage-signature-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if hmac.GetSecrets()[0].GetPublicValue() != "" {
		t.Fatal("an HMAC key was shown back")
	}
	e.assertNoSecretLeaked("vonage-signature-secret-0123456789")
}
