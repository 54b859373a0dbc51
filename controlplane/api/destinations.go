package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/controlplane/config"
	"github.com/plugshq/plugs/controlplane/secrets"
	"github.com/plugshq/plugs/dataplane/egress"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/destination"
	"github.com/plugshq/plugs/ent/viewer"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// Limits and defaults of a destination's settings.
const (
	MaxDestinationURLLen      = 2048
	MinSharedKeyLen           = 16
	DefaultDestinationTimeout = 10 * time.Second
	MinDestinationTimeout     = time.Second
	MaxDestinationTimeout     = 60 * time.Second
	DefaultMaxConcurrency     = 10
	MaxMaxConcurrency         = 100
	MaxRetryAttempts          = 100
	// MaxRetryDuration bounds every duration of a retry policy; a longer
	// max_age would keep events past any dedup window a sender retries in.
	MaxRetryDuration = 30 * 24 * time.Hour
	MaxRoutedSources = 1000
	// DefaultHubSignatureHeader is the hub style's header when none is set.
	DefaultHubSignatureHeader = "X-Hub-Signature-256"
	// StandardWebhooksSignatureHeader is where Standard Webhooks puts the
	// signature.
	StandardWebhooksSignatureHeader = "webhook-signature"
)

// reservedHeaders cannot carry a signature: the HTTP client sets them, and
// overwriting one would break the request rather than sign it.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "transfer-encoding": true,
	"connection": true, "keep-alive": true, "te": true, "trailer": true, "upgrade": true,
	"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
}

// Destinations implements plugs.v1.DestinationService.
type Destinations struct {
	plugsv1.UnimplementedDestinationServiceServer

	Client  *ent.Client
	Keyring *secrets.Keyring
	// AllowHTTPHosts are host names (without port) a destination may reach
	// over plain http://, for development against a local receiver. Every
	// other destination must use https://: events are billing data and the
	// signature does not hide them.
	AllowHTTPHosts []string
	// Problems says which destinations cannot be built for data planes;
	// nil reports none.
	Problems ConfigProblems
	Log      *slog.Logger
}

// updatableDestinationPaths are the fields UpdateDestination may change.
// Only retry_policy may be named below its top level: the others are
// scalars, lists or durations replaced whole.
var updatableDestinationPaths = map[string]bool{
	"display_name": true, "url": true, "shared_key": true, "signature_style": true,
	"signature_header": true, "status": true, "source_ids": true, "retry_policy": true,
	"timeout": true, "max_concurrency": true,
}

// CreateDestination implements plugs.v1.DestinationService.
func (d *Destinations) CreateDestination(ctx context.Context, req *plugsv1.CreateDestinationRequest) (*plugsv1.Destination, error) {
	in := req.GetDestination()
	if in == nil {
		return nil, invalid("destination", "is required")
	}
	return d.create(ctx, in)
}

// create validates and stores a new destination; RegisterWebhook shares it.
func (d *Destinations) create(ctx context.Context, in *plugsv1.Destination) (*plugsv1.Destination, error) {
	in = proto.Clone(in).(*plugsv1.Destination)
	if in.GetStatus() == plugsv1.Destination_STATUS_UNSPECIFIED {
		in.Status = plugsv1.Destination_STATUS_ACTIVE
	}
	if in.GetSignatureStyle() == plugsv1.Destination_SIGNATURE_STYLE_UNSPECIFIED {
		in.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS
	}
	destinationDefaults(in)
	var v violations
	d.validate(&v, "destination.", in)
	validateSharedKey(&v, "destination.shared_key", in.GetSharedKey())
	if err := v.err(); err != nil {
		return nil, err
	}
	fields, err := encodeDestination(in)
	if err != nil {
		return nil, internal(ctx, d.log(), "encode destination", err)
	}
	vw, _ := viewer.FromContext(ctx)
	id := uuid.Must(uuid.NewV7())
	var out *plugsv1.Destination
	err = withTx(ctx, d.Client, func(tx *ent.Tx) error {
		key, err := d.sealKey(vw.TenantID, id, in.GetSharedKey())
		if err != nil {
			return err
		}
		err = setDestinationFields(tx.Destination.Create().SetID(id), fields).
			SetKeyID(key.keyID).
			SetSharedKeyCiphertext(key.sealed).
			SetSharedKeyFingerprint(key.fingerprint).
			Exec(ctx)
		if err != nil {
			return err
		}
		if err := checkRoutedSources(ctx, tx, in.GetSourceIds(), nil); err != nil {
			return err
		}
		// Read back inside the transaction: the revision hook stamped
		// the row after the create returned it.
		out, err = d.get(ctx, tx.Client(), id)
		return err
	})
	if err != nil {
		return nil, statusOrInternal(ctx, d.log(), "create destination", err)
	}
	d.log().InfoContext(ctx, "destination created", "destination_id", id, "tenant_id", vw.TenantID, "host", urlHost(in.GetUrl()))
	return out, nil
}

