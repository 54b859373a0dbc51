package api

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ohler55/ojg/jp"

	"github.com/plugshq/plugs/dataplane/mapping"
	"github.com/plugshq/plugs/dataplane/verify"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Limits of a source's settings.
const (
	DefaultMaxBodyBytes = 1 << 20
	MaxMaxBodyBytes     = 32 << 20
	DefaultDedupWindow  = 72 * time.Hour
	MinDedupWindow      = time.Minute
	MaxDedupWindow      = 30 * 24 * time.Hour
	// MaxRateLimit bounds a source's requests per second and burst.
	MaxRateLimit     = 1_000_000
	MinSecretLen     = 16
	MaxSecretLen     = 4096
	MaxActiveSecrets = 10
	MaxTolerance     = 24 * time.Hour
	DefaultSecretTTL = 24 * time.Hour
)

var (
	metricIDRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$`)
	headerNameRe   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")
	eventTypeRe    = regexp.MustCompile(`^[^\s*]+(\.\*)?$|^\*$`)
	propertyNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,99}$`)
)

// validateSource checks a whole effective source (template defaults already
// applied) and adds violations under prefix.
func validateSource(v *violations, prefix string, s *plugsv1.Source, templateKnown bool) {
	if n := utf8.RuneCountInString(s.GetDisplayName()); n == 0 || n > 200 {
		v.add(prefix+"display_name", "must be 1 to 200 characters")
	}
	if !templateKnown {
		v.add(prefix+"template_id", fmt.Sprintf("unknown template %q; GET /v1/templates lists them", s.GetTemplateId()))
	}
	if m := s.GetMetricId(); m != "" && !metricIDRe.MatchString(m) {
		v.add(prefix+"metric_id", "must be up to 200 letters, digits, '_', '.', ':' or '-', starting with a letter or digit")
	}
	validateScheme(v, prefix+"signature_scheme.", s.GetSignatureScheme())
	validateFilter(v, prefix+"event_filter.", s.GetEventFilter())
	validateMappings(v, prefix+"field_mappings.", s.GetFieldMappings())
	if s.GetStatus() == plugsv1.Source_STATUS_UNSPECIFIED {
		v.add(prefix+"status", "must be STATUS_ACTIVE or STATUS_DISABLED")
	}
	if b := s.GetMaxBodyBytes(); b < 1 || b > MaxMaxBodyBytes {
		v.add(prefix+"max_body_bytes", fmt.Sprintf("must be between 1 and %d", MaxMaxBodyBytes))
	}
	if d := s.GetDedupWindow(); d == nil || d.CheckValid() != nil || d.AsDuration() < MinDedupWindow || d.AsDuration() > MaxDedupWindow {
		v.add(prefix+"dedup_window", fmt.Sprintf("must be between %s and %s", MinDedupWindow, MaxDedupWindow))
	}
	if rl := s.GetRateLimit(); rl != nil {
		if r := rl.GetRequestsPerSecond(); !(r > 0 && r <= MaxRateLimit) {
			v.add(prefix+"rate_limit.requests_per_second", fmt.Sprintf("must be greater than 0 and at most %d", MaxRateLimit))
		}
		if b := rl.GetBurst(); b < 0 || b > MaxRateLimit {
			v.add(prefix+"rate_limit.burst", fmt.Sprintf("must be between 0 and %d", MaxRateLimit))
		}
	}
	if len(*v) > 0 {
		return
	}
	// Last, compile with the data plane's own code: what passes here is
	// exactly what a data plane accepts, so no change saved through the API
	// can be rejected at the edge.
	vf, err := verify.Compile(s.GetSignatureScheme(), nil)
	if err != nil {
		v.add(prefix+"signature_scheme", err.Error())
	} else if least := vf.ReplayWindow(); s.GetDedupWindow().AsDuration() < least {
		// Checked on the whole effective source, so a change of scheme,
		// template or tolerance that leaves the window too short is
		// refused as well as a window made too short.
		v.add(prefix+"dedup_window", fmt.Sprintf("must be at least %s with this signature scheme: a signed request passes verification from %s before to %s after its timestamp, and %s more covers clocks; a captured request replayed after a shorter window would be accepted again as a new event",
			least, vf.Tolerance(), vf.Tolerance(), verify.ClockSkew))
	}
	if _, err := mapping.Compile(s.GetFieldMappings(), s.GetEventFilter()); err != nil {
		v.add(prefix+"field_mappings", err.Error())
	}
}

