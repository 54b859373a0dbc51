package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/plugshq/plugs/controlplane/server"
	"github.com/plugshq/plugs/controlplane/store/storetest"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Shared keys of the tests; none may appear in any answer or log line.
const (
	destKeyA1 = "tenantA-shared-key-plaintext-0001"
	destKeyA2 = "tenantA-shared-key-plaintext-0002"
	destKeyB1 = "tenantB-shared-key-plaintext-0001"
	// A Standard Webhooks key: "whsec_" and base64 of 24 bytes.
	destKeyWhsec = "whsec_dGVuYW50QS13aHNlYy1rZXktMDEyMzQ1Njc="
)

// startEnvAllowingHTTP is startEnv with Config.AllowHTTPHosts set, the one
// setting startEnv does not take.
func startEnvAllowingHTTP(t *testing.T, dialect string, allowHTTP ...string) *env {
	t.Helper()
	return startEnvWith(t, dialect, func(c *server.Config) { c.AllowHTTPHosts = allowHTTP })
}

func (e *env) destSvc() plugsv1.DestinationServiceClient {
	return plugsv1.NewDestinationServiceClient(e.conn)
}

func (e *env) webhookSvc() plugsv1.WebhookRegistrationServiceClient {
	return plugsv1.NewWebhookRegistrationServiceClient(e.conn)
}

func createDestReq(name, url, key string) *plugsv1.CreateDestinationRequest {
	return &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{DisplayName: name, Url: url, SharedKey: key}}
}

func pathsMask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

var keyFingerprintRe = regexp.MustCompile(`^sha256:[0-9a-f]{16}$`)

func TestDestinationLifecycle(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDestinationLifecycle(t, d) })
	}
}

