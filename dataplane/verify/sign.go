package verify

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Message is a request to sign the way a provider would.
type Message struct {
	Method string
	// URL is the full URL the request is sent to.
	URL         string
	ContentType string
	// Header holds extra headers to send, for example the provider's event
	// id; it is not modified.
	Header http.Header
	Body   []byte
}

// Signed is a signed request: the headers to send (the message's own plus
// the signature, timestamp and id headers) and the body, which differs from
// the message's only for schemes that carry the timestamp or the signature
// inside it.
type Signed struct {
	Header http.Header
	Body   []byte
	// URL is the message's URL, with the body hash parameter added when
	// the scheme authenticates a body that is not a form through the URL.
	URL string
}

// Sign signs m under scheme with secret (as configured on a source) at
// time now, exactly as Verify checks it. It serves test events and the
// `plugs sign` command. Ed25519 schemes need SignEd25519.
func Sign(scheme *plugsv1.SignatureScheme, secret string, m Message, now time.Time) (*Signed, error) {
	switch scheme.GetAlgorithm() {
	case plugsv1.SignatureScheme_ALGORITHM_ED25519:
		return nil, fmt.Errorf("%w: Ed25519 needs the private key", ErrCannotSign)
	case plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY, plugsv1.SignatureScheme_ALGORITHM_JWT:
		return nil, fmt.Errorf("%w: the provider signs with its private key", ErrCannotSign)
	}
	return sign(scheme, []byte(secret), nil, m, now)
}

// SignEd25519 signs m under an Ed25519 scheme with the private key whose
// public half is configured on the source.
func SignEd25519(scheme *plugsv1.SignatureScheme, priv ed25519.PrivateKey, m Message, now time.Time) (*Signed, error) {
	if scheme.GetAlgorithm() != plugsv1.SignatureScheme_ALGORITHM_ED25519 {
		return nil, fmt.Errorf("%w: not an Ed25519 scheme", ErrCannotSign)
	}
	return sign(scheme, nil, priv, m, now)
}

func sign(scheme *plugsv1.SignatureScheme, secret []byte, priv ed25519.PrivateKey, m Message, now time.Time) (*Signed, error) {
	v, err := Compile(scheme, nil)
	if err != nil {
		return nil, err
	}
	out := &Signed{Header: m.Header.Clone(), Body: m.Body, URL: m.URL}
	if out.Header == nil {
		out.Header = http.Header{}
	}
	if m.ContentType != "" {
		out.Header.Set("Content-Type", m.ContentType)
	}
	switch v.alg {
	case plugsv1.SignatureScheme_ALGORITHM_TOKEN:
		out.Header.Set(v.token, string(secret))
		return out, nil
	case plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
		out.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(secret))
		return out, nil
	}
	if v.idHeader != "" && out.Header.Get(v.idHeader) == "" {
		out.Header.Set(v.idHeader, "msg_"+randomID())
	}
	ts := ""
	if v.hasTS {
		ts = FormatTime(now, v.tsFormat)
		if v.tsHeader != "" {
			out.Header.Set(v.tsHeader, ts)
		}
		if v.tsSlot >= 0 {
			if out.Body, err = setBodyField(out.Body, v.paths.Text(v.tsSlot), ts); err != nil {
				return nil, err
			}
		}
	}
	if v.sigSlot >= 0 {
		for _, p := range v.parts {
			if p.kind == plugsv1.SignedPart_KIND_BODY {
				return nil, fmt.Errorf("%w: a signature inside the body cannot sign the body", ErrCannotSign)
			}
		}
	}
	body := payload.New(out.Body, out.Header.Get("Content-Type"))
	if v.signsForm && v.bodyHashParam != "" && !body.Form() && len(out.Body) > 0 {
		sum := sha256.Sum256(out.Body)
		sep := "?"
		if strings.Contains(out.URL, "?") {
			sep = "&"
		}
		out.URL += sep + url.QueryEscape(v.bodyHashParam) + "=" + hex.EncodeToString(sum[:])
	}
	req := &Request{Method: m.Method, URL: out.URL, Header: out.Header, Body: body}
	msg, err := v.message(nil, req, ts, nil)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if priv != nil {
		sig = ed25519.Sign(priv, msg)
	} else {
		key, err := decodeSecret(scheme.GetSecretEncoding(), secret)
		if err != nil {
			return nil, fmt.Errorf("%w: secret: %w", ErrCannotSign, err)
		}
		h := hmac.New(macHash(v.alg), key)
		h.Write(msg)
		sig = h.Sum(nil)
	}
	text := encode(v.enc, sig)
	switch {
	case v.structed != nil:
		st := v.structed
		value := st.GetSignatureKey() + st.GetKeyValueSeparator() + text
		if st.GetTimestampKey() != "" {
			value = st.GetTimestampKey() + st.GetKeyValueSeparator() + ts + st.GetItemSeparator() + value
		}
		out.Header.Set(v.header, value)
	case v.sigSlot >= 0:
		if out.Body, err = setBodyField(out.Body, v.paths.Text(v.sigSlot), text); err != nil {
			return nil, err
		}
	default:
		out.Header.Set(v.header, v.prefix+text)
	}
	return out, nil
}

func encode(enc plugsv1.SignatureScheme_Encoding, sig []byte) string {
	switch enc {
	case plugsv1.SignatureScheme_ENCODING_BASE64:
		return base64.StdEncoding.EncodeToString(sig)
	case plugsv1.SignatureScheme_ENCODING_BASE64URL:
		return base64.RawURLEncoding.EncodeToString(sig)
	}
	return hex.EncodeToString(sig)
}

// FormatTime writes t the way a provider would send it in format.
func FormatTime(t time.Time, format plugsv1.TimestampSource_Format) string {
	switch format {
	case plugsv1.TimestampSource_FORMAT_UNIX_MILLIS:
		return strconv.FormatInt(t.UnixMilli(), 10)
	case plugsv1.TimestampSource_FORMAT_RFC3339:
		return t.UTC().Format(time.RFC3339)
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// setBodyField sets the JSON body's value at path to text, as a number when
// the value there is a number and as a string otherwise.
func setBodyField(body []byte, path, text string) ([]byte, error) {
	data, err := oj.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: body is not JSON: %w", ErrCannotSign, err)
	}
	x, err := jp.ParseString(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotSign, err)
	}
	var value any = text
	switch x.First(data).(type) {
	case int64, float64:
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			value = n
		}
	}
	if err := x.Set(data, value); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotSign, err)
	}
	return []byte(oj.JSON(data)), nil
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
