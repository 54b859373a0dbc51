package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ohler55/ojg/jp"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Answer is the response a handshake expects.
type Answer struct {
	ContentType string
	Body        []byte
}

var (
	slackType      = jp.MustParseString("$.type")
	slackChallenge = jp.MustParseString("$.challenge")
	zoomEvent      = jp.MustParseString("$.event")
	zoomPlainToken = jp.MustParseString("$.payload.plainToken")
	discordType    = jp.MustParseString("$.type")
)

// Handshake answers req when it is the provider's handshake and returns nil
// otherwise. Handshakes that arrive as GET requests carry no signature
// (Meta's subscription check, Twitter's CRC, Okta's verification) and are
// answered before any verification; Slack, Zoom and Discord sign theirs
// like any event, so a POST is only answered when verified is true.
func (v *Verifier) Handshake(req *Request, rawQuery string, verified bool, now time.Time) (*Answer, error) {
	kind := v.scheme.GetHandshake()
	if kind == plugsv1.SignatureScheme_HANDSHAKE_UNSPECIFIED {
		return nil, nil
	}
	if req.Method == http.MethodGet {
		return v.getHandshake(kind, req, rawQuery, now)
	}
	if !verified {
		return nil, nil
	}
	switch kind {
	case plugsv1.SignatureScheme_HANDSHAKE_SLACK_URL_VERIFICATION:
		data, err := req.Body.Parsed()
		if err != nil || slackType.First(data) != "url_verification" {
			return nil, nil
		}
		challenge, _ := slackChallenge.First(data).(string)
		return jsonAnswer(map[string]string{"challenge": challenge}), nil
	case plugsv1.SignatureScheme_HANDSHAKE_ZOOM_URL_VALIDATION:
		data, err := req.Body.Parsed()
		if err != nil || zoomEvent.First(data) != "endpoint.url_validation" {
			return nil, nil
		}
		plain, _ := zoomPlainToken.First(data).(string)
		k := v.firstKey(now)
		if k == nil {
			return nil, ErrSecretMissing
		}
		mac := hmac.New(sha256.New, k.raw)
		mac.Write([]byte(plain))
		return jsonAnswer(map[string]string{"plainToken": plain, "encryptedToken": hex.EncodeToString(mac.Sum(nil))}), nil
	case plugsv1.SignatureScheme_HANDSHAKE_DISCORD_PING:
		data, err := req.Body.Parsed()
		if err != nil || discordType.First(data) != int64(1) {
			return nil, nil
		}
		return &Answer{ContentType: "application/json", Body: []byte(`{"type":1}`)}, nil
	}
	return nil, nil
}

func (v *Verifier) getHandshake(kind plugsv1.SignatureScheme_Handshake, req *Request, rawQuery string, now time.Time) (*Answer, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: query does not parse", ErrSignatureMalformed)
	}
	switch kind {
	case plugsv1.SignatureScheme_HANDSHAKE_META_HUB_CHALLENGE:
		if q.Get("hub.mode") != "subscribe" {
			return nil, nil
		}
		want := v.scheme.GetVerifyToken()
		if want == "" {
			return nil, fmt.Errorf("%w: the source has no verify token", ErrSecretMissing)
		}
		got := q.Get("hub.verify_token")
		if got == "" {
			return nil, fmt.Errorf("%w: hub.verify_token", ErrSignatureMissing)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return nil, fmt.Errorf("%w: hub.verify_token", ErrSignatureInvalid)
		}
		return &Answer{ContentType: "text/plain; charset=utf-8", Body: []byte(q.Get("hub.challenge"))}, nil
	case plugsv1.SignatureScheme_HANDSHAKE_TWITTER_CRC:
		token := q.Get("crc_token")
		if token == "" {
			return nil, nil
		}
		k := v.firstKey(now)
		if k == nil {
			return nil, ErrSecretMissing
		}
		mac := hmac.New(sha256.New, k.raw)
		mac.Write([]byte(token))
		return jsonAnswer(map[string]string{"response_token": "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))}), nil
	case plugsv1.SignatureScheme_HANDSHAKE_OKTA_VERIFICATION:
		// Echoing the challenge proves only that this URL answers; events
		// themselves are still checked against the source's token.
		challenge := req.Header.Get("X-Okta-Verification-Challenge")
		if challenge == "" {
			return nil, nil
		}
		return jsonAnswer(map[string]string{"verification": challenge}), nil
	}
	return nil, nil
}

// firstKey returns the newest active key (secrets arrive newest first).
func (v *Verifier) firstKey(now time.Time) *key {
	for _, k := range v.keys {
		if k.activeAt(now) {
			return k
		}
	}
	return nil
}

func jsonAnswer(m map[string]string) *Answer {
	b, _ := json.Marshal(m)
	return &Answer{ContentType: "application/json", Body: b}
}