func testDestinationLifecycle(t *testing.T, dialect string) {
	e := startEnv(t, dialect)
	ctx := as(e.keyA)
	src, err := e.sources().CreateSource(ctx, newSource("stripe", secretA))
	if err != nil {
		t.Fatal(err)
	}

	// Create: the defaults are applied and shown; the key is not.
	dst, err := e.destSvc().CreateDestination(ctx, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "billing", Url: "https://billing.example.com/usage", SharedKey: destKeyA1,
		SourceIds: []string{strings.ToUpper(src.GetId())},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if dst.GetSharedKey() != "" || !keyFingerprintRe.MatchString(dst.GetSharedKeyFingerprint()) {
		t.Fatalf("key %q fingerprint %q", dst.GetSharedKey(), dst.GetSharedKeyFingerprint())
	}
	if dst.GetStatus() != plugsv1.Destination_STATUS_ACTIVE ||
		dst.GetSignatureStyle() != plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS ||
		dst.GetSignatureHeader() != "" || dst.GetTimeout().AsDuration() != 10*time.Second || dst.GetMaxConcurrency() != 10 ||
		dst.GetRetryPolicy() != nil || dst.GetRevision() <= src.GetRevision() || dst.GetCreateTime() == nil {
		t.Fatalf("defaults: %v", dst)
	}
	if !slices.Equal(dst.GetSourceIds(), []string{src.GetId()}) {
		t.Fatalf("source ids %v, want the canonical %s", dst.GetSourceIds(), src.GetId())
	}
	got, err := e.destSvc().GetDestination(ctx, &plugsv1.GetDestinationRequest{Id: dst.GetId()})
	if err != nil || !proto.Equal(got, dst) {
		t.Fatalf("get %v %v, want %v", got, err, dst)
	}

	// Update: only masked fields change; a nested retry path keeps the
	// rest of the policy; a new key gets a new fingerprint.
	up, err := e.destSvc().UpdateDestination(ctx, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dst.GetId(), DisplayName: "ignored", Status: plugsv1.Destination_STATUS_PAUSED,
			RetryPolicy: &plugsv1.RetryPolicy{MaxAttempts: 5, MaxAge: durationpb.New(time.Hour)}},
		UpdateMask: pathsMask("status", "retry_policy"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.GetDisplayName() != "billing" || up.GetStatus() != plugsv1.Destination_STATUS_PAUSED ||
		up.GetRetryPolicy().GetMaxAttempts() != 5 || up.GetRevision() <= dst.GetRevision() ||
		up.GetSharedKeyFingerprint() != dst.GetSharedKeyFingerprint() {
		t.Fatalf("update: %v", up)
	}
	up2, err := e.destSvc().UpdateDestination(ctx, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dst.GetId(), SharedKey: destKeyA2, RetryPolicy: &plugsv1.RetryPolicy{MaxAttempts: 7},
			SignatureStyle: plugsv1.Destination_SIGNATURE_STYLE_HUB, Timeout: durationpb.New(2500 * time.Millisecond)},
		UpdateMask: pathsMask("shared_key", "retry_policy.max_attempts", "signature_style", "timeout"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if up2.GetSharedKeyFingerprint() == dst.GetSharedKeyFingerprint() || !keyFingerprintRe.MatchString(up2.GetSharedKeyFingerprint()) ||
		up2.GetRetryPolicy().GetMaxAttempts() != 7 || up2.GetRetryPolicy().GetMaxAge().AsDuration() != time.Hour ||
		up2.GetSignatureStyle() != plugsv1.Destination_SIGNATURE_STYLE_HUB || up2.GetSignatureHeader() != "X-Hub-Signature-256" ||
		up2.GetTimeout().AsDuration() != 2500*time.Millisecond || up2.GetRevision() <= up.GetRevision() || up2.GetSharedKey() != "" {
		t.Fatalf("second update: %v", up2)
	}
	// Back to Standard Webhooks: the hub header goes with the hub style.
	up3, err := e.destSvc().UpdateDestination(ctx, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dst.GetId(), SignatureStyle: plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS},
		UpdateMask:  pathsMask("signature_style"),
	})
	if err != nil || up3.GetSignatureHeader() != "" {
		t.Fatalf("style back: %v %v", up3, err)
	}
	// Without a mask, the fields set are the mask (AIP-134).
	up4, err := e.destSvc().UpdateDestination(ctx, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dst.GetId(), MaxConcurrency: 3},
	})
	if err != nil || up4.GetMaxConcurrency() != 3 || up4.GetStatus() != plugsv1.Destination_STATUS_PAUSED {
		t.Fatalf("maskless update: %v %v", up4, err)
	}
	// Clearing a routed source list routes every source.
	up5, err := e.destSvc().UpdateDestination(ctx, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dst.GetId()}, UpdateMask: pathsMask("source_ids"),
	})
	if err != nil || len(up5.GetSourceIds()) != 0 {
		t.Fatalf("clear source ids: %v %v", up5, err)
	}

	// Pagination walks every destination once, in creation order.
	ids := []string{dst.GetId()}
	for i := range 4 {
		d, err := e.destSvc().CreateDestination(ctx, createDestReq(fmt.Sprintf("more %d", i), "https://b.example.com/"+fmt.Sprint(i), destKeyA1))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.GetId())
	}
	var listed []string
	tok := ""
	for {
		page, err := e.destSvc().ListDestinations(ctx, &plugsv1.ListDestinationsRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.GetDestinations() {
			listed = append(listed, d.GetId())
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	if !slices.Equal(listed, ids) {
		t.Fatalf("paged %v, want %v", listed, ids)
	}

	// REST.
	code, body := e.rest("POST", "/v1/destinations", e.keyA,
		`{"displayName":"rest","url":"https://rest.example.com/in","sharedKey":"`+destKeyWhsec+`","signatureStyle":"SIGNATURE_STYLE_HUB","signatureHeader":"X-Signature","retryPolicy":{"maxAttempts":3,"initialBackoff":"1s","maxBackoff":"60s","retryStatusCodes":[408,409]},"timeout":"30s","maxConcurrency":2}`)
	if code != http.StatusOK {
		t.Fatalf("REST create: %d %s", code, body)
	}
	var created plugsv1.Destination
	if err := protojson.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if created.GetSignatureHeader() != "X-Signature" || created.GetRetryPolicy().GetInitialBackoff().AsDuration() != time.Second ||
		!slices.Equal(created.GetRetryPolicy().GetRetryStatusCodes(), []int32{408, 409}) || created.GetTimeout().AsDuration() != 30*time.Second ||
		strings.Contains(string(body), "sharedKey\"") {
		t.Fatalf("REST created %s", body)
	}
	if code, body := e.rest("GET", "/v1/destinations/"+created.GetId(), e.keyA, ""); code != http.StatusOK || !strings.Contains(string(body), "X-Signature") {
		t.Fatalf("REST get: %d %s", code, body)
	}
	if code, body := e.rest("PATCH", "/v1/destinations/"+created.GetId()+"?updateMask=status", e.keyA, `{"status":"STATUS_PAUSED","displayName":"not masked"}`); code != http.StatusOK ||
		!strings.Contains(string(body), "STATUS_PAUSED") || !strings.Contains(string(body), `"rest"`) {
		t.Fatalf("REST patch: %d %s", code, body)
	}
	if code, body := e.rest("GET", "/v1/destinations?pageSize=100", e.keyA, ""); code != http.StatusOK || strings.Count(string(body), `"sharedKeyFingerprint"`) != 6 {
		t.Fatalf("REST list: %d %s", code, body)
	}
	if code, body := e.rest("DELETE", "/v1/destinations/"+created.GetId(), e.keyA, ""); code != http.StatusOK {
		t.Fatalf("REST delete: %d %s", code, body)
	}
	if code, _ := e.rest("GET", "/v1/destinations/"+created.GetId(), e.keyA, ""); code != http.StatusNotFound {
		t.Fatalf("deleted destination still there: %d", code)
	}
	if _, err := e.destSvc().DeleteDestination(ctx, &plugsv1.DeleteDestinationRequest{Id: dst.GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.destSvc().GetDestination(ctx, &plugsv1.GetDestinationRequest{Id: dst.GetId()})
	wantCode(t, err, codes.NotFound)
	_, err = e.destSvc().DeleteDestination(ctx, &plugsv1.DeleteDestinationRequest{Id: dst.GetId()})
	wantCode(t, err, codes.NotFound)

	// The revision log moved with every change, and the cache follows it.
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Cache.Revision() < up5.GetRevision() {
		if time.Now().After(deadline) {
			t.Fatal("the configuration revision never reached the destination's")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.assertNoSecretLeaked(destKeyA1, destKeyA2, destKeyWhsec, secretA)
}

func TestDestinationValidation(t *testing.T) {
	e := startEnvAllowingHTTP(t, "sqlite", "localhost")
	ctx := as(e.keyA)
	valid := func() *plugsv1.Destination {
		return &plugsv1.Destination{DisplayName: "d", Url: "https://billing.example.com/hook", SharedKey: destKeyA1}
	}
	with := func(f func(d *plugsv1.Destination)) *plugsv1.Destination {
		d := valid()
		f(d)
		return d
	}
	cases := []struct {
		name  string
		in    *plugsv1.Destination
		field string
	}{
		{"no name", with(func(d *plugsv1.Destination) { d.DisplayName = "" }), "destination.display_name"},
		{"long name", with(func(d *plugsv1.Destination) { d.DisplayName = strings.Repeat("é", 201) }), "destination.display_name"},
		{"no url", with(func(d *plugsv1.Destination) { d.Url = "" }), "destination.url"},
		{"relative url", with(func(d *plugsv1.Destination) { d.Url = "/hook" }), "destination.url"},
		{"opaque url", with(func(d *plugsv1.Destination) { d.Url = "https:billing.example.com" }), "destination.url"},
		{"ftp", with(func(d *plugsv1.Destination) { d.Url = "ftp://billing.example.com/x" }), "destination.url"},
		{"http elsewhere", with(func(d *plugsv1.Destination) { d.Url = "http://billing.example.com/x" }), "destination.url"},
		{"userinfo", with(func(d *plugsv1.Destination) { d.Url = "https://user:pw@billing.example.com/x" }), "destination.url"},
		{"fragment", with(func(d *plugsv1.Destination) { d.Url = "https://billing.example.com/x#frag" }), "destination.url"},
		{"space", with(func(d *plugsv1.Destination) { d.Url = "https://billing.example.com/a b" }), "destination.url"},
		{"bad port", with(func(d *plugsv1.Destination) { d.Url = "https://billing.example.com:99999/x" }), "destination.url"},
		{"long url", with(func(d *plugsv1.Destination) { d.Url = "https://billing.example.com/" + strings.Repeat("a", 2048) }), "destination.url"},
		{"no key", with(func(d *plugsv1.Destination) { d.SharedKey = "" }), "destination.shared_key"},
		{"short key", with(func(d *plugsv1.Destination) { d.SharedKey = "fifteen-chars-x" }), "destination.shared_key"},
		{"whsec not base64", with(func(d *plugsv1.Destination) { d.SharedKey = "whsec_not*base64*at*all*!!" }), "destination.shared_key"},
		{"header on standard", with(func(d *plugsv1.Destination) { d.SignatureHeader = "X-Sig" }), "destination.signature_header"},
		{"bad hub header", with(func(d *plugsv1.Destination) {
			d.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_HUB
			d.SignatureHeader = "X Sig"
		}), "destination.signature_header"},
		{"reserved hub header", with(func(d *plugsv1.Destination) {
			d.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_HUB
			d.SignatureHeader = "Content-Type"
		}), "destination.signature_header"},
		{"unknown style", with(func(d *plugsv1.Destination) { d.SignatureStyle = 9 }), "destination.signature_style"},
		{"unknown status", with(func(d *plugsv1.Destination) { d.Status = 9 }), "destination.status"},
		{"source not uuid", with(func(d *plugsv1.Destination) { d.SourceIds = []string{"stripe"} }), "destination.source_ids[0]"},
		{"source twice", with(func(d *plugsv1.Destination) {
			d.SourceIds = []string{"01936b8e-0000-7000-8000-000000000000", "01936B8E-0000-7000-8000-000000000000"}
		}), "destination.source_ids[1]"},
		{"attempts high", with(func(d *plugsv1.Destination) { d.RetryPolicy = &plugsv1.RetryPolicy{MaxAttempts: 101} }), "destination.retry_policy.max_attempts"},
		{"attempts negative", with(func(d *plugsv1.Destination) { d.RetryPolicy = &plugsv1.RetryPolicy{MaxAttempts: -1} }), "destination.retry_policy.max_attempts"},
		{"zero backoff", with(func(d *plugsv1.Destination) { d.RetryPolicy = &plugsv1.RetryPolicy{InitialBackoff: durationpb.New(0)} }), "destination.retry_policy.initial_backoff"},
		{"negative max backoff", with(func(d *plugsv1.Destination) {
			d.RetryPolicy = &plugsv1.RetryPolicy{MaxBackoff: durationpb.New(-time.Second)}
		}), "destination.retry_policy.max_backoff"},
		{"backoffs crossed", with(func(d *plugsv1.Destination) {
			d.RetryPolicy = &plugsv1.RetryPolicy{InitialBackoff: durationpb.New(time.Hour), MaxBackoff: durationpb.New(time.Minute)}
		}), "destination.retry_policy.initial_backoff"},
		{"max age", with(func(d *plugsv1.Destination) {
			d.RetryPolicy = &plugsv1.RetryPolicy{MaxAge: durationpb.New(31 * 24 * time.Hour)}
		}), "destination.retry_policy.max_age"},
		{"retry 5xx code", with(func(d *plugsv1.Destination) {
			d.RetryPolicy = &plugsv1.RetryPolicy{RetryStatusCodes: []int32{408, 500}}
		}), "destination.retry_policy.retry_status_codes[1]"},
		{"short timeout", with(func(d *plugsv1.Destination) { d.Timeout = durationpb.New(500 * time.Millisecond) }), "destination.timeout"},
		{"long timeout", with(func(d *plugsv1.Destination) { d.Timeout = durationpb.New(61 * time.Second) }), "destination.timeout"},
		{"concurrency high", with(func(d *plugsv1.Destination) { d.MaxConcurrency = 101 }), "destination.max_concurrency"},
		{"concurrency negative", with(func(d *plugsv1.Destination) { d.MaxConcurrency = -1 }), "destination.max_concurrency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.destSvc().CreateDestination(ctx, &plugsv1.CreateDestinationRequest{Destination: c.in})
			v := fieldViolations(t, err)
			if _, ok := v[c.field]; !ok {
				t.Fatalf("violations %v lack %s", v, c.field)
			}
		})
	}
	_, err := e.destSvc().CreateDestination(ctx, &plugsv1.CreateDestinationRequest{})
	if _, ok := fieldViolations(t, err)["destination"]; !ok {
		t.Fatal("a missing destination lacks its violation")
	}
	// The bounds themselves pass.
	edge := with(func(d *plugsv1.Destination) {
		d.Timeout = durationpb.New(time.Second)
		d.MaxConcurrency = 100
		d.RetryPolicy = &plugsv1.RetryPolicy{MaxAttempts: 100, MaxAge: durationpb.New(30 * 24 * time.Hour), RetryStatusCodes: []int32{408}}
		d.SharedKey = "exactly-16-chars"
	})
	dst, err := e.destSvc().CreateDestination(ctx, &plugsv1.CreateDestinationRequest{Destination: edge})
	if err != nil {
		t.Fatalf("bounds refused: %v", err)
	}

	// Update masks: only the listed paths, and a masked key is checked.
	for _, c := range []struct {
		in    *plugsv1.Destination
		paths []string
		field string
	}{
		{&plugsv1.Destination{Id: dst.GetId()}, []string{"revision"}, "update_mask"},
		{&plugsv1.Destination{Id: dst.GetId()}, []string{"shared_key_fingerprint"}, "update_mask"},
		{&plugsv1.Destination{Id: dst.GetId()}, []string{"timeout.seconds"}, "update_mask"},
		{&plugsv1.Destination{Id: dst.GetId()}, []string{"retry_policy.nope"}, "update_mask"},
		{&plugsv1.Destination{Id: dst.GetId()}, nil, "update_mask"},
		{&plugsv1.Destination{Id: dst.GetId()}, []string{"shared_key"}, "destination.shared_key"},
		{&plugsv1.Destination{Id: dst.GetId()}, []string{"status"}, "destination.status"},
		{&plugsv1.Destination{Id: dst.GetId()}, []string{"url"}, "destination.url"},
		{&plugsv1.Destination{Id: dst.GetId(), Url: "http://billing.example.com/"}, []string{"url"}, "destination.url"},
		{&plugsv1.Destination{Id: "nope"}, []string{"url"}, "destination.id"},
	} {
		_, err := e.destSvc().UpdateDestination(ctx, &plugsv1.UpdateDestinationRequest{Destination: c.in, UpdateMask: pathsMask(c.paths...)})
		if v := fieldViolations(t, err); v[c.field] == "" {
			t.Errorf("update %v: violations %v lack %s", c.paths, v, c.field)
		}
	}
	_, err = e.destSvc().GetDestination(ctx, &plugsv1.GetDestinationRequest{Id: "not-a-uuid"})
	if _, ok := fieldViolations(t, err)["id"]; !ok {
		t.Fatal("bad UUID lacks the id violation")
	}
	_, err = e.destSvc().ListDestinations(ctx, &plugsv1.ListDestinationsRequest{PageToken: "garbage!"})
	if _, ok := fieldViolations(t, err)["page_token"]; !ok {
		t.Fatal("bad page token lacks its violation")
	}
	// Nothing changed.
	after, err := e.destSvc().GetDestination(ctx, &plugsv1.GetDestinationRequest{Id: dst.GetId()})
	if err != nil || !proto.Equal(after, dst) {
		t.Fatalf("failed updates changed the destination: %v %v", after, err)
	}

	// REST errors are JSON with the same details, and never echo the key.
	code, body := e.rest("POST", "/v1/destinations", e.keyA, `{"displayName":"x","url":"http://billing.example.com/","sharedKey":"`+destKeyA2+`"}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "google.rpc.BadRequest") || !strings.Contains(string(body), "destination.url") {
		t.Fatalf("REST validation: %d %s", code, body)
	}
	code, body = e.rest("POST", "/v1/destinations", e.keyA, `{"displayName":"x","url":"https://billing.example.com/","sharedKey":"whsec_short!"}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "destination.shared_key") || strings.Contains(string(body), "whsec_short!") {
		t.Fatalf("REST key validation: %d %s", code, body)
	}
	e.assertNoSecretLeaked(destKeyA1, destKeyA2, "exactly-16-chars", "fifteen-chars-x", "whsec_not*base64*at*all*!!")
}

func TestDestinationHTTPNeedsAllowlist(t *testing.T) {
	strict := startEnv(t, "sqlite")
	_, err := strict.destSvc().CreateDestination(as(strict.keyA), createDestReq("dev", "http://localhost:9000/hook", destKeyA1))
	if v := fieldViolations(t, err); !strings.Contains(v["destination.url"], "https://") {
		t.Fatalf("http:// accepted without an allowlist: %v", v)
	}
	_, err = strict.webhookSvc().RegisterWebhook(as(strict.keyA), &plugsv1.RegisterWebhookRequest{CallbackUrl: "http://localhost:9000/hook", SharedKey: destKeyA1})
	if v := fieldViolations(t, err); v["callback_url"] == "" {
		t.Fatalf("registration over http:// accepted: %v", v)
	}

	e := startEnvAllowingHTTP(t, "sqlite", "localhost", "[::1]")
	ctx := as(e.keyA)
	for _, u := range []string{"http://localhost:9000/hook", "http://LOCALHOST/hook", "http://[::1]:8080/", "https://anywhere.example.com/"} {
		if _, err := e.destSvc().CreateDestination(ctx, createDestReq("dev", u, destKeyA1)); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://localhost.example.com/", "http://127.0.0.1/", "http://billing.example.com/"} {
		_, err := e.destSvc().CreateDestination(ctx, createDestReq("dev", u, destKeyA1))
		if v := fieldViolations(t, err); v["destination.url"] == "" {
			t.Errorf("%s accepted: %v", u, v)
		}
	}
	if _, err := e.webhookSvc().RegisterWebhook(ctx, &plugsv1.RegisterWebhookRequest{CallbackUrl: "http://localhost:9000/hook", SharedKey: destKeyA1}); err != nil {
		t.Fatalf("allow-listed registration refused: %v", err)
	}
	strict.assertNoSecretLeaked(destKeyA1)
	e.assertNoSecretLeaked(destKeyA1)
}

// A destination URL that names an internal address literally, carries an
// IPv6 zone, or writes an IPv4 address in a non-standard notation is
// refused when saved, on create, update and webhook registration alike; the
// data plane would refuse it at connect time anyway.
func TestDestinationInternalAddresses(t *testing.T) {
	e := startEnvAllowingHTTP(t, "sqlite", "localhost", "[::1]", "127.0.0.1")
	ctx := as(e.keyA)
	refused := []string{
		"https://[fe80::1%25eth0]/hook", "http://[::1%25lo]:8080/hook", "https://[2606:4700::1%25eth0]/",
		"https://10.0.0.7/hook", "https://169.254.169.254/latest", "https://[::ffff:169.254.169.254]/",
		"https://[::7f00:1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a00:1::1]/",
		"https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "https://[fd00::2]/", "https://0.0.0.0/",
		"https://2130706433/", "https://0x7f.1/", "https://127.1/", "https://10.0.0.7./",
	}
	for _, u := range refused {
		_, err := e.destSvc().CreateDestination(ctx, createDestReq("internal", u, destKeyA1))
		if v := fieldViolations(t, err); v["destination.url"] == "" {
			t.Errorf("%s accepted: %v", u, v)
		}
		_, err = e.webhookSvc().RegisterWebhook(ctx, &plugsv1.RegisterWebhookRequest{CallbackUrl: u, SharedKey: destKeyA1})
		if v := fieldViolations(t, err); v["callback_url"] == "" {
			t.Errorf("registration of %s accepted: %v", u, v)
		}
	}
	dst, err := e.destSvc().CreateDestination(ctx, createDestReq("public", "https://8.8.8.8/hook", destKeyA1))
	if err != nil {
		t.Fatalf("public address refused: %v", err)
	}
	_, err = e.destSvc().UpdateDestination(ctx, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dst.GetId(), Url: "https://[::ffff:10.0.0.7]/hook"},
		UpdateMask:  pathsMask("url"),
	})
	if v := fieldViolations(t, err); v["destination.url"] == "" {
		t.Errorf("update to an internal address accepted: %v", v)
	}
	// Public addresses, and the operator's allow-listed local receivers,
	// over https as over http.
	for _, u := range []string{"https://[2606:4700:4700::1111]/", "https://[64:ff9b::808:808]/", "https://127.0.0.1:8443/", "https://[::1]/", "http://[0:0::1]/"} {
		if _, err := e.destSvc().CreateDestination(ctx, createDestReq("ok", u, destKeyA1)); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

func TestDestinationTenantIsolation(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) { testDestinationTenantIsolation(t, d) })
	}
}

func testDestinationTenantIsolation(t *testing.T, dialect string) {
	e := startEnv(t, dialect)
	a, b := as(e.keyA), as(e.keyB)
	srcA, err := e.sources().CreateSource(a, newSource("a's source", secretA))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := e.destSvc().CreateDestination(a, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "a's billing", Url: "https://a.example.com/usage", SharedKey: destKeyA1, SourceIds: []string{srcA.GetId()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.destSvc().GetDestination(a, &plugsv1.GetDestinationRequest{Id: dst.GetId()})

	// Every method answers NOT_FOUND for A's destination, as for a missing one.
	missing := "01936b8e-0000-7000-8000-000000000000"
	for _, id := range []string{dst.GetId(), missing} {
		_, err = e.destSvc().GetDestination(b, &plugsv1.GetDestinationRequest{Id: id})
		wantCode(t, err, codes.NotFound)
		_, err = e.destSvc().UpdateDestination(b, &plugsv1.UpdateDestinationRequest{
			Destination: &plugsv1.Destination{Id: id, Url: "https://attacker.example.com/", SharedKey: destKeyB1},
			UpdateMask:  pathsMask("url", "shared_key"),
		})
		wantCode(t, err, codes.NotFound)
		_, err = e.destSvc().DeleteDestination(b, &plugsv1.DeleteDestinationRequest{Id: id})
		wantCode(t, err, codes.NotFound)
	}
	_, errMissing := e.destSvc().GetDestination(b, &plugsv1.GetDestinationRequest{Id: missing})
	_, errOther := e.destSvc().GetDestination(b, &plugsv1.GetDestinationRequest{Id: dst.GetId()})
	if status.Convert(errMissing).Message() != status.Convert(errOther).Message() {
		t.Fatalf("missing %v vs other tenant %v", errMissing, errOther)
	}
	list, err := e.destSvc().ListDestinations(b, &plugsv1.ListDestinationsRequest{})
	if err != nil || len(list.GetDestinations()) != 0 {
		t.Fatalf("B lists %d destinations (%v)", len(list.GetDestinations()), err)
	}
	hooks, err := e.webhookSvc().ListWebhooks(b, &plugsv1.ListWebhooksRequest{})
	if err != nil || hooks.GetTotalElements() != 0 || len(hooks.GetContent()) != 0 {
		t.Fatalf("B lists webhooks %v (%v)", hooks, err)
	}

	// B cannot route A's source, on create or on update, and cannot tell
	// A's source from one that never existed.
	_, errOtherSrc := e.destSvc().CreateDestination(b, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "b", Url: "https://b.example.com/", SharedKey: destKeyB1, SourceIds: []string{srcA.GetId()},
	}})
	st := wantCode(t, errOtherSrc, codes.NotFound)
	_, errMissingSrc := e.destSvc().CreateDestination(b, &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "b", Url: "https://b.example.com/", SharedKey: destKeyB1, SourceIds: []string{missing},
	}})
	if stMissing := wantCode(t, errMissingSrc, codes.NotFound); stMissing.Message() != st.Message() {
		t.Fatalf("another tenant's source %v vs a missing one %v", errOtherSrc, errMissingSrc)
	}
	dstB, err := e.destSvc().CreateDestination(b, createDestReq("b", "https://b.example.com/", destKeyB1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.destSvc().UpdateDestination(b, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dstB.GetId(), SourceIds: []string{srcA.GetId()}}, UpdateMask: pathsMask("source_ids"),
	})
	wantCode(t, err, codes.NotFound)
	if code, body := e.rest("POST", "/v1/destinations", e.keyB,
		`{"displayName":"b","url":"https://b.example.com/","sharedKey":"`+destKeyB1+`","sourceIds":["`+srcA.GetId()+`"]}`); code != http.StatusNotFound {
		t.Fatalf("REST route other tenant's source: %d %s", code, body)
	}
	// And A cannot route B's source either way round: routing is checked
	// against the caller's tenant, not the destination's creator.
	srcB, err := e.sources().CreateSource(b, newSource("b's source", secretA))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.destSvc().UpdateDestination(a, &plugsv1.UpdateDestinationRequest{
		Destination: &plugsv1.Destination{Id: dst.GetId(), SourceIds: []string{srcA.GetId(), srcB.GetId()}}, UpdateMask: pathsMask("source_ids"),
	})
	wantCode(t, err, codes.NotFound)

	// REST says the same.
	if code, body := e.rest("GET", "/v1/destinations/"+dst.GetId(), e.keyB, ""); code != http.StatusNotFound {
		t.Fatalf("REST GET other tenant: %d %s", code, body)
	}
	if code, _ := e.rest("PATCH", "/v1/destinations/"+dst.GetId(), e.keyB, `{"url":"https://attacker.example.com/"}`); code != http.StatusNotFound {
		t.Fatalf("REST PATCH other tenant: %d", code)
	}
	if code, _ := e.rest("DELETE", "/v1/destinations/"+dst.GetId(), e.keyB, ""); code != http.StatusNotFound {
		t.Fatalf("REST DELETE other tenant: %d", code)
	}
	if code, body := e.rest("GET", "/v1/destinations", e.keyB, ""); code != http.StatusOK || strings.Contains(string(body), dst.GetId()) {
		t.Fatalf("REST list as B: %d %s", code, body)
	}
	if code, body := e.rest("GET", "/v1/webhooks/list", e.keyB, ""); code != http.StatusOK || strings.Contains(string(body), dst.GetId()) {
		t.Fatalf("REST webhooks as B: %d %s", code, body)
	}

	// Nothing changed for A.
	after, err := e.destSvc().GetDestination(a, &plugsv1.GetDestinationRequest{Id: dst.GetId()})
	if err != nil || !proto.Equal(before, after) {
		t.Fatalf("A's destination changed:\nbefore %v\nafter  %v (%v)", before, after, err)
	}

	// Without a key, nothing answers.
	for _, p := range []string{"/v1/destinations", "/v1/webhooks/list"} {
		if code, body := e.rest("GET", p, "", ""); code != http.StatusUnauthorized || !json.Valid(body) {
			t.Errorf("REST GET %s without key: %d %s", p, code, body)
		}
	}
	_, err = e.destSvc().ListDestinations(as(""), &plugsv1.ListDestinationsRequest{})
	wantCode(t, err, codes.Unauthenticated)
	_, err = e.webhookSvc().RegisterWebhook(as(""), &plugsv1.RegisterWebhookRequest{CallbackUrl: "https://x.example.com/", SharedKey: destKeyA1})
	wantCode(t, err, codes.Unauthenticated)
	e.assertNoSecretLeaked(destKeyA1, destKeyB1, secretA)
}

