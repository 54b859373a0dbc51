package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plugshq/plugs/dataplane/payload"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Request is what verification reads of a webhook request.
type Request struct {
	Method string
	// URL is the full URL the provider called, as it called it (scheme,
	// host, path and query), for schemes that sign it.
	URL string
	// Header holds the request headers with canonical names, as net/http
	// gives them.
	Header http.Header
	// Body is the raw body and its parsed view.
	Body *payload.Doc
	// Document is set by Verify when what mapping reads is not the body:
	// a verified token's claims, or the body with encoded fields decoded
	// (JwtScheme.document). Nil means the body.
	Document *payload.Doc
}

// Options adjust one verification.
type Options struct {
	// Now is the receiver's clock.
	Now time.Time
	// SkipFreshness skips the timestamp tolerance check, for replaying a
	// request received earlier. The signature is still checked.
	SkipFreshness bool
	// Keys fetches the keys of schemes whose keys come from the provider;
	// without it such schemes fail with ErrKeyUnavailable.
	Keys *Fetcher
	// Context bounds a key fetch; nil means none beyond Keys' own bounds.
	Context context.Context
}

// Verify returns nil when the request carries a valid signature (or token)
// under any active secret, and otherwise an error wrapping one of the
// package's sentinel errors.
func (v *Verifier) Verify(req *Request, opts Options) error {
	if v.items != nil {
		return v.verifyItems(req, opts)
	}
	if err := v.verify(req, opts); err != nil {
		return err
	}
	if len(v.xmlPaths) > 0 {
		doc, err := v.xmlDocument(req)
		if err != nil {
			return err
		}
		req.Document = doc
	}
	return nil
}

func (v *Verifier) verify(req *Request, opts Options) error {
	keys := v.activeKeys(opts.Now)
	if keys == 0 {
		return ErrSecretMissing
	}
	switch v.alg {
	case plugsv1.SignatureScheme_ALGORITHM_TOKEN:
		return v.verifyToken(req, opts.Now)
	case plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
		return v.verifyBasic(req, opts.Now)
	case plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY:
		return v.verifyPublicKey(req, opts)
	case plugsv1.SignatureScheme_ALGORITHM_JWT:
		return v.verifyJWT(req, opts)
	}
	st := states.Get().(*state)
	defer states.Put(st)
	st.n = 0

	tsText, err := v.collectAll(req, func(sig string) bool { return v.add(st, sig) })
	if err != nil {
		return err
	}
	if st.n == 0 {
		return fmt.Errorf("%w: no signature in the expected encoding", ErrSignatureMalformed)
	}
	if tsText, err = v.signedTimestamp(req, tsText); err != nil {
		return err
	}
	matched := false
	for _, k := range v.keys {
		if !k.activeAt(opts.Now) {
			continue
		}
		ok, err := v.check(st, k, req, tsText)
		if err != nil {
			return err
		}
		if ok {
			matched = true
			break
		}
	}
	if !matched {
		return ErrSignatureInvalid
	}
	if err := v.checkBodyHash(req); err != nil {
		return err
	}
	return v.checkFresh(req, tsText, opts)
}

// checkFresh checks the timestamp of a request whose signature matched
// against the scheme's tolerance.
func (v *Verifier) checkFresh(req *Request, tsText string, opts Options) error {
	if !v.hasTS || opts.SkipFreshness {
		return nil
	}
	if v.tsSlot >= 0 && !v.tsSigned {
		val, err := v.paths.Get(req.Body, v.tsSlot)
		if err != nil || !val.Present() {
			return fmt.Errorf("%w: no timestamp in the body", ErrSignatureMalformed)
		}
		tsText = val.Text()
	}
	ts, err := ParseTime(tsText, v.tsFormat)
	if err != nil {
		return fmt.Errorf("%w: timestamp: %w", ErrSignatureMalformed, err)
	}
	if d := opts.Now.Sub(ts); d > v.tolerance || d < -v.tolerance {
		return fmt.Errorf("%w: %s off", ErrSignatureStale, d.Round(time.Second))
	}
	return nil
}

