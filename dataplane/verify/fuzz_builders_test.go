package verify_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/payload"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
	"github.com/plugshq/plugs/templates"
)

// FuzzQueryValue compares the map-free query reader with net/url: wherever
// url.ParseQuery reads a query without error, both give the same first
// value.
func FuzzQueryValue(f *testing.F) {
	f.Add("data.id=123&type=payment", "data.id")
	f.Add("a=1&a=2", "a")
	f.Add("a%2Eb=%20x+y", "a.b")
	f.Add("&&=&a", "a")
	f.Add("a=%zz", "a")
	f.Add("x=1#a=2", "a")
	f.Fuzz(func(t *testing.T, query, name string) {
		if strings.ContainsAny(query, "#;?") {
			return // url.ParseQuery would read these differently from a URL's query
		}
		got, ok, err := verify.QueryValue("https://h/p?"+query, name)
		want, perr := url.ParseQuery(query)
		if perr != nil {
			return
		}
		if err != nil {
			t.Fatalf("QueryValue(%q, %q): %v, but net/url reads it", query, name, err)
		}
		vals, present := want[name]
		if ok != present || (present && got != vals[0]) {
			t.Fatalf("QueryValue(%q, %q) = %q, %v; net/url: %q, %v", query, name, got, ok, vals, present)
		}
	})
}

// FuzzQueryManifest signs Mercado Pago's manifest over a random data.id
// query parameter, read independently with net/url: a request verifies
// exactly when the engine reads the same value.
func FuzzQueryManifest(f *testing.F) {
	v := mustCompile(f, mercadoLike(), secretsOf(testSecret))
	f.Add("data.id=123456&type=payment", "req-1")
	f.Add("data.id=A%2Bb", "")
	f.Add("type=payment", "r")
	f.Add("data.id=%zz", "r")
	f.Fuzz(func(t *testing.T, query, requestID string) {
		if strings.ContainsAny(query, "#;?") || strings.ContainsAny(requestID, "\r\n\x00") {
			return
		}
		q, perr := url.ParseQuery(query)
		id := q.Get("data.id")
		manifest := "id:" + id + ";request-id:" + strings.TrimSpace(requestID) + ";ts:" + testNowTS + ";"
		h := http.Header{}
		h.Set("x-signature", "ts="+testNowTS+",v1="+hexSig(testSecret, manifest))
		h.Set("x-request-id", strings.TrimSpace(requestID))
		err := v.Verify(newRequestHeader("https://h/in?"+query, h, testBody), verify.Options{Now: testNow})
		_, present := q["data.id"]
		switch {
		case perr == nil && present && strings.TrimSpace(requestID) == h.Get("x-request-id"):
			if err != nil {
				t.Fatalf("query %q: %v", query, err)
			}
		case err != nil && !isSentinel(err):
			t.Fatalf("query %q: %v is no sentinel", query, err)
		}
	})
}

func newRequestHeader(url string, h http.Header, body string) *verify.Request {
	r := newRequest(http.MethodPost, url, jsonCT, nil, body)
	for k, v := range h {
		r.Header[k] = v
	}
	return r
}

// FuzzLeadingTimestampList feeds random "<ts>,<sig>,…" headers to a
// Recurly-like scheme: none carries a valid MAC, so each fails with a
// sentinel error and nothing panics; a valid signature appended after
// the same items always passes when the timestamp is the receiver's.
func FuzzLeadingTimestampList(f *testing.F) {
	v := mustCompile(f, recurlyLike(), secretsOf(testSecret))
	ms := strconv.FormatInt(testNow.UnixMilli(), 10)
	f.Add(ms + "," + strings.Repeat("ab", 32))
	f.Add(",,,")
	f.Add(ms)
	f.Add("1e300," + strings.Repeat("z", 64))
	f.Add(strings.Repeat(ms+",", 40))
	f.Fuzz(func(t *testing.T, header string) {
		err := v.Verify(newRequest(http.MethodPost, testURL, jsonCT, headers("recurly-signature", header), testBody), verify.Options{Now: testNow})
		if err == nil || !isSentinel(err) {
			t.Fatalf("header %q: %v", header, err)
		}
		if strings.ContainsAny(header, "\r\n\x00") {
			return
		}
		good := ms + "," + header + "," + hexSig(testSecret, ms, ".", testBody)
		if strings.Count(good, ",") > 14 {
			return // past the signatures one request may carry
		}
		if err := v.Verify(newRequest(http.MethodPost, testURL, jsonCT, headers("recurly-signature", good), testBody), verify.Options{Now: testNow}); err != nil {
			t.Fatalf("header %q with a valid signature: %v", good, err)
		}
	})
}