func TestWebhookRegistrationForm(t *testing.T) {
	e := startEnv(t, "sqlite")
	// Five registrations over REST, each answering exactly the form's shape.
	var ids []string
	for i := range 5 {
		code, body := e.rest("POST", "/v1/webhooks/register", e.keyA,
			fmt.Sprintf(`{"callbackUrl":"https://billing.example.com/hook/%d","sharedKey":%q}`, i, destKeyA1))
		if code != http.StatusOK {
			t.Fatalf("register: %d %s", code, body)
		}
		var reg map[string]any
		if err := json.Unmarshal(body, &reg); err != nil {
			t.Fatal(err)
		}
		id, _ := reg["id"].(string)
		want := map[string]any{
			"id": id, "endpointUrl": fmt.Sprintf("https://billing.example.com/hook/%d", i),
			"hmacHeaderName": "webhook-signature", "algorithm": "SHA_256", "status": "ACTIVE",
		}
		if id == "" || !jsonSame(reg, want) {
			t.Fatalf("registration %s, want %v", body, want)
		}
		ids = append(ids, id)
	}
	// A registration is a destination with the defaults.
	d, err := e.destSvc().GetDestination(as(e.keyA), &plugsv1.GetDestinationRequest{Id: ids[0]})
	if err != nil || d.GetDisplayName() != "billing.example.com" || d.GetSignatureStyle() != plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS ||
		d.GetRetryPolicy() != nil || !keyFingerprintRe.MatchString(d.GetSharedKeyFingerprint()) {
		t.Fatalf("registered destination %v %v", d, err)
	}
	// A hub-style, paused destination shows its own header and status.
	hub, err := e.destSvc().CreateDestination(as(e.keyA), &plugsv1.CreateDestinationRequest{Destination: &plugsv1.Destination{
		DisplayName: "hub", Url: "https://hub.example.com/", SharedKey: destKeyA2,
		SignatureStyle: plugsv1.Destination_SIGNATURE_STYLE_HUB, Status: plugsv1.Destination_STATUS_PAUSED,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, hub.GetId())

	list := func(query string) (int, map[string]any, []byte) {
		t.Helper()
		code, body := e.rest("GET", "/v1/webhooks/list"+query, e.keyA, "")
		var m map[string]any
		if code == http.StatusOK {
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		return code, m, body
	}
	pageIDs := func(m map[string]any) []string {
		var out []string
		for _, c := range m["content"].([]any) {
			out = append(out, c.(map[string]any)["id"].(string))
		}
		return out
	}
	var walked []string
	for page := range 3 {
		code, m, body := list(fmt.Sprintf("?page=%d&size=2", page))
		if code != http.StatusOK {
			t.Fatalf("page %d: %d %s", page, code, body)
		}
		if !jsonSame(jsonKeys(m), map[string]any{"content": nil, "totalPages": nil, "totalElements": nil, "size": nil, "number": nil}) ||
			m["totalPages"] != 3.0 || m["totalElements"] != 6.0 || m["size"] != 2.0 || m["number"] != float64(page) {
			t.Fatalf("page %d: %s", page, body)
		}
		walked = append(walked, pageIDs(m)...)
	}
	if !slices.Equal(walked, ids) {
		t.Fatalf("walked %v, want %v", walked, ids)
	}
	_, m, body := list("?page=2&size=2")
	last := m["content"].([]any)[1].(map[string]any)
	if !jsonSame(last, map[string]any{"id": hub.GetId(), "endpointUrl": "https://hub.example.com/",
		"hmacHeaderName": "X-Hub-Signature-256", "algorithm": "SHA_256", "status": "PAUSED"}) {
		t.Fatalf("hub registration: %s", body)
	}
	// Past the end: an empty page, every field still present.
	if _, m, body := list("?page=7&size=2"); m["number"] != 7.0 || len(m["content"].([]any)) != 0 || m["totalElements"] != 6.0 || m["totalPages"] != 3.0 {
		t.Fatalf("past the end: %s", body)
	}
	// Defaults: page 0, size 20; a large size is capped.
	if _, m, body := list(""); m["number"] != 0.0 || m["size"] != 20.0 || m["totalPages"] != 1.0 || len(m["content"].([]any)) != 6 {
		t.Fatalf("defaults: %s", body)
	}
	if _, m, body := list("?size=5000"); m["size"] != 1000.0 {
		t.Fatalf("capped size: %s", body)
	}
	// Nothing registered: zeros, not missing keys.
	code, emptyBody := e.rest("GET", "/v1/webhooks/list", e.keyB, "")
	var empty map[string]any
	if err := json.Unmarshal(emptyBody, &empty); err != nil || code != http.StatusOK ||
		!jsonSame(empty, map[string]any{"content": []any{}, "totalPages": 0, "totalElements": 0, "size": 20, "number": 0}) {
		t.Fatalf("empty list: %d %s", code, emptyBody)
	}
	// Negative page or size: INVALID_ARGUMENT naming the field.
	if code, body := e.rest("GET", "/v1/webhooks/list?page=-1", e.keyA, ""); code != http.StatusBadRequest || !strings.Contains(string(body), `"page"`) {
		t.Fatalf("negative page: %d %s", code, body)
	}
	_, err = e.webhookSvc().ListWebhooks(as(e.keyA), &plugsv1.ListWebhooksRequest{Page: -1})
	if v := fieldViolations(t, err); v["page"] == "" {
		t.Fatalf("negative page: %v", v)
	}
	_, err = e.webhookSvc().ListWebhooks(as(e.keyA), &plugsv1.ListWebhooksRequest{Size: -5})
	if v := fieldViolations(t, err); v["size"] == "" {
		t.Fatalf("negative size: %v", v)
	}
	// The form's validation names the form's fields.
	for _, c := range []struct {
		body, field string
	}{
		{`{"callbackUrl":"http://billing.example.com/","sharedKey":"` + destKeyA1 + `"}`, "callback_url"},
		{`{"callbackUrl":"https://u:p@billing.example.com/","sharedKey":"` + destKeyA1 + `"}`, "callback_url"},
		{`{"callbackUrl":"https://billing.example.com/","sharedKey":"short"}`, "shared_key"},
		{`{"callbackUrl":"https://billing.example.com/"}`, "shared_key"},
		{`{"sharedKey":"` + destKeyA1 + `"}`, "callback_url"},
	} {
		code, body := e.rest("POST", "/v1/webhooks/register", e.keyA, c.body)
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"`+c.field+`"`) {
			t.Errorf("register %s: %d %s", c.body, code, body)
		}
	}
	// Registrations through gRPC say the same as REST.
	reg, err := e.webhookSvc().RegisterWebhook(as(e.keyA), &plugsv1.RegisterWebhookRequest{CallbackUrl: "https://grpc.example.com/", SharedKey: destKeyWhsec})
	if err != nil || reg.GetHmacHeaderName() != "webhook-signature" || reg.GetAlgorithm() != "SHA_256" || reg.GetStatus() != "ACTIVE" {
		t.Fatalf("gRPC register: %v %v", reg, err)
	}
	e.assertNoSecretLeaked(destKeyA1, destKeyA2, destKeyWhsec)
}

// jsonSame compares decoded JSON values.
func jsonSame(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// jsonKeys keeps an object's keys, for comparing shapes.
func jsonKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}
