package verify_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

func TestDiscordPing(t *testing.T) {
	tpl, err := templates.MustBuiltin().Get("discord")
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	v, err := verify.Compile(tpl.GetSignatureScheme(), []*plugsv1.SigningSecret{{Id: "k", Value: []byte(hex.EncodeToString(pub))}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for body, wantPong := range map[string]bool{`{"type":1}`: true, `{"type":2,"id":"1"}`: false} {
		s, err := verify.SignEd25519(tpl.GetSignatureScheme(), priv, verify.Message{Method: "POST", Body: []byte(body), ContentType: "application/json"}, now)
		if err != nil {
			t.Fatal(err)
		}
		req := &verify.Request{Method: "POST", Header: s.Header, Body: payload.New(s.Body, "application/json")}
		if err := v.Verify(req, verify.Options{Now: now}); err != nil {
			t.Fatal(err)
		}
		ans, err := v.Handshake(req, "", true, verify.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if got := ans != nil && string(ans.Body) == `{"type":1}`; got != wantPong {
			t.Fatalf("%s: answer %v", body, ans)
		}
		if ans, _ := v.Handshake(req, "", false, verify.Options{Now: now}); ans != nil {
			t.Fatal("an unverified PING was answered")
		}
	}
}
