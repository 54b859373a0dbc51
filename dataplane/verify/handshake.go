package verify

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Answer is the response a handshake expects, with status 200.
type Answer struct {
	// ContentType is empty when the answer has no body.
	ContentType string
	Body        []byte
	// Header holds response headers the provider expects (Asana's
	// X-Hook-Secret, Dropbox's X-Content-Type-Options); nil when none.
	Header http.Header
	// CapturedSecret, when set, is a signing secret the provider handed
	// over for a source that holds none. The answer may be sent only once
	// the control plane stored it: until then the provider would take the
	// endpoint for ready while no data plane can verify its events.
	CapturedSecret string
}

// handshakeRule is a compiled plugs.v1.HandshakeRule.
type handshakeRule struct {
	method      string
	conds       []handshakeCond
	challenge   *handshakeInput
	signed      bool
	verifyToken *handshakeInput
	capture     bool
	answer      *plugsv1.HandshakeAnswer
	// needsKey is set when the answer holds a MAC of the challenge.
	needsKey bool
	// confirm, when set, is where the URL visited before answering is
	// read (confirm.go).
	confirm *handshakeInput
}

type handshakeCond struct {
	in                 handshakeInput
	equals, equalsJSON string
}

// handshakeInput is a compiled plugs.v1.HandshakeInput.
type handshakeInput struct {
	query  string
	header string // canonical
	path   jp.Expr
	text   string // for messages
}

// handshakeRequest holds what the rules of one request read, each parsed at
// most once and only when a rule reads it.
type handshakeRequest struct {
	// req is a copy: holding the caller's pointer would make every
	// request escape to the heap, handshake or not.
	req      Request
	rawQuery string
	query    url.Values
	queryErr error
	parsed   bool
	data     any
	dataErr  error
	bodyRead bool
}

func (hr *handshakeRequest) value(in *handshakeInput) (string, error) {
	switch {
	case in.query != "":
		if !hr.parsed {
			hr.query, hr.queryErr = url.ParseQuery(hr.rawQuery)
			hr.parsed = true
		}
		if hr.queryErr != nil {
			return "", fmt.Errorf("%w: query does not parse", ErrSignatureMalformed)
		}
		return hr.query.Get(in.query), nil
	case in.header != "":
		return hr.req.Header.Get(in.header), nil
	}
	if x, ok := hr.jsonValue(in).(string); ok {
		return x, nil
	}
	return "", nil
}

// jsonValue returns the body's value at the input's path, nil when the
// body does not parse (a body that does not parse is no handshake of this
// kind) or holds nothing there.
func (hr *handshakeRequest) jsonValue(in *handshakeInput) any {
	if !hr.bodyRead {
		hr.data, hr.dataErr = hr.req.Body.Parsed()
		hr.bodyRead = true
	}
	if hr.dataErr != nil {
		return nil
	}
	return in.path.First(hr.data)
}

// compileHandshakes turns the scheme's handshakes (the rules, then the
// legacy kind) into rules.
func (v *Verifier) compileHandshakes(scheme *plugsv1.SignatureScheme) error {
	rules := scheme.GetHandshakes()
	if legacy := legacyHandshake(scheme.GetHandshake()); legacy != nil {
		rules = append(rules[:len(rules):len(rules)], legacy)
	}
	for i, r := range rules {
		hr, err := compileRule(r)
		if err != nil {
			return fmt.Errorf("%w: handshakes[%d]: %w", ErrInvalidScheme, i, err)
		}
		if hr.signed {
			v.signedHandshakes = true
		} else {
			v.unsignedHandshakes = true
		}
		if hr.capture {
			v.captures = true
		}
		if hr.confirm != nil {
			v.confirms = true
		}
		v.handshakes = append(v.handshakes, hr)
	}
	return nil
}