// GetDestination implements plugs.v1.DestinationService.
func (d *Destinations) GetDestination(ctx context.Context, req *plugsv1.GetDestinationRequest) (*plugsv1.Destination, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	out, err := d.get(ctx, d.Client, id)
	if err != nil {
		return nil, statusOrInternal(ctx, d.log(), "get destination", err)
	}
	return out, nil
}

// get reads one destination of the caller's tenant; another tenant's is
// not found, exactly like a missing one.
func (d *Destinations) get(ctx context.Context, c *ent.Client, id uuid.UUID) (*plugsv1.Destination, error) {
	row, err := c.Destination.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound("destination", id.String())
	}
	if err != nil {
		return nil, err
	}
	return d.render(row)
}

// render is destinationToProto with the destination's configuration
// error, if the control plane cannot build it for data planes.
func (d *Destinations) render(row *ent.Destination) (*plugsv1.Destination, error) {
	p, err := destinationToProto(row)
	if err == nil && d.Problems != nil {
		p.ConfigurationError = d.Problems.DestinationError(p.GetId())
	}
	return p, err
}

// ListDestinations implements plugs.v1.DestinationService.
func (d *Destinations) ListDestinations(ctx context.Context, req *plugsv1.ListDestinationsRequest) (*plugsv1.ListDestinationsResponse, error) {
	size, after, err := idPage(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	q := d.Client.Destination.Query().Order(ent.Asc(destination.FieldID)).Limit(size + 1)
	if after != uuid.Nil {
		q = q.Where(destination.IDGT(after))
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, internal(ctx, d.log(), "list destinations", err)
	}
	resp := &plugsv1.ListDestinationsResponse{}
	rows, resp.NextPageToken = trimPage(rows, size, func(r *ent.Destination) string { return r.ID.String() })
	for _, r := range rows {
		p, err := d.render(r)
		if err != nil {
			return nil, internal(ctx, d.log(), "render destination", err)
		}
		resp.Destinations = append(resp.Destinations, p)
	}
	return resp, nil
}

// UpdateDestination implements plugs.v1.DestinationService.
func (d *Destinations) UpdateDestination(ctx context.Context, req *plugsv1.UpdateDestinationRequest) (*plugsv1.Destination, error) {
	in := req.GetDestination()
	if in == nil {
		return nil, invalid("destination", "is required")
	}
	id, err := parseID("destination.id", in.GetId())
	if err != nil {
		return nil, err
	}
	var v violations
	paths := updatePaths(&v, req.GetUpdateMask().GetPaths(), in.ProtoReflect(), updatableDestinationPaths,
		func(top string) bool { return top == "retry_policy" })
	if err := v.err(); err != nil {
		return nil, err
	}
	keyChanged := slices.Contains(paths, "shared_key")
	var out *plugsv1.Destination
	err = withTx(ctx, d.Client, func(tx *ent.Tx) error {
		cur, err := tx.Destination.Get(ctx, id)
		if ent.IsNotFound(err) {
			return notFound("destination", id.String())
		}
		if err != nil {
			return err
		}
		merged, err := destinationToProto(cur)
		if err != nil {
			return err
		}
		var v violations
		applyMask(&v, merged.ProtoReflect(), in.ProtoReflect(), paths)
		if err := v.err(); err != nil {
			return err
		}
		// The header belongs to the style: a new style without a header
		// of its own starts from that style's default, rather than
		// failing on the old style's header.
		if slices.Contains(paths, "signature_style") && !slices.Contains(paths, "signature_header") {
			merged.SignatureHeader = ""
		}
		destinationDefaults(merged)
		d.validate(&v, "destination.", merged)
		if keyChanged {
			validateSharedKey(&v, "destination.shared_key", merged.GetSharedKey())
		}
		if err := v.err(); err != nil {
			return err
		}
		fields, err := encodeDestination(merged)
		if err != nil {
			return err
		}
		upd := setDestinationFields(tx.Destination.UpdateOneID(id), fields)
		if keyChanged {
			key, err := d.sealKey(cur.TenantID, id, merged.GetSharedKey())
			if err != nil {
				return err
			}
			upd.SetKeyID(key.keyID).SetSharedKeyCiphertext(key.sealed).SetSharedKeyFingerprint(key.fingerprint)
		}
		if err := upd.Exec(ctx); err != nil {
			return err
		}
		if slices.Contains(paths, "source_ids") {
			if err := checkRoutedSources(ctx, tx, merged.GetSourceIds(), cur.SourceIds); err != nil {
				return err
			}
		}
		out, err = d.get(ctx, tx.Client(), id)
		return err
	})
	if err != nil {
		return nil, statusOrInternal(ctx, d.log(), "update destination", err)
	}
	d.log().InfoContext(ctx, "destination updated", "destination_id", id, "paths", paths)
	return out, nil
}

// DeleteDestination implements plugs.v1.DestinationService.
func (d *Destinations) DeleteDestination(ctx context.Context, req *plugsv1.DeleteDestinationRequest) (*emptypb.Empty, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	err = withTx(ctx, d.Client, func(tx *ent.Tx) error {
		n, err := tx.Destination.Delete().Where(destination.ID(id)).Exec(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("destination", id.String())
		}
		return nil
	})
	if err != nil {
		return nil, statusOrInternal(ctx, d.log(), "delete destination", err)
	}
	d.log().InfoContext(ctx, "destination deleted", "destination_id", id)
	return &emptypb.Empty{}, nil
}

func (d *Destinations) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// sealedKey is a shared key as stored.
type sealedKey struct {
	keyID, fingerprint string
	sealed             []byte
}

func (d *Destinations) sealKey(tenantID, id uuid.UUID, plaintext string) (sealedKey, error) {
	keyID, sealed, err := d.Keyring.Seal([]byte(plaintext), secrets.DestinationBinding(tenantID.String(), id.String()))
	if err != nil {
		return sealedKey{}, err
	}
	return sealedKey{keyID: keyID, sealed: sealed, fingerprint: secrets.Fingerprint([]byte(plaintext))}, nil
}

// statusOrInternal passes gRPC statuses made inside a transaction through
// and turns anything else into INTERNAL.
func statusOrInternal(ctx context.Context, log *slog.Logger, what string, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return internal(ctx, log, what, err)
}

// destinationDefaults fills what an effective destination may leave unset.
// Status and style are not defaulted here: on update, a mask that clears them
// is a mistake to report, not a request for the default.
func destinationDefaults(in *plugsv1.Destination) {
	if in.GetSignatureStyle() == plugsv1.Destination_SIGNATURE_STYLE_HUB && in.GetSignatureHeader() == "" {
		in.SignatureHeader = DefaultHubSignatureHeader
	}
	if in.GetTimeout() == nil {
		in.Timeout = durationpb.New(DefaultDestinationTimeout)
	}
	if in.GetMaxConcurrency() == 0 {
		in.MaxConcurrency = DefaultMaxConcurrency
	}
	// Canonical ids, so "ABC…" and "abc…" are one source.
	for i, s := range in.GetSourceIds() {
		if id, err := uuid.Parse(s); err == nil && len(s) == 36 {
			in.SourceIds[i] = id.String()
		}
	}
}

// validate checks a whole effective destination (defaults applied) except
// its shared key, and adds violations under prefix.
func (d *Destinations) validate(v *violations, prefix string, in *plugsv1.Destination) {
	if n := utf8.RuneCountInString(in.GetDisplayName()); n == 0 || n > 200 || !utf8.ValidString(in.GetDisplayName()) {
		v.add(prefix+"display_name", "must be 1 to 200 characters")
	}
	d.validateURL(v, prefix+"url", in.GetUrl())
	switch in.GetSignatureStyle() {
	case plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS:
		if in.GetSignatureHeader() != "" {
			v.add(prefix+"signature_header", "applies to SIGNATURE_STYLE_HUB only; Standard Webhooks headers are fixed")
		}
	case plugsv1.Destination_SIGNATURE_STYLE_HUB:
		h := in.GetSignatureHeader()
		if !headerNameRe.MatchString(h) {
			v.add(prefix+"signature_header", "must be a header name")
		} else if reservedHeaders[strings.ToLower(h)] {
			v.add(prefix+"signature_header", fmt.Sprintf("%q is set by the HTTP client or by Standard Webhooks; choose another header", h))
		}
	default:
		v.add(prefix+"signature_style", "must be SIGNATURE_STYLE_STANDARD_WEBHOOKS or SIGNATURE_STYLE_HUB")
	}
	switch in.GetStatus() {
	case plugsv1.Destination_STATUS_ACTIVE, plugsv1.Destination_STATUS_PAUSED:
	default:
		v.add(prefix+"status", "must be STATUS_ACTIVE or STATUS_PAUSED")
	}
	if len(in.GetSourceIds()) > MaxRoutedSources {
		v.add(prefix+"source_ids", fmt.Sprintf("at most %d sources", MaxRoutedSources))
	}
	seen := make(map[string]bool, len(in.GetSourceIds()))
	for i, s := range in.GetSourceIds() {
		f := fmt.Sprintf("%ssource_ids[%d]", prefix, i)
		switch {
		case len(s) != 36 || uuid.Validate(s) != nil:
			v.add(f, "must be a source id (a UUID)")
		case seen[s]:
			v.add(f, "names a source already listed")
		case s == NoSources && len(in.GetSourceIds()) > 1:
			v.add(f, NoSources+" routes no source and stands alone")
		}
		seen[s] = true
	}
	validateRetryPolicy(v, prefix+"retry_policy.", in.GetRetryPolicy())
	if t := in.GetTimeout(); t.CheckValid() != nil || t.AsDuration() < MinDestinationTimeout || t.AsDuration() > MaxDestinationTimeout {
		v.add(prefix+"timeout", fmt.Sprintf("must be between %s and %s", MinDestinationTimeout, MaxDestinationTimeout))
	} else if t.AsDuration()%time.Millisecond != 0 {
		v.add(prefix+"timeout", "must be a whole number of milliseconds")
	}
	if c := in.GetMaxConcurrency(); c < 1 || c > MaxMaxConcurrency {
		v.add(prefix+"max_concurrency", fmt.Sprintf("must be between 1 and %d", MaxMaxConcurrency))
	}
}

// validateURL checks where events will be POSTed: an absolute https:// URL,
// or http:// to an allow-listed host. Credentials in the URL are refused:
// they would be shown back to everyone who can read the destination, and the
// shared key is what authenticates a delivery.
func (d *Destinations) validateURL(v *violations, field, raw string) {
	if raw == "" {
		v.add(field, "is required")
		return
	}
	if len(raw) > MaxDestinationURLLen {
		v.add(field, fmt.Sprintf("must be at most %d bytes", MaxDestinationURLLen))
		return
	}
	if strings.IndexFunc(raw, unicode.IsSpace) >= 0 || !utf8.ValidString(raw) {
		v.add(field, "must not contain spaces")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Hostname() == "" {
		v.add(field, "must be an absolute URL such as https://billing.example.com/webhooks")
		return
	}
	if u.User != nil {
		v.add(field, "must not carry a user name or password")
		return
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		v.add(field, "must not have a fragment: it is never sent")
		return
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.add(field, "has an invalid port")
			return
		}
	}
	host := u.Hostname()
	if strings.Contains(host, "%") {
		v.add(field, `must not carry an IPv6 zone ("%25…"): a zone names a network interface of the server, not a destination`)
		return
	}
	// The data plane checks every address it connects to; a literal one
	// can be checked now. Host names are checked only when dialled, since
	// what they resolve to can change.
	if ip, err := netip.ParseAddr(host); err == nil {
		if egress.Check(ip) != nil && !d.hostAllowed(host) {
			v.add(field, "must not point to an internal address (loopback, private, link-local, reserved, or an IPv6 form of one): deliveries there are refused")
			return
		}
	} else if numericHost(host) {
		// "127.1", "0x7f.0.0.1", "2130706433": some resolvers read these
		// as IPv4 addresses.
		v.add(field, "must name a host, or an IP address written in the standard form")
		return
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !d.hostAllowed(host) {
			v.add(field, "must use https://; plain http:// is allowed only for hosts the operator allow-lists")
		}
	default:
		v.add(field, "must use https://")
	}
}

// hostAllowed reports whether the operator allow-lists host (a name or a
// literal address) for local receivers.
func (d *Destinations) hostAllowed(host string) bool {
	ip, ipErr := netip.ParseAddr(host)
	for _, h := range d.AllowHTTPHosts {
		h = strings.Trim(h, "[]")
		if strings.EqualFold(h, host) {
			return true
		}
		if a, err := netip.ParseAddr(h); err == nil && ipErr == nil && a == ip {
			return true
		}
	}
	return false
}

// numericHost reports whether a host that is not a standard IP address
// ends in a number, which the URL standard (WHATWG "ends in a number") and
// inet_aton read as an IPv4 address in another notation. No top-level
// domain is numeric.
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndex(host, ".")+1:]
	if last == "" {
		return false
	}
	if x, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(x, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// validateSharedKey checks a new shared key. Descriptions never include it.
func validateSharedKey(v *violations, field, key string) {
	switch {
	case key == "":
		v.add(field, "is required")
	case len(key) < MinSharedKeyLen:
		v.add(field, fmt.Sprintf("too short: at least %d characters", MinSharedKeyLen))
	case len(key) > MaxSecretLen:
		v.add(field, fmt.Sprintf("must be at most %d characters", MaxSecretLen))
	case strings.HasPrefix(key, "whsec_"):
		// The data plane signs with the decoded bytes, so a key that does
		// not decode could never sign.
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, "whsec_"))
		if err != nil {
			v.add(field, `a key beginning "whsec_" must be base64 after the prefix`)
		} else if len(raw) < 16 {
			v.add(field, "too short: the decoded key must be at least 16 bytes")
		}
	}
}