func validateScheme(v *violations, p string, s *plugsv1.SignatureScheme) {
	if s == nil {
		v.add(strings.TrimSuffix(p, "."), "is required")
		return
	}
	before := len(*v)
	validateSchemeFields(v, p, s)
	// What the fields cannot say alone (a handshake's answer using a
	// challenge it never reads, a digest that does not sign the secret) the
	// engine says, in the words it would refuse the source with.
	if len(*v) == before {
		if _, err := verify.Compile(s, nil); err != nil {
			v.add(strings.TrimSuffix(p, "."), strings.TrimPrefix(err.Error(), verify.ErrInvalidScheme.Error()+": "))
		}
	}
}

func validateSchemeFields(v *violations, p string, s *plugsv1.SignatureScheme) {
	for i, a := range s.GetHeaderAlternatives() {
		for j, h := range append([]string{a.GetHeader()}, a.GetAlternatives()...) {
			if !headerNameRe.MatchString(h) {
				v.add(fmt.Sprintf("%sheader_alternatives[%d]", p, i), fmt.Sprintf("name %d is not a header name", j))
			}
		}
	}
	if s.GetItemsJsonPath() != "" {
		checkJSONPath(v, p+"items_json_path", s.GetItemsJsonPath())
	}
	for i, x := range s.GetDecodeBase64XmlPaths() {
		checkJSONPath(v, fmt.Sprintf("%sdecode_base64_xml_paths[%d]", p, i), x)
	}
	if l := s.GetSignatureLabelSeparator(); l != "" && l == s.GetSignatureSeparator() {
		v.add(p+"signature_label_separator", "must differ from signature_separator, which splits the labelled signatures")
	}
	alg := s.GetAlgorithm()
	switch alg {
	case plugsv1.SignatureScheme_ALGORITHM_UNSPECIFIED:
		v.add(p+"algorithm", "is required")
		return
	case plugsv1.SignatureScheme_ALGORITHM_TOKEN:
		switch {
		case s.GetTokenJsonPath() != "":
			checkJSONPath(v, p+"token_json_path", s.GetTokenJsonPath())
		case s.GetTokenQueryParam() != "":
		case !headerNameRe.MatchString(s.GetTokenHeader()):
			v.add(p+"token_header", "must be a header name (or set token_query_param or token_json_path)")
		}
		return
	case plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH:
		return
	case plugsv1.SignatureScheme_ALGORITHM_JWT:
		// Where the token is, its algorithms and its keys are checked by
		// compiling the scheme (validateScheme), which names the field.
		if s.GetJwt() == nil {
			v.add(p+"jwt", "is required with ALGORITHM_JWT")
		}
		return
	}
	if alg == plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY && s.GetPublicKey() == nil {
		v.add(p+"public_key", "is required with ALGORITHM_PUBLIC_KEY")
		return
	}
	if _, ok := plugsv1.SignatureScheme_Algorithm_name[int32(alg)]; !ok {
		v.add(p+"algorithm", "unknown algorithm")
	}
	if s.GetEncoding() == plugsv1.SignatureScheme_ENCODING_UNSPECIFIED {
		v.add(p+"encoding", "is required")
	}
	if s.GetSignatureJsonPath() != "" {
		checkJSONPath(v, p+"signature_json_path", s.GetSignatureJsonPath())
	} else if s.GetSignatureQueryParam() != "" {
	} else if !headerNameRe.MatchString(s.GetHeader()) {
		v.add(p+"header", "must be a header name")
	}
	if st := s.GetStructured(); st != nil {
		if st.GetItemSeparator() == "" {
			v.add(p+"structured.item_separator", "is required")
		}
		if st.GetKeyValueSeparator() == "" {
			v.add(p+"structured.key_value_separator", "is required")
		}
		if st.GetSignatureKey() == "" {
			v.add(p+"structured.signature_key", "is required")
		}
	}
	if len(s.GetSignedParts()) == 0 && s.GetPublicKey().GetCanonical() == plugsv1.PublicKeyScheme_CANONICAL_UNSPECIFIED {
		v.add(p+"signed_parts", "must name at least one part")
	}
	usesTimestamp := false
	for i, part := range s.GetSignedParts() {
		f := fmt.Sprintf("%ssigned_parts[%d]", p, i)
		switch part.GetKind() {
		case plugsv1.SignedPart_KIND_LITERAL:
			if part.GetValue() == "" {
				v.add(f+".value", "a literal part needs its text")
			}
		case plugsv1.SignedPart_KIND_HEADER:
			if !headerNameRe.MatchString(part.GetValue()) {
				v.add(f+".value", "must be a header name")
			}
		case plugsv1.SignedPart_KIND_BODY_FIELD:
			checkJSONPath(v, f+".value", part.GetValue())
		case plugsv1.SignedPart_KIND_QUERY_PARAM:
			if part.GetValue() == "" {
				v.add(f+".value", "a query parameter part needs the parameter's name")
			}
		case plugsv1.SignedPart_KIND_PHP_SERIALIZED_FORM:
			if s.GetSignatureJsonPath() != "" && part.GetValue() == "" {
				v.add(f+".value", "name the form field carrying the signature, which is left out of what is signed")
			}
		case plugsv1.SignedPart_KIND_SECRET:
		case plugsv1.SignedPart_KIND_ID:
			if !headerNameRe.MatchString(s.GetIdHeader()) {
				v.add(p+"id_header", "an id part needs the id header")
			}
		case plugsv1.SignedPart_KIND_TIMESTAMP:
			usesTimestamp = true
		case plugsv1.SignedPart_KIND_BODY, plugsv1.SignedPart_KIND_URL,
			plugsv1.SignedPart_KIND_SORTED_FORM_PARAMS, plugsv1.SignedPart_KIND_METHOD,
			plugsv1.SignedPart_KIND_BODY_CRC32:
		default:
			v.add(f+".kind", "unknown part kind")
		}
	}
	ts := s.GetTimestamp()
	if usesTimestamp && ts == nil {
		v.add(p+"timestamp", "a timestamp part needs a timestamp source")
	}
	if ts != nil {
		if ts.GetHeader() == "" && ts.GetJsonPath() == "" && !ts.GetLeadingItem() && s.GetStructured().GetTimestampKey() == "" {
			v.add(p+"timestamp", "say where the timestamp is: a header, a JSONPath, the structured header's timestamp key, or the signature list's first item")
		}
		if ts.GetLeadingItem() && s.GetSignatureSeparator() == "" {
			v.add(p+"timestamp.leading_item", "needs signature_separator")
		}
		if ts.GetHeader() != "" && !headerNameRe.MatchString(ts.GetHeader()) {
			v.add(p+"timestamp.header", "must be a header name")
		}
		if ts.GetJsonPath() != "" {
			checkJSONPath(v, p+"timestamp.json_path", ts.GetJsonPath())
		}
		if ts.GetFormat() == plugsv1.TimestampSource_FORMAT_UNSPECIFIED {
			v.add(p+"timestamp.format", "is required")
		}
	}
	if tol := s.GetTolerance(); tol != nil && (tol.CheckValid() != nil || tol.AsDuration() <= 0 || tol.AsDuration() > MaxTolerance) {
		v.add(p+"tolerance", fmt.Sprintf("must be more than 0 and at most %s", MaxTolerance))
	}
	if s.GetIdHeader() != "" && !headerNameRe.MatchString(s.GetIdHeader()) {
		v.add(p+"id_header", "must be a header name")
	}
}