func compileRule(r *plugsv1.HandshakeRule) (handshakeRule, error) {
	hr := handshakeRule{method: strings.ToUpper(r.GetMethod()), signed: r.GetSigned(), capture: r.GetCaptureSecret(), answer: r.GetAnswer()}
	for i, c := range r.GetConditions() {
		in, err := compileInput(c.GetInput())
		if err != nil {
			return hr, fmt.Errorf("conditions[%d]: %w", i, err)
		}
		if c.GetEqualsJson() != "" && in.path == nil {
			return hr, fmt.Errorf("conditions[%d]: equals_json needs a JSONPath input", i)
		}
		hr.conds = append(hr.conds, handshakeCond{in: *in, equals: c.GetEquals(), equalsJSON: c.GetEqualsJson()})
	}
	if r.GetChallenge() != nil {
		in, err := compileInput(r.GetChallenge())
		if err != nil {
			return hr, fmt.Errorf("challenge: %w", err)
		}
		hr.challenge = in
	}
	if r.GetVerifyToken() != nil {
		in, err := compileInput(r.GetVerifyToken())
		if err != nil {
			return hr, fmt.Errorf("verify_token: %w", err)
		}
		hr.verifyToken = in
	}
	if r.GetConfirmUrl() != nil {
		in, err := compileInput(r.GetConfirmUrl())
		if err != nil {
			return hr, fmt.Errorf("confirm_url: %w", err)
		}
		if !hr.signed {
			return hr, fmt.Errorf("confirm_url needs a signed rule: only a verified request may have the data plane visit a URL")
		}
		hr.confirm = in
	}
	if hr.capture {
		if hr.challenge == nil {
			return hr, fmt.Errorf("capture_secret needs the challenge that carries the secret")
		}
		if hr.signed {
			return hr, fmt.Errorf("capture_secret cannot be signed: the source holds no secret to verify with yet")
		}
	}
	if hr.answer == nil {
		hr.answer = &plugsv1.HandshakeAnswer{}
	}
	values := []*plugsv1.HandshakeValue{hr.answer.GetText()}
	for _, f := range hr.answer.GetJson().GetFields() {
		if f.GetName() == "" {
			return hr, fmt.Errorf("answer field without a name")
		}
		values = append(values, f.GetValue())
	}
	for _, h := range hr.answer.GetHeaders() {
		if h.GetName() == "" || !validHeaderName(h.GetName()) {
			return hr, fmt.Errorf("answer header %q is not a header name", h.GetName())
		}
		values = append(values, h.GetValue())
	}
	for _, val := range values {
		if val == nil || val.GetLiteral() != "" {
			continue
		}
		if hr.challenge == nil {
			return hr, fmt.Errorf("the answer uses the challenge but no challenge is read")
		}
		if val.GetMac() != plugsv1.SignatureScheme_ALGORITHM_UNSPECIFIED {
			if macHash(val.GetMac()) == nil {
				return hr, fmt.Errorf("answer MAC %v is not an HMAC", val.GetMac())
			}
			if val.GetEncoding() == plugsv1.SignatureScheme_ENCODING_UNSPECIFIED {
				return hr, fmt.Errorf("answer MAC needs an encoding")
			}
			hr.needsKey = true
		}
	}
	return hr, nil
}

func compileInput(in *plugsv1.HandshakeInput) (*handshakeInput, error) {
	switch {
	case in.GetQueryParam() != "":
		return &handshakeInput{query: in.GetQueryParam(), text: "query parameter " + in.GetQueryParam()}, nil
	case in.GetHeader() != "":
		return &handshakeInput{header: canonical(in.GetHeader()), text: "header " + in.GetHeader()}, nil
	case in.GetJsonPath() != "":
		x, err := jp.ParseString(in.GetJsonPath())
		if err != nil {
			return nil, err
		}
		return &handshakeInput{path: x, text: in.GetJsonPath()}, nil
	}
	return nil, fmt.Errorf("no query parameter, header or JSONPath")
}

func validHeaderName(name string) bool {
	return textproto.TrimString(name) == name && !strings.ContainsAny(name, " :\r\n\t")
}

// AnswersMethod reports whether a request of this method may be a
// handshake answered before verification (GET and HEAD requests are only
// ever handshakes).
func (v *Verifier) AnswersMethod(method string) bool {
	for i := range v.handshakes {
		r := &v.handshakes[i]
		if !r.signed && (r.method == "" || r.method == method) {
			return true
		}
	}
	return false
}

// Handshake answers req when it is one of the scheme's handshakes and
// returns nil otherwise. It is called twice per request: before
// verification (verified false), when only unsigned handshakes are
// answered, and after it (verified true), when only signed ones are.
// Unsigned handshakes (Meta's subscription check, Twitter's CRC, Microsoft
// Graph's validationToken, Asana's X-Hook-Secret) prove nothing about the
// sender and are answered without touching the event path. opts gives the
// time, and for a handshake that visits a confirmation URL (AWS SNS) the
// fetcher and context of the visit.
func (v *Verifier) Handshake(req *Request, rawQuery string, verified bool, opts Options) (*Answer, error) {
	if verified && !v.signedHandshakes || !verified && !v.unsignedHandshakes {
		return nil, nil
	}
	hr := handshakeRequest{req: *req, rawQuery: rawQuery}
	for i := range v.handshakes {
		r := &v.handshakes[i]
		if r.signed != verified || (r.method != "" && r.method != req.Method) {
			continue
		}
		ok, err := r.matches(&hr)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		return v.answer(r, &hr, &opts)
	}
	return nil, nil
}

func (r *handshakeRule) matches(hr *handshakeRequest) (bool, error) {
	for i := range r.conds {
		c := &r.conds[i]
		if c.equalsJSON != "" {
			x := hr.jsonValue(&c.in)
			if _, isString := x.(string); x == nil || isString || oj.JSON(x) != c.equalsJSON {
				return false, nil
			}
			continue
		}
		got, err := hr.value(&c.in)
		if err != nil {
			return false, err
		}
		if got == "" || (c.equals != "" && got != c.equals) {
			return false, nil
		}
	}
	return true, nil
}