func validateRetryPolicy(v *violations, p string, r *plugsv1.RetryPolicy) {
	if r == nil {
		return
	}
	if n := r.GetMaxAttempts(); n < 0 || n > MaxRetryAttempts {
		v.add(p+"max_attempts", fmt.Sprintf("must be between 1 and %d (0 means the default)", MaxRetryAttempts))
	}
	durationOK := func(name string, d *durationpb.Duration) bool {
		if d == nil {
			return true
		}
		if d.CheckValid() != nil || d.AsDuration() <= 0 || d.AsDuration() > MaxRetryDuration {
			v.add(p+name, fmt.Sprintf("must be more than 0 and at most %s", MaxRetryDuration))
			return false
		}
		return true
	}
	initialOK := durationOK("initial_backoff", r.GetInitialBackoff())
	maxOK := durationOK("max_backoff", r.GetMaxBackoff())
	durationOK("max_age", r.GetMaxAge())
	if initialOK && maxOK && r.GetInitialBackoff() != nil && r.GetMaxBackoff() != nil &&
		r.GetInitialBackoff().AsDuration() > r.GetMaxBackoff().AsDuration() {
		v.add(p+"initial_backoff", "must not be longer than max_backoff")
	}
	seen := map[int32]bool{}
	for i, c := range r.GetRetryStatusCodes() {
		f := fmt.Sprintf("%sretry_status_codes[%d]", p, i)
		switch {
		case c < 400 || c > 499:
			v.add(f, "must be a 4xx status code; 5xx, 429 and network errors are always retried")
		case seen[c]:
			v.add(f, "listed twice")
		}
		seen[c] = true
	}
}