// FuzzHTTPDate checks ParseTime's HTTP dates against net/http and runs a
// Metronome-like scheme over random Date headers.
func FuzzHTTPDate(f *testing.F) {
	v := mustCompile(f, dateSigned(), secretsOf(testSecret))
	f.Add(testNow.Format(http.TimeFormat))
	f.Add(testNow.Format(time.RFC850))
	f.Add(testNow.Format(time.ANSIC))
	f.Add("Sun, 06 Nov 1994 08:49:37 GMT")
	f.Add("Mon, 32 Foo 99999 25:61:61 XYZ")
	f.Fuzz(func(t *testing.T, date string) {
		got, err := verify.ParseTime(date, plugsv1.TimestampSource_FORMAT_HTTP_DATE)
		want, werr := http.ParseTime(strings.TrimSpace(date))
		if (err == nil) != (werr == nil) || err == nil && !got.Equal(want) {
			t.Fatalf("ParseTime(%q) = %v, %v; net/http: %v, %v", date, got, err, want, werr)
		}
		if strings.ContainsAny(date, "\r\n\x00") {
			return
		}
		h := headers("Date", date, "Metronome-Webhook-Signature", hexSig(testSecret, strings.TrimSpace(date), "\n", testBody))
		verr := v.Verify(newRequest(http.MethodPost, testURL, jsonCT, h, testBody), verify.Options{Now: testNow})
		if verr != nil && !isSentinel(verr) {
			t.Fatalf("Date %q: %v", date, verr)
		}
		if err == nil && verr == nil && (testNow.Sub(got) > 5*time.Minute || got.Sub(testNow) > 5*time.Minute) {
			t.Fatalf("Date %q (%v) is stale but verified", date, got)
		}
	})
}

// FuzzEscapedFields signs Adyen-style items over random field values with
// an escaping written independently here (strings.Replacer): the engine's
// escaping must give the same signing string, and a changed value must
// fail.
func FuzzEscapedFields(f *testing.F) {
	key := "00112233445566778899aabbccddeeff"
	rawKey, _ := hex.DecodeString(key)
	v := mustCompile(f, adyenLike(), secretsOf(key))
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	f.Add("pspReference", "orig", int64(1000))
	f.Add(`a:b\c`, `::\\`, int64(-1))
	f.Add("", "", int64(0))
	f.Add("\u00e9\x00", "\n", int64(1)<<53)
	f.Fuzz(func(t *testing.T, a, b string, n int64) {
		sig := base64.StdEncoding.EncodeToString(macOf(sha256.New, rawKey, esc.Replace(a)+":"+esc.Replace(b)+":"+strconv.FormatInt(n, 10)))
		item := map[string]any{"a": a, "b": b, "n": n, "sig": sig}
		body, err := json.Marshal(map[string]any{"items": []any{map[string]any{"item": item}}})
		if err != nil {
			return
		}
		err = v.Verify(newRequest(http.MethodPost, testURL, jsonCT, nil, string(body)), verify.Options{Now: testNow})
		if !utf8Safe(a) || !utf8Safe(b) {
			// json.Marshal replaced invalid UTF-8; the signed text differs.
			return
		}
		if err != nil {
			t.Fatalf("a=%q b=%q n=%d: %v (%s)", a, b, n, err, body)
		}
		item["b"] = b + ":"
		body, _ = json.Marshal(map[string]any{"items": []any{map[string]any{"item": item}}})
		if err := v.Verify(newRequest(http.MethodPost, testURL, jsonCT, nil, string(body)), verify.Options{Now: testNow}); err == nil {
			t.Fatalf("a=%q b=%q: a changed field verified", a, b)
		}
	})
}

func utf8Safe(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, '\uFFFD')
}

// FuzzHandshake feeds random queries, headers and bodies to every built-in
// template's handshakes: nothing panics, a refusal is one of the package's
// sentinel errors, and no answer puts a line break into a header.
func FuzzHandshake(f *testing.F) {
	catalog := templates.MustBuiltin()
	var vs []*verify.Verifier
	for _, id := range catalog.IDs() {
		tpl, _ := catalog.Get(id)
		s := tpl.GetSignatureScheme()
		if s.GetHandshake() == plugsv1.SignatureScheme_HANDSHAKE_UNSPECIFIED && len(s.GetHandshakes()) == 0 {
			continue
		}
		s = proto.Clone(s).(*plugsv1.SignatureScheme)
		s.VerifyToken = "verify-token"
		vs = append(vs, mustCompile(f, s, secretsOf(testSecret)))
	}
	f.Add("GET", "challenge=abc", "", "")
	f.Add("POST", "validationToken=a%20b", "x", `{"type":"url_verification","challenge":"c"}`)
	f.Add("POST", "", "webhook_callback_verification", `{"challenge":"x\r\ny"}`)
	f.Add("GET", "hub.mode=subscribe&hub.verify_token=verify-token&hub.challenge=1", "", "")
	f.Add("HEAD", "crc_token=%zz", "", `{"verification_token":1}`)
	// AWS SNS's confirmation: its URL is on an SNS host, but this data
	// plane has no fetcher, so it is refused as unavailable.
	f.Add("POST", "", "", `{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"}`)
	f.Add("POST", "", "", `{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.us-east-1.amazonaws.com.evil/"}`)
	f.Fuzz(func(t *testing.T, method, query, header, body string) {
		h := http.Header{}
		for _, name := range []string{"X-Hook-Secret", "Twitch-Eventsub-Message-Type", "X-Okta-Verification-Challenge"} {
			h[name] = []string{header}
		}
		for _, v := range vs {
			for _, verified := range []bool{false, true} {
				req := &verify.Request{Method: method, URL: "https://h/in?" + query, Header: h, Body: payload.New([]byte(body), jsonCT)}
				ans, err := v.Handshake(req, query, verified, verify.Options{Now: testNow})
				if err != nil {
					if !isSentinel(err) {
						t.Fatalf("%v is no sentinel", err)
					}
					continue
				}
				if ans == nil {
					continue
				}
				for name, vals := range ans.Header {
					for _, val := range vals {
						if strings.ContainsAny(val, "\r\n") {
							t.Fatalf("header %s = %q", name, val)
						}
					}
				}
			}
		}
	})
}
