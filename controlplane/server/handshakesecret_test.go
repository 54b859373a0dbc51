package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

const hookSecret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"

// A secret delivered by a handshake is stored, sealed, by a data plane's
// call, only while the source holds none: a forged handshake cannot
// replace it, a repeated one changes nothing, and the stored secret
// reaches data planes with the next revision.
func TestCaptureHandshakeSecret(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testCaptureHandshakeSecret(t, d) })
	}
}

func testCaptureHandshakeSecret(t *testing.T, dialect string) {
	e := startEnv(t, dialect)
	cds := plugsv1.NewConfigDiscoveryServiceClient(e.conn)
	capture := func(ctx context.Context, id, secret string) (*plugsv1.CaptureHandshakeSecretResponse, error) {
		return cds.CaptureHandshakeSecret(ctx, &plugsv1.CaptureHandshakeSecretRequest{SourceId: id, Secret: secret, Node: &plugsv1.Node{Id: "dp-1"}})
	}

	// An Asana source starts without a secret; a Stripe source cannot.
	src, err := e.sources().CreateSource(as(e.keyA), &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "asana", TemplateId: "asana", MetricId: "tasks"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.GetSecrets()) != 0 {
		t.Fatalf("secrets %v", src.GetSecrets())
	}
	if _, err := e.sources().CreateSource(as(e.keyA), newSource("stripe", "")); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stripe without a secret: %v", err)
	}

	// Only data planes may call it.
	if _, err := capture(as(e.keyA), src.GetId(), hookSecret); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("with a tenant's API key: %v", err)
	}

	got, err := capture(as(dataPlaneToken), src.GetId(), hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetSecret().GetFingerprint() != secrets.Fingerprint([]byte(hookSecret)) || got.GetRevision() <= src.GetRevision() {
		t.Fatalf("captured %v, revision %d after %d", got.GetSecret(), got.GetRevision(), src.GetRevision())
	}
	after, err := e.sources().GetSource(as(e.keyA), &plugsv1.GetSourceRequest{Id: src.GetId()})
	if err != nil || len(after.GetSecrets()) != 1 || after.GetSecrets()[0].GetId() != got.GetSecret().GetId() {
		t.Fatalf("source after capture: %v %v", after.GetSecrets(), err)
	}

	// Asana repeats its handshake: same secret, nothing new.
	again, err := capture(as(dataPlaneToken), src.GetId(), hookSecret)
	if err != nil || again.GetSecret().GetId() != got.GetSecret().GetId() {
		t.Fatalf("repeated: %v %v", again, err)
	}
	// A forged handshake cannot replace the secret.
	if _, err := capture(as(dataPlaneToken), src.GetId(), "attacker-chosen-secret-0123456789"); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("forged: %v", err)
	}
	if after, _ := e.sources().GetSource(as(e.keyA), &plugsv1.GetSourceRequest{Id: src.GetId()}); len(after.GetSecrets()) != 1 {
		t.Fatalf("secrets after a forged handshake: %v", after.GetSecrets())
	}

	// A source whose scheme takes no secret from a handshake, a source
	// that does not exist, and bad input.
	stripe, err := e.sources().CreateSource(as(e.keyA), newSource("stripe", secretA))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		id, secret string
		code       codes.Code
	}{
		"stripe":        {stripe.GetId(), hookSecret, codes.FailedPrecondition},
		"unknown":       {"0192d1a0-0000-7000-8000-00000000dead", hookSecret, codes.NotFound},
		"not an id":     {"x", hookSecret, codes.InvalidArgument},
		"empty":         {src.GetId(), "", codes.InvalidArgument},
		"control chars": {src.GetId(), "a\r\nb", codes.InvalidArgument},
		"too long":      {src.GetId(), strings.Repeat("a", 5000), codes.InvalidArgument},
	} {
		if _, err := capture(as(dataPlaneToken), c.id, c.secret); status.Code(err) != c.code {
			t.Errorf("%s: %v, want %v", name, err, c.code)
		}
	}

	// Two handshakes racing for a fresh source: exactly one secret wins.
	fresh, err := e.sources().CreateSource(as(e.keyA), &plugsv1.CreateSourceRequest{Source: &plugsv1.Source{
		DisplayName: "asana 2", TemplateId: "asana", MetricId: "tasks"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Go(func() {
			_, results[i] = capture(as(dataPlaneToken), fresh.GetId(), "racing-secret-"+strings.Repeat(string(rune('a'+i)), 20))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch status.Code(err) {
		case codes.OK:
			ok++
		case codes.FailedPrecondition:
		default:
			t.Errorf("racing capture: %v", err)
		}
	}
	if after, _ := e.sources().GetSource(as(e.keyA), &plugsv1.GetSourceRequest{Id: fresh.GetId()}); ok != 1 || len(after.GetSecrets()) != 1 {
		t.Fatalf("%d captures succeeded, %d secrets held", ok, len(after.GetSecrets()))
	}

	// The captured secret reaches data planes.
	_, resp := e.firstSnapshot(t, got.GetRevision())
	for _, sc := range resp.GetSources() {
		if sc.GetId() == src.GetId() {
			if len(sc.GetSecrets()) != 1 || string(sc.GetSecrets()[0].GetValue()) != hookSecret {
				t.Fatalf("the data plane's copy: %v", sc.GetSecrets())
			}
			return
		}
	}
	t.Fatal("the source is not in the snapshot")
}