// storedDestination is a destination's row values, the shared key aside.
type storedDestination struct {
	displayName, url, signatureHeader string
	style                             destination.SignatureStyle
	status                            destination.Status
	sourceIDs                         []string
	retryPolicy                       []byte
	timeoutMS                         int64
	maxConcurrency                    int
}

// encodeDestination turns an effective, validated destination into its row
// values.
func encodeDestination(in *plugsv1.Destination) (storedDestination, error) {
	f := storedDestination{
		displayName:     in.GetDisplayName(),
		url:             in.GetUrl(),
		signatureHeader: in.GetSignatureHeader(),
		style:           destination.SignatureStyleStandardWebhooks,
		status:          destination.StatusActive,
		sourceIDs:       slices.Clone(in.GetSourceIds()),
		timeoutMS:       in.GetTimeout().AsDuration().Milliseconds(),
		maxConcurrency:  int(in.GetMaxConcurrency()),
	}
	if in.GetSignatureStyle() == plugsv1.Destination_SIGNATURE_STYLE_HUB {
		f.style = destination.SignatureStyleHub
	}
	if in.GetStatus() == plugsv1.Destination_STATUS_PAUSED {
		f.status = destination.StatusPaused
	}
	var err error
	f.retryPolicy, err = config.MarshalOverride(in.GetRetryPolicy())
	return f, err
}

