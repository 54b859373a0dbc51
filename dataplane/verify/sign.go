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
		switch {
		case v.tokenQuery != "":
			out.URL = withQuery(out.URL, v.tokenQuery, string(secret))
		case v.tokenPath != nil:
			if out.Body, err = setBodyField(out.Body, out.Header.Get("Content-Type"), v.tokenPath.String(), string(secret)); err != nil {
				return nil, err
			}
		default:
			out.Header.Set(v.token, string(secret))
		}
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
			if out.Body, err = setBodyField(out.Body, out.Header.Get("Content-Type"), v.paths.Text(v.tsSlot), ts); err != nil {
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
	for _, p := range v.parts {
		// A test event has no provider to add the query parameters a
		// scheme signs (Mercado Pago's data.id): made-up ones are added.
		if p.kind == plugsv1.SignedPart_KIND_QUERY_PARAM {
			if _, ok, _ := QueryValue(out.URL, p.value); !ok {
				out.URL = withQuery(out.URL, p.value, "test_"+strings.ToLower(randomID()))
			}
		}
	}
	if v.items != nil {
		if err := v.signItems(out, secret, priv, ts, m.Method); err != nil {
			return nil, err
		}
		return out, nil
	}
	body := payload.New(out.Body, out.Header.Get("Content-Type"))
	if v.signsForm && v.bodyHashParam != "" && !body.Form() && len(out.Body) > 0 {
		sum := sha256.Sum256(out.Body)
		out.URL = withQuery(out.URL, v.bodyHashParam, hex.EncodeToString(sum[:]))
	}
	req := &Request{Method: m.Method, URL: out.URL, Header: out.Header, Body: body}
	text, err := v.signature(req, secret, priv, ts)
	if err != nil {
		return nil, err
	}
	switch {
	case v.tsLeading:
		out.Header.Set(v.header, ts+v.separator+v.prefix+text)
	case v.sigQuery != "":
		out.URL = withQuery(out.URL, v.sigQuery, text)
	case v.structed != nil:
		st := v.structed
		value := st.GetSignatureKey() + st.GetKeyValueSeparator() + text
		if st.GetTimestampKey() != "" {
			value = st.GetTimestampKey() + st.GetKeyValueSeparator() + ts + st.GetItemSeparator() + value
		}
		out.Header.Set(v.header, value)
	case v.sigSlot >= 0:
		if v.labelSep != "" {
			text = "plugs" + v.labelSep + text
		}
		if out.Body, err = setBodyField(out.Body, out.Header.Get("Content-Type"), v.paths.Text(v.sigSlot), text); err != nil {
			return nil, err
		}
	default:
		if v.labelSep != "" {
			text = "plugs" + v.labelSep + text
		}
		out.Header.Set(v.header, v.prefix+text)
	}
	return out, nil
}

// signature computes the encoded signature of req.
func (v *Verifier) signature(req *Request, secret []byte, priv ed25519.PrivateKey, ts string) (string, error) {
	var key []byte
	if priv == nil {
		var err error
		if key, err = decodeSecret(v.scheme.GetSecretEncoding(), secret); err != nil {
			return "", fmt.Errorf("%w: secret: %w", ErrCannotSign, err)
		}
	}
	msg, err := v.message(nil, req, ts, key)
	if err != nil {
		return "", err
	}
	var sig []byte
	switch {
	case priv != nil:
		sig = ed25519.Sign(priv, msg)
	case v.plain:
		h := digestHash(v.alg)()
		h.Write(msg)
		sig = h.Sum(nil)
	default:
		h := hmac.New(macHash(v.alg), key)
		h.Write(msg)
		sig = h.Sum(nil)
	}
	return encode(v.enc, sig), nil
}

// signItems signs every item of a body whose items are signed one by one,
// writing each signature into its item.
func (v *Verifier) signItems(out *Signed, secret []byte, priv ed25519.PrivateKey, ts, method string) error {
	if v.sigSlot < 0 {
		return fmt.Errorf("%w: items are signed but no signature_json_path says where", ErrCannotSign)
	}
	data, err := oj.Parse(out.Body)
	if err != nil {
		return fmt.Errorf("%w: body is not JSON: %w", ErrCannotSign, err)
	}
	sigPath, err := jp.ParseString(v.paths.Text(v.sigSlot))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCannotSign, err)
	}
	items := v.items.Get(data)
	if len(items) == 0 {
		return fmt.Errorf("%w: no item at %s", ErrCannotSign, v.items.String())
	}
	for _, item := range items {
		doc := payload.New([]byte(oj.JSON(item)), "application/json")
		text, err := v.signature(&Request{Method: method, URL: out.URL, Header: out.Header, Body: doc}, secret, priv, ts)
		if err != nil {
			return err
		}
		if err := sigPath.Set(item, text); err != nil {
			return fmt.Errorf("%w: %w", ErrCannotSign, err)
		}
	}
	out.Body = []byte(oj.JSON(data))
	return nil
}

// withQuery adds name=value to the query of rawURL.
func withQuery(rawURL, name, value string) string {
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + url.QueryEscape(name) + "=" + url.QueryEscape(value)
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
	case plugsv1.TimestampSource_FORMAT_HTTP_DATE:
		return t.UTC().Format(http.TimeFormat)
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// setBodyField sets the body's value at path to text: in a form, the field
// the path names ($.name or $['name']); in JSON, as a number when the
// value there is a number and as a string otherwise.
func setBodyField(body []byte, contentType, path, text string) ([]byte, error) {
	if payload.IsForm(contentType) {
		return setFormField(body, path, text)
	}
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

// setFormField sets the form field a one-name path names.
func setFormField(body []byte, path, text string) ([]byte, error) {
	x, err := jp.ParseString(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotSign, err)
	}
	name, ok := jp.Child(""), false
	if len(x) == 2 {
		if _, root := x[0].(jp.Root); root {
			name, ok = x[1].(jp.Child)
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s does not name a form field", ErrCannotSign, path)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: body is not a form: %w", ErrCannotSign, err)
	}
	form.Set(string(name), text)
	return []byte(form.Encode()), nil
}