func validateFilter(v *violations, p string, f *plugsv1.EventFilter) {
	for i, t := range f.GetEventTypes() {
		field := fmt.Sprintf("%sevent_types[%d]", p, i)
		switch {
		case strings.TrimSpace(t) == "":
			v.add(field, "must not be empty")
		case len(t) > 200:
			v.add(field, "must be at most 200 characters")
		case !eventTypeRe.MatchString(t):
			v.add(field, `must be an event type, a "prefix.*" wildcard or "*"`)
		}
	}
	if e := f.GetExpression(); e != "" {
		x, err := jp.ParseString(e)
		if err != nil {
			v.add(p+"expression", "not a JSONPath: "+err.Error())
		} else if !hasFilter(x) {
			v.add(p+"expression", `must contain a filter such as "$[?(@.livemode == true)]"`)
		}
	}
}

func hasFilter(x jp.Expr) bool {
	for _, frag := range x {
		if _, ok := frag.(*jp.Filter); ok {
			return true
		}
	}
	return false
}

func validateMappings(v *violations, p string, m *plugsv1.FieldMappings) {
	refs := []struct {
		name string
		ref  *plugsv1.ValueRef
	}{
		{"event_id", m.GetEventId()},
		{"event_type", m.GetEventType()},
		{"customer_id", m.GetCustomerId()},
		{"quantity", m.GetQuantity()},
		{"timestamp", m.GetTimestamp()},
	}
	batch := m.GetBatch()
	if batch != nil {
		validateBatch(v, p+"batch.", batch)
	}
	for _, r := range refs {
		validateRef(v, p+r.name, r.ref, batch != nil)
	}
	if len(m.GetProperties()) > 50 {
		v.add(p+"properties", "at most 50 properties")
	}
	for name, ref := range m.GetProperties() {
		if !propertyNameRe.MatchString(name) {
			v.add(p+"properties["+name+"]", "name must be a letter or '_' followed by up to 99 letters, digits, '_', '.' or '-'")
		}
		validateRef(v, p+"properties["+name+"]", ref, batch != nil)
	}
	if c := m.GetQuantity().GetConstant(); c != "" && !isDecimal(c) {
		v.add(p+"quantity.constant", "must be a decimal number")
	}
}