// signedTimestamp returns the timestamp text the signature covers, read
// from the body when it travels there, and checks that the signed headers
// are present.
func (v *Verifier) signedTimestamp(req *Request, tsText string) (string, error) {
	if v.tsSlot >= 0 && v.tsSigned && tsText == "" {
		// The timestamp is signed but travels in the body (as Mailgun's
		// does): it has to be read before the MAC can be computed.
		val, err := v.paths.Get(req.Body, v.tsSlot)
		if err != nil || !val.Present() {
			return "", fmt.Errorf("%w: no timestamp in the body", ErrSignatureMissing)
		}
		tsText = val.Text()
	}
	if v.hasTS && v.tsSlot < 0 && tsText == "" {
		if v.tsHeader != "" {
			return "", fmt.Errorf("%w: header %s", ErrSignatureMissing, v.tsHeader)
		}
		return "", fmt.Errorf("%w: no timestamp in the signature header", ErrSignatureMalformed)
	}
	if v.idSigned && v.headerValue(req.Header, v.idHeader) == "" {
		return "", fmt.Errorf("%w: header %s", ErrSignatureMissing, v.idHeader)
	}
	return tsText, nil
}

func (v *Verifier) activeKeys(now time.Time) int {
	n := 0
	for _, k := range v.keys {
		if k.activeAt(now) {
			n++
		}
	}
	return n
}

func (k *key) activeAt(now time.Time) bool { return k.expire.IsZero() || now.Before(k.expire) }

// collectAll hands every signature the request carries to add, which
// reports whether it took it (decoded it), and returns the timestamp text
// the request carries with them. The signature header and each of its
// alternatives present are read, so a request signed under two keys in two
// headers passes with either.
func (v *Verifier) collectAll(req *Request, add func(string) bool) (string, error) {
	if v.sigSlot >= 0 || v.sigQuery != "" {
		text, err := v.signatureText(req)
		if err != nil {
			return "", err
		}
		return v.split(text, req, add)
	}
	ts, found, taken := "", false, 0
	count := func(sig string) bool {
		ok := add(sig)
		if ok {
			taken++
		}
		return ok
	}
	var firstErr error
	for _, h := range v.sigHeaders {
		vals := req.Header[h]
		if len(vals) == 0 || vals[0] == "" {
			continue
		}
		found = true
		t, err := v.split(vals[0], req, count)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if ts == "" {
			ts = t
		}
	}
	switch {
	case !found:
		return "", fmt.Errorf("%w: header %s", ErrSignatureMissing, v.header)
	case taken == 0 && firstErr != nil:
		return "", firstErr
	}
	return ts, nil
}

// signatureText returns the text holding the signature(s) when it is not a
// header: a body field or a query parameter.
func (v *Verifier) signatureText(req *Request) (string, error) {
	if v.sigQuery != "" {
		text, ok, err := QueryValue(req.URL, v.sigQuery)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrSignatureMalformed, err)
		}
		if !ok || text == "" {
			return "", fmt.Errorf("%w: query parameter %s", ErrSignatureMissing, v.sigQuery)
		}
		return text, nil
	}
	if v.sigSlot >= 0 {
		val, err := v.paths.Get(req.Body, v.sigSlot)
		if err != nil {
			return "", fmt.Errorf("%w: body does not parse: %w", ErrSignatureMissing, err)
		}
		if !val.Present() {
			return "", fmt.Errorf("%w: %s", ErrSignatureMissing, v.paths.Text(v.sigSlot))
		}
		return val.Text(), nil
	}
	return "", fmt.Errorf("%w: no signature location", ErrSignatureMissing)
}