func (v *Verifier) answer(r *handshakeRule, hr *handshakeRequest, opts *Options) (*Answer, error) {
	now := opts.Now
	if r.verifyToken != nil {
		want := v.scheme.GetVerifyToken()
		if want == "" {
			return nil, fmt.Errorf("%w: the source has no verify token", ErrSecretMissing)
		}
		got, err := hr.value(r.verifyToken)
		if err != nil {
			return nil, err
		}
		if got == "" {
			return nil, fmt.Errorf("%w: %s", ErrSignatureMissing, r.verifyToken.text)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return nil, fmt.Errorf("%w: %s", ErrSignatureInvalid, r.verifyToken.text)
		}
	}
	challenge := ""
	if r.challenge != nil {
		var err error
		if challenge, err = hr.value(r.challenge); err != nil {
			return nil, err
		}
		if challenge == "" {
			if r.capture {
				return nil, nil
			}
			// Without its challenge a request is not this handshake
			// when the challenge also tells it apart (Twitter's
			// crc_token); otherwise the empty challenge is echoed, as
			// the provider sent it.
			if len(r.conds) == 0 {
				return nil, nil
			}
		}
	}
	ans := &Answer{}
	if r.capture {
		held := false
		for _, k := range v.keys {
			if k.activeAt(now) {
				if subtle.ConstantTimeCompare(k.value, []byte(challenge)) == 1 {
					held = true
					break
				}
			}
		}
		switch {
		case held:
			// The provider repeated its handshake: same secret, same
			// answer, nothing to store.
		case v.activeKeys(now) > 0:
			return nil, fmt.Errorf("%w: the source holds another secret, which a handshake cannot replace", ErrSignatureInvalid)
		default:
			ans.CapturedSecret = challenge
		}
	}
	var k *key
	if r.needsKey {
		if k = v.firstKey(now); k == nil {
			return nil, ErrSecretMissing
		}
	}
	a := r.answer
	ans.ContentType = a.GetContentType()
	switch {
	case a.GetText() != nil:
		ans.Body = []byte(handshakeValue(a.GetText(), challenge, k))
	case a.GetJson() != nil:
		// A JSON object of string fields, in the declared order.
		b := []byte{'{'}
		for i, f := range a.GetJson().GetFields() {
			if i > 0 {
				b = append(b, ',')
			}
			name, _ := json.Marshal(f.GetName())
			val, _ := json.Marshal(handshakeValue(f.GetValue(), challenge, k))
			b = append(append(append(b, name...), ':'), val...)
		}
		ans.Body = append(b, '}')
	case a.GetFixed() != "":
		ans.Body = []byte(a.GetFixed())
	}
	for _, h := range a.GetHeaders() {
		if ans.Header == nil {
			ans.Header = http.Header{}
		}
		val := handshakeValue(h.GetValue(), challenge, k)
		if strings.ContainsAny(val, "\r\n\x00") {
			return nil, fmt.Errorf("%w: %s cannot be echoed in a header", ErrSignatureMalformed, r.challenge.text)
		}
		ans.Header.Set(h.GetName(), val)
	}
	if r.confirm != nil {
		raw, err := hr.value(r.confirm)
		if err != nil {
			return nil, err
		}
		if raw == "" {
			return nil, fmt.Errorf("%w: %s", ErrSignatureMissing, r.confirm.text)
		}
		if err := v.visit(raw, opts); err != nil {
			return nil, err
		}
	}
	return ans, nil
}

// handshakeValue computes one value of an answer from the challenge.
func handshakeValue(val *plugsv1.HandshakeValue, challenge string, k *key) string {
	if val.GetLiteral() != "" {
		return val.GetLiteral()
	}
	text := challenge
	if val.GetMac() != plugsv1.SignatureScheme_ALGORITHM_UNSPECIFIED {
		m := hmac.New(macHash(val.GetMac()), k.raw)
		m.Write([]byte(challenge))
		text = encode(val.GetEncoding(), m.Sum(nil))
	}
	return val.GetPrefix() + text
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

// CapturesSecret reports whether the scheme has a handshake that delivers
// the signing secret (Asana), so a source may start without one.
func (v *Verifier) CapturesSecret() bool { return v.captures }

// CapturesSecret reports whether scheme has a handshake that delivers the
// signing secret, for the control plane deciding whether a source may be
// created without one.
func CapturesSecret(scheme *plugsv1.SignatureScheme) bool {
	for _, r := range scheme.GetHandshakes() {
		if r.GetCaptureSecret() {
			return true
		}
	}
	return false
}

// Cleartext says where a scheme's requests carry a secret in the clear,
// for receipts to redact: the token header or query parameter of a token
// scheme and the header or query parameter of a handshake that delivers
// the secret (Asana's X-Hook-Secret).
func Cleartext(scheme *plugsv1.SignatureScheme) (headers, queryParams []string) {
	if h := scheme.GetTokenHeader(); h != "" {
		headers = append(headers, h)
	}
	if q := scheme.GetTokenQueryParam(); q != "" {
		queryParams = append(queryParams, q)
	}
	for _, r := range scheme.GetHandshakes() {
		if !r.GetCaptureSecret() {
			continue
		}
		if h := r.GetChallenge().GetHeader(); h != "" {
			headers = append(headers, h)
		}
		if q := r.GetChallenge().GetQueryParam(); q != "" {
			queryParams = append(queryParams, q)
		}
	}
	return headers, queryParams
}