// validateBatch checks a batch; mapping.Compile checks the rest (an items
// path of only names, indexes and wildcards, the event id read from each
// item) once every field is valid.
func validateBatch(v *violations, p string, b *plugsv1.Batch) {
	switch b.GetFormat() {
	case plugsv1.Batch_FORMAT_UNSPECIFIED:
		checkJSONPath(v, p+"items_path", b.GetItemsPath())
	case plugsv1.Batch_FORMAT_NDJSON:
		if b.GetItemsPath() != "" {
			v.add(p+"items_path", "must be empty for FORMAT_NDJSON, whose lines are the items")
		}
	default:
		v.add(p+"format", "must be FORMAT_UNSPECIFIED (a JSON body) or FORMAT_NDJSON")
	}
	if n := b.GetMaxItems(); n < 0 || n > mapping.MaxMaxItems {
		v.add(p+"max_items", fmt.Sprintf("must be between 1 and %d (0 means %d)", mapping.MaxMaxItems, mapping.DefaultMaxItems))
	}
}

// validateRef checks where a value is read. In a batch, a JSONPath from
// "$$" reads the envelope rather than the item.
func validateRef(v *violations, field string, r *plugsv1.ValueRef, batch bool) {
	if r == nil {
		return
	}
	switch from := r.GetFrom().(type) {
	case *plugsv1.ValueRef_JsonPath:
		path := from.JsonPath
		if envelope, ok := strings.CutPrefix(path, "$$"); ok {
			if !batch {
				v.add(field+".json_path", "a path from $$ reads the envelope of a batch; these mappings read no batch")
				return
			}
			path = "$" + envelope
		}
		checkJSONPath(v, field+".json_path", path)
	case *plugsv1.ValueRef_Header:
		if !headerNameRe.MatchString(from.Header) {
			v.add(field+".header", "must be a header name")
		}
	case *plugsv1.ValueRef_Constant:
		if len(from.Constant) > 1024 {
			v.add(field+".constant", "must be at most 1024 bytes")
		}
	case nil:
		v.add(field, "say where the value is: json_path, header or constant")
	}
}