// split hands each signature text of text to add, in order, and returns
// the timestamp text the request carries (from the structured header or
// the timestamp header).
func (v *Verifier) split(text string, req *Request, add func(string) bool) (string, error) {
	ts := ""
	if v.tsHeader != "" {
		ts = strings.TrimSpace(v.headerValue(req.Header, v.tsHeader))
	}
	switch {
	case v.tsLeading:
		// "<ts>,<sig>[,<sig>…]": the first item is the timestamp.
		first := true
		for item := range strings.SplitSeq(text, v.separator) {
			item = strings.TrimSpace(item)
			if first {
				ts, first = item, false
				continue
			}
			if sig, ok := strings.CutPrefix(item, v.prefix); ok {
				add(sig)
			}
		}
	case v.structed != nil:
		sep, kv := v.structed.GetItemSeparator(), v.structed.GetKeyValueSeparator()
		sigKey, tsKey := v.structed.GetSignatureKey(), v.structed.GetTimestampKey()
		for item := range strings.SplitSeq(text, sep) {
			k, val, ok := strings.Cut(strings.TrimSpace(item), kv)
			if !ok {
				continue
			}
			switch k {
			case sigKey:
				add(val)
			case tsKey:
				if tsKey != "" {
					ts = val
				}
			}
		}
	case v.separator != "":
		for item := range strings.SplitSeq(text, v.separator) {
			if item == "" {
				continue
			}
			sig, ok := strings.CutPrefix(item, v.prefix)
			if !ok {
				// Another version or algorithm (for example Standard
				// Webhooks' "v1a," next to "v1,"): not ours to check.
				continue
			}
			if sig, ok = v.unlabel(sig); ok {
				add(sig)
			}
		}
	default:
		sig, ok := strings.CutPrefix(strings.TrimSpace(text), v.prefix)
		if !ok {
			return "", fmt.Errorf("%w: expected prefix %q", ErrSignatureMalformed, v.prefix)
		}
		if sig, ok = v.unlabel(sig); !ok {
			return "", fmt.Errorf("%w: expected <label>%s<signature>", ErrSignatureMalformed, v.labelSep)
		}
		add(sig)
	}
	return ts, nil
}

// unlabel drops the label of a "<label><sep><signature>" item when the
// scheme labels its signatures; false when the item has no label.
func (v *Verifier) unlabel(item string) (string, bool) {
	if v.labelSep == "" {
		return item, true
	}
	_, sig, ok := strings.Cut(item, v.labelSep)
	return sig, ok
}

// add decodes one signature into st; one that does not decode is skipped
// (and reported false).
func (v *Verifier) add(st *state, text string) bool {
	if st.n == maxSignatures || text == "" {
		return false
	}
	dst := st.sigs[st.n][:]
	src := append(st.scratch[:0], text...)
	st.scratch = src[:0]
	n, err := decode(v.enc, dst, src)
	if err != nil || n == 0 {
		return false
	}
	st.lens[st.n] = n
	st.n++
	return true
}

func decode(enc plugsv1.SignatureScheme_Encoding, dst, src []byte) (int, error) {
	switch enc {
	case plugsv1.SignatureScheme_ENCODING_HEX:
		if len(src) > 2*len(dst) || len(src)%2 != 0 {
			return 0, fmt.Errorf("bad length")
		}
		return hexDecode(dst, src)
	case plugsv1.SignatureScheme_ENCODING_BASE64:
		return decodeB64(base64.StdEncoding, base64.RawStdEncoding, dst, src)
	case plugsv1.SignatureScheme_ENCODING_BASE64URL:
		return decodeB64(base64.URLEncoding, base64.RawURLEncoding, dst, src)
	}
	return 0, fmt.Errorf("unknown encoding")
}

// decodeB64 accepts padded and unpadded text. Padding is stripped first:
// a padded encoding's DecodedLen overstates the length (88 characters of a
// 64-byte signature would need 66 bytes).
func decodeB64(padded, raw *base64.Encoding, dst, src []byte) (int, error) {
	enc := raw
	if n := len(src); n%4 == 0 && n > 0 && src[n-1] == '=' {
		src = src[:n-1]
		if src[len(src)-1] == '=' {
			src = src[:len(src)-1]
		}
	} else if n%4 == 0 {
		enc = padded
	}
	if enc.DecodedLen(len(src)) > len(dst) {
		return 0, fmt.Errorf("too long")
	}
	return enc.Decode(dst, src)
}

func hexDecode(dst, src []byte) (int, error) {
	for i := 0; i+1 < len(src); i += 2 {
		hi, ok1 := fromHex(src[i])
		lo, ok2 := fromHex(src[i+1])
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("not hex")
		}
		dst[i/2] = hi<<4 | lo
	}
	return len(src) / 2, nil
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// check reports whether any collected signature is valid under k.
func (v *Verifier) check(st *state, k *key, req *Request, ts string) (bool, error) {
	if v.alg == plugsv1.SignatureScheme_ALGORITHM_ED25519 {
		msg, err := v.message(st.scratch[:0], req, ts, nil)
		st.scratch = msg[:0]
		if err != nil {
			return false, err
		}
		for i := range st.n {
			if st.lens[i] == ed25519.SignatureSize && ed25519.Verify(k.pub, msg, st.sigs[i][:ed25519.SignatureSize]) {
				return true, nil
			}
		}
		return false, nil
	}
	var h hash.Hash
	if v.plain {
		h = v.digests.Get().(hash.Hash)
		defer v.digests.Put(h)
	} else {
		m := k.macs.get()
		defer k.macs.put(m)
		h = m.h
	}
	h.Reset()
	if err := v.writeMessage(h, st, req, ts, k.raw); err != nil {
		return false, err
	}
	sum := h.Sum(st.sum[:0])
	for i := range st.n {
		if hmac.Equal(sum, st.sigs[i][:st.lens[i]]) {
			return true, nil
		}
	}
	return false, nil
}