// destinationSetter is what ent's DestinationCreate and DestinationUpdateOne
// share.
type destinationSetter[T any] interface {
	SetDisplayName(string) T
	SetURL(string) T
	SetSignatureStyle(destination.SignatureStyle) T
	SetSignatureHeader(string) T
	SetStatus(destination.Status) T
	SetSourceIds([]string) T
	SetRetryPolicy([]byte) T
	SetTimeoutMs(int64) T
	SetMaxConcurrency(int) T
}

func setDestinationFields[T destinationSetter[T]](b T, f storedDestination) T {
	b.SetDisplayName(f.displayName)
	b.SetURL(f.url)
	b.SetSignatureStyle(f.style)
	b.SetSignatureHeader(f.signatureHeader)
	b.SetStatus(f.status)
	b.SetSourceIds(f.sourceIDs)
	b.SetRetryPolicy(f.retryPolicy)
	b.SetTimeoutMs(f.timeoutMS)
	b.SetMaxConcurrency(f.maxConcurrency)
	return b
}

// destinationToProto renders a stored destination. The shared key is shown
// by its fingerprint only.
func destinationToProto(r *ent.Destination) (*plugsv1.Destination, error) {
	out := &plugsv1.Destination{
		Id:                   r.ID.String(),
		DisplayName:          r.DisplayName,
		Url:                  r.URL,
		SharedKeyFingerprint: r.SharedKeyFingerprint,
		SignatureStyle:       plugsv1.Destination_SIGNATURE_STYLE_STANDARD_WEBHOOKS,
		SignatureHeader:      r.SignatureHeader,
		Status:               plugsv1.Destination_STATUS_ACTIVE,
		SourceIds:            slices.Clone(r.SourceIds),
		Timeout:              durationpb.New(time.Duration(r.TimeoutMs) * time.Millisecond),
		MaxConcurrency:       int32(r.MaxConcurrency),
		CreateTime:           timestamppb.New(r.CreateTime),
		UpdateTime:           timestamppb.New(r.UpdateTime),
		Revision:             r.Revision,
	}
	if r.SignatureStyle == destination.SignatureStyleHub {
		out.SignatureStyle = plugsv1.Destination_SIGNATURE_STYLE_HUB
	}
	if r.Status == destination.StatusPaused {
		out.Status = plugsv1.Destination_STATUS_PAUSED
	}
	if len(r.RetryPolicy) > 0 {
		rp := &plugsv1.RetryPolicy{}
		if err := proto.Unmarshal(r.RetryPolicy, rp); err != nil {
			return nil, fmt.Errorf("stored retry policy of destination %s: %w", r.ID, err)
		}
		out.RetryPolicy = rp
	}
	return out, nil
}

// urlHost is a URL's host for logs: paths and queries may carry tokens.
func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