func checkJSONPath(v *violations, field, path string) {
	if path == "" {
		v.add(field, "must not be empty")
		return
	}
	if _, err := jp.ParseString(path); err != nil {
		v.add(field, fmt.Sprintf("not a JSONPath: %v", err))
	}
}

var decimalRe = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

func isDecimal(s string) bool { return len(s) <= 64 && decimalRe.MatchString(s) }

// validateSecret checks a new signing secret against the scheme's secret
// encoding. Descriptions never include the secret.
func validateSecret(v *violations, field, secret string, scheme *plugsv1.SignatureScheme) {
	if secret == "" {
		v.add(field, "is required")
		return
	}
	if len(secret) > MaxSecretLen {
		v.add(field, fmt.Sprintf("must be at most %d characters", MaxSecretLen))
		return
	}
	if ks := keySource(scheme); ks != nil {
		validateKeySecret(v, field, secret, ks)
		return
	}
	if scheme.GetAlgorithm() == plugsv1.SignatureScheme_ALGORITHM_BASIC_AUTH {
		// The data plane compares the decoded credentials, which always
		// hold a colon (RFC 7617): without one no request could match.
		if !strings.Contains(secret, ":") {
			v.add(field, `must be the Basic credentials "user:password", as the provider sends them`)
			return
		}
	}
	switch scheme.GetSecretEncoding() {
	case plugsv1.SignatureScheme_SECRET_ENCODING_WHSEC_BASE64:
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if !strings.HasPrefix(secret, "whsec_") || err != nil {
			v.add(field, `must be "whsec_" followed by base64, as the provider shows it`)
		} else if len(raw) < 16 {
			v.add(field, "too short: the decoded key must be at least 16 bytes")
		}
		return
	case plugsv1.SignatureScheme_SECRET_ENCODING_BASE64:
		raw, err := base64.StdEncoding.DecodeString(secret)
		if err != nil {
			v.add(field, "must be base64")
		} else if len(raw) < 16 {
			v.add(field, "too short: the decoded key must be at least 16 bytes")
		}
		return
	case plugsv1.SignatureScheme_SECRET_ENCODING_HEX:
		raw, err := hex.DecodeString(secret)
		if err != nil {
			v.add(field, "must be hex")
		} else if len(raw) < 16 {
			v.add(field, "too short: the decoded key must be at least 16 bytes")
		}
		return
	}
	if len(secret) < MinSecretLen {
		v.add(field, fmt.Sprintf("too short: at least %d characters", MinSecretLen))
	}
}

// keySource is the key source of a public-key or token scheme, nil for
// other schemes.
func keySource(scheme *plugsv1.SignatureScheme) *plugsv1.KeySource {
	switch scheme.GetAlgorithm() {
	case plugsv1.SignatureScheme_ALGORITHM_PUBLIC_KEY:
		return scheme.GetPublicKey().GetKeys()
	case plugsv1.SignatureScheme_ALGORITHM_JWT:
		return scheme.GetJwt().GetKeys()
	}
	return nil
}

// validateKeySecret checks the secret of a public-key or token scheme: a
// key must parse as the scheme's format says; a value the request carries
// (a webhook id, a topic ARN, an audience) may be short, since it is not
// secret; an HMAC key or a key endpoint's credential is held to the length
// of any shared secret.
func validateKeySecret(v *violations, field, secret string, ks *plugsv1.KeySource) {
	switch {
	case ks.GetKind() == plugsv1.KeySource_KIND_SECRET && ks.GetFormat() != plugsv1.KeySource_FORMAT_HMAC:
		if _, err := verify.ParsePublicKey(ks.GetFormat(), []byte(secret)); err != nil {
			v.add(field, fmt.Sprintf("is not a public key in the scheme's format (%s): %v", ks.GetFormat(), err))
		}
	case ks.GetKind() == plugsv1.KeySource_KIND_SECRET || ks.GetKind() == plugsv1.KeySource_KIND_KEY_ENDPOINT:
		if len(secret) < MinSecretLen {
			v.add(field, fmt.Sprintf("too short: at least %d characters", MinSecretLen))
		}
	case strings.TrimSpace(secret) != secret:
		v.add(field, "must not start or end with white space: requests carry it exactly")
	}
}