// writeMessage writes the signed content into h, the body straight from
// the request bytes and the small parts through st's scratch buffer.
func (v *Verifier) writeMessage(h hash.Hash, st *state, req *Request, ts string, secret []byte) error {
	buf := st.scratch[:0]
	for _, p := range v.parts {
		if p.kind == plugsv1.SignedPart_KIND_BODY {
			if len(buf) > 0 {
				h.Write(buf)
				buf = buf[:0]
			}
			h.Write(req.Body.Raw())
			continue
		}
		var err error
		if buf, err = v.appendPart(buf, p, req, ts, secret); err != nil {
			return err
		}
	}
	if len(buf) > 0 {
		h.Write(buf)
	}
	st.scratch = buf[:0]
	return nil
}

// message appends the whole signed content to buf; secret is what
// KIND_SECRET parts sign.
func (v *Verifier) message(buf []byte, req *Request, ts string, secret []byte) ([]byte, error) {
	for _, p := range v.parts {
		var err error
		if p.kind == plugsv1.SignedPart_KIND_BODY {
			buf = append(buf, req.Body.Raw()...)
		} else if buf, err = v.appendPart(buf, p, req, ts, secret); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func (v *Verifier) appendPart(buf []byte, p part, req *Request, ts string, secret []byte) ([]byte, error) {
	switch p.kind {
	case plugsv1.SignedPart_KIND_SECRET:
		return append(buf, secret...), nil
	case plugsv1.SignedPart_KIND_QUERY_PARAM:
		val, ok, err := QueryValue(req.URL, p.value)
		if err != nil {
			return buf, fmt.Errorf("%w: %w", ErrSignatureMalformed, err)
		}
		if !ok && !p.optional {
			return buf, fmt.Errorf("%w: query parameter %s", ErrSignatureMissing, p.value)
		}
		return appendValue(buf, val, p), nil
	case plugsv1.SignedPart_KIND_TIMESTAMP:
		return append(buf, ts...), nil
	case plugsv1.SignedPart_KIND_LITERAL:
		return append(buf, p.value...), nil
	case plugsv1.SignedPart_KIND_ID:
		return append(buf, v.headerValue(req.Header, v.idHeader)...), nil
	case plugsv1.SignedPart_KIND_HEADER:
		return appendValue(buf, v.headerValue(req.Header, p.value), p), nil
	case plugsv1.SignedPart_KIND_METHOD:
		return append(buf, req.Method...), nil
	case plugsv1.SignedPart_KIND_URL:
		return append(buf, req.URL...), nil
	case plugsv1.SignedPart_KIND_SORTED_FORM_PARAMS:
		return appendSortedForm(buf, req.Body)
	case plugsv1.SignedPart_KIND_PHP_SERIALIZED_FORM:
		return appendPHPSerializedForm(buf, req.Body, p.value)
	case plugsv1.SignedPart_KIND_BODY_CRC32:
		return strconv.AppendUint(buf, uint64(crc32.ChecksumIEEE(req.Body.Raw())), 10), nil
	case plugsv1.SignedPart_KIND_BODY_FIELD:
		val, err := v.paths.Get(req.Body, p.slot)
		if err != nil {
			return buf, fmt.Errorf("%w: body does not parse: %w", ErrSignatureMissing, err)
		}
		if !val.Present() {
			if p.optional {
				return buf, nil
			}
			return buf, fmt.Errorf("%w: %s", ErrSignatureMissing, v.paths.Text(p.slot))
		}
		return appendValue(buf, val.Text(), p), nil
	}
	return buf, nil
}

// appendSortedForm appends every form field sorted by name (byte order),
// each name followed by its value, with no separators, as Twilio signs
// them; a repeated name appears once per value, values in sorted order. A
// body that is not a form contributes nothing (checkBodyHash covers it).
func appendSortedForm(buf []byte, body *payload.Doc) ([]byte, error) {
	if !body.Form() {
		return buf, nil
	}
	q, err := url.ParseQuery(string(body.Raw()))
	if err != nil {
		return buf, fmt.Errorf("%w: form body does not parse: %w", ErrSignatureMalformed, err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vals := q[name]
		if len(vals) > 1 {
			slices.Sort(vals)
		}
		for _, val := range vals {
			buf = append(buf, name...)
			buf = append(buf, val...)
		}
	}
	return buf, nil
}

func (v *Verifier) verifyToken(req *Request, now time.Time) error {
	if v.tokenPath != nil || v.tokenQuery != "" {
		return v.verifyTokenElsewhere(req, now)
	}
	got := v.headerValue(req.Header, v.token)
	if got == "" {
		return fmt.Errorf("%w: header %s", ErrSignatureMissing, v.token)
	}
	return v.matchToken(got, now)
}

func (v *Verifier) matchToken(got string, now time.Time) error {
	for _, k := range v.keys {
		if k.activeAt(now) && subtle.ConstantTimeCompare([]byte(got), k.raw) == 1 {
			return nil
		}
	}
	return ErrSignatureInvalid
}

func (v *Verifier) verifyBasic(req *Request, now time.Time) error {
	auth := req.Header.Get("Authorization")
	if auth == "" {
		return fmt.Errorf("%w: header Authorization", ErrSignatureMissing)
	}
	scheme, cred, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return fmt.Errorf("%w: not Basic credentials", ErrSignatureMalformed)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil || !strings.Contains(string(raw), ":") {
		return fmt.Errorf("%w: Basic credentials do not decode", ErrSignatureMalformed)
	}
	for _, k := range v.keys {
		if k.activeAt(now) && subtle.ConstantTimeCompare(raw, k.raw) == 1 {
			return nil
		}
	}
	return ErrSignatureInvalid
}

// ParseTime reads a timestamp in the given format and returns it in UTC.
// Unix seconds may carry a fraction.
func ParseTime(text string, format plugsv1.TimestampSource_Format) (time.Time, error) {
	text = strings.TrimSpace(text)
	switch format {
	case plugsv1.TimestampSource_FORMAT_RFC3339:
		t, err := time.Parse(time.RFC3339Nano, text)
		return t.UTC(), err
	case plugsv1.TimestampSource_FORMAT_HTTP_DATE:
		t, err := http.ParseTime(text)
		return t.UTC(), err
	case plugsv1.TimestampSource_FORMAT_UNIX_MILLIS:
		ms, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	if s, err := strconv.ParseInt(text, 10, 64); err == nil {
		return time.Unix(s, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f != f || f > 1e12 || f < -1e12 {
		return time.Time{}, fmt.Errorf("not Unix seconds: %q", text)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
}

// checkBodyHash makes sure the body is covered when a scheme signs form
// parameters but the body is not a form: the signed URL must then carry the
// body's SHA-256 in the scheme's body_hash_param.
//
// When the signed URL carries the hash it is checked whatever the body, so
// a captured request cannot have its body swapped for an empty one or a
// form.
func (v *Verifier) checkBodyHash(req *Request) error {
	if !v.signsForm {
		return nil
	}
	want := ""
	if v.bodyHashParam != "" {
		u, err := url.Parse(req.URL)
		if err != nil {
			return fmt.Errorf("%w: request URL: %w", ErrSignatureMalformed, err)
		}
		want = u.Query().Get(v.bodyHashParam)
	}
	if want == "" {
		if req.Body.Form() || len(req.Body.Raw()) == 0 {
			return nil
		}
		if v.bodyHashParam == "" {
			return fmt.Errorf("%w: the body is not a form and the scheme signs only form parameters", ErrSignatureInvalid)
		}
		return fmt.Errorf("%w: query parameter %s", ErrSignatureMissing, v.bodyHashParam)
	}
	sum := sha256.Sum256(req.Body.Raw())
	got := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(want)), []byte(got)) != 1 {
		return fmt.Errorf("%w: body does not match %s", ErrSignatureInvalid, v.bodyHashParam)
	}
	return nil
}
