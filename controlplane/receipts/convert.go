package receipts

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/plugshq/plugs/backbone"
	"github.com/plugshq/plugs/controlplane/streamindex"
	"github.com/plugshq/plugs/ent"
	"github.com/plugshq/plugs/ent/receipt"
	"github.com/plugshq/plugs/ent/schema"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

var outcomes = streamindex.Outcomes[plugsv1.Receipt_Outcome, receipt.Outcome]{
	plugsv1.Receipt_OUTCOME_UNSPECIFIED: receipt.OutcomeUnspecified,
	plugsv1.Receipt_OUTCOME_ACCEPTED:    receipt.OutcomeAccepted,
	plugsv1.Receipt_OUTCOME_DUPLICATE:   receipt.OutcomeDuplicate,
	plugsv1.Receipt_OUTCOME_FILTERED:    receipt.OutcomeFiltered,
	plugsv1.Receipt_OUTCOME_REJECTED:    receipt.OutcomeRejected,
	plugsv1.Receipt_OUTCOME_HANDSHAKE:   receipt.OutcomeHandshake,
}

// StoredOutcome is how an API outcome is stored; false for a number the
// API does not define.
func StoredOutcome(o plugsv1.Receipt_Outcome) (receipt.Outcome, bool) { return outcomes.Stored(o) }

// APIOutcome is the API's name of a stored outcome.
func APIOutcome(s receipt.Outcome) plugsv1.Receipt_Outcome { return outcomes.API(s) }

// Row is a decoded receipt, checked and ready to insert.
type Row struct {
	ID, TenantID, SourceID uuid.UUID
	Receipt                *plugsv1.Receipt
	// ReceiveTime is the receipt's time, UTC, cut to microseconds.
	ReceiveTime time.Time
}

// Decode reads a message of backbone.ReceiptsStream published on subject.
// The ids must parse and agree with the subject, which the data plane
// derived from the same ids: a receipt filed under another tenant's
// subject is a bug, and indexing it could show it to the wrong tenant.
// Empty ids are taken from the subject. A receipt without a receive time
// takes published, the time the stream stored it.
func Decode(subject string, data []byte, published time.Time) (Row, error) {
	r := &plugsv1.Receipt{}
	if err := proto.Unmarshal(data, r); err != nil {
		return Row{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return decoded(subject, r, published)
}

// DecodeMsg reads a message of backbone.ReceiptsStream published on
// subject with header: a batch of receipts when it carries
// backbone.BatchHeader, else one receipt, as Decode reads it. Every
// receipt of a batch must agree with the subject; one that does not makes
// the whole message malformed.
func DecodeMsg(subject string, header nats.Header, data []byte, published time.Time) ([]Row, error) {
	return streamindex.DecodeMsg(header, data, ErrMalformed, "item",
		func() (Row, error) { return Decode(subject, data, published) },
		(*plugsv1.ReceiptBatch).GetReceipts,
		func(r *plugsv1.Receipt) (Row, error) { return decoded(subject, r, published) })
}

// decoded checks a receipt read from a message on subject. A receipt of a
// batch on its tenant's batch subject (backbone.ReceiptBatchSubject) is
// checked as if on its own source's subject: the batch subject names its
// tenant, so a receipt of another tenant is still refused.
func decoded(subject string, r *plugsv1.Receipt, published time.Time) (Row, error) {
	if r.GetTenantId() != "" && subject == batchSubject(r)(r.GetTenantId()) {
		subject = receiptSubject(r)(r.GetTenantId(), r.GetSourceId())
	}
	ids, err := streamindex.ParseIDs(subject, receiptSubject(r), r.GetId(), r.GetTenantId(), "source_id", r.GetSourceId())
	if err != nil {
		return Row{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return Row{
		ID: ids.ID, TenantID: ids.Tenant, SourceID: ids.Owner, Receipt: r,
		ReceiveTime: streamindex.RowTime(r.GetReceiveTime(), published),
	}, nil
}

// outcome is the row's outcome as stored.
func (row Row) outcome() receipt.Outcome {
	outcome, ok := StoredOutcome(row.Receipt.GetOutcome())
	if !ok {
		// A data plane newer than this control plane: keep the receipt,
		// its cause and status still tell what happened.
		return receipt.OutcomeUnspecified
	}
	return outcome
}

// cause is the row's cause as stored.
func (row Row) cause() string { return streamindex.Text(row.Receipt.GetCause()) }

// create builds the insert of a row.
func (row Row) create(c *ent.Client) *ent.ReceiptCreate {
	r := row.Receipt
	var headers []schema.ReceiptHeader
	for _, h := range r.GetHeaders() {
		vals := make([]string, len(h.GetValues()))
		for i, v := range h.GetValues() {
			vals[i] = streamindex.Text(v)
		}
		headers = append(headers, schema.ReceiptHeader{Name: streamindex.Text(h.GetName()), Values: vals})
	}
	return c.Receipt.Create().
		SetID(row.ID).
		SetTenantID(row.TenantID).
		SetSourceID(row.SourceID).
		SetReceiveTime(row.ReceiveTime).
		SetOutcome(row.outcome()).
		SetCause(row.cause()).
		SetDetail(streamindex.Text(r.GetDetail())).
		SetField(streamindex.Text(r.GetField())).
		SetEventType(streamindex.Text(r.GetEventType())).
		SetProviderEventID(streamindex.Text(r.GetProviderEventId())).
		SetUsageEventID(streamindex.Text(r.GetUsageEventId())).
		SetStatusCode(r.GetStatusCode()).
		SetLatencyMs(r.GetLatency().AsDuration().Milliseconds()).
		SetReplay(r.GetReplay()).
		SetDataPlane(streamindex.Text(r.GetDataPlane())).
		SetRemoteAddress(streamindex.Text(r.GetRemoteAddress())).
		SetMethod(streamindex.Text(r.GetMethod())).
		SetRequestURI(streamindex.Text(r.GetRequestUri())).
		SetHeaders(headers).
		SetBody(r.GetBody()).
		SetBodyTruncated(r.GetBodyTruncated()).
		SetTest(r.GetTest()).
		SetBodySize(r.GetBodySize()).
		SetBodySha256(streamindex.Text(r.GetBodySha256())).
		SetUnverified(r.GetUnverified()).
		SetItemCount(r.GetItemCount()).
		SetItems(storedItems(r.GetItems())).
		SetItemsTruncated(r.GetItemsTruncated()).
		SetSizeBytes(int64(proto.Size(r)))
}

// storedItems is how a batch's items are stored; nil for none.
func storedItems(items []*plugsv1.ReceiptItem) []schema.ReceiptItem {
	if len(items) == 0 {
		return nil
	}
	out := make([]schema.ReceiptItem, len(items))
	for i, it := range items {
		outcome, ok := StoredOutcome(it.GetOutcome())
		if !ok {
			outcome = receipt.OutcomeUnspecified
		}
		out[i] = schema.ReceiptItem{
			Index: it.GetIndex(), Outcome: string(outcome), Cause: streamindex.Text(it.GetCause()),
			Detail: streamindex.Text(it.GetDetail()), Field: streamindex.Text(it.GetField()),
			EventType: streamindex.Text(it.GetEventType()), ProviderEventID: streamindex.Text(it.GetProviderEventId()),
			UsageEventID: streamindex.Text(it.GetUsageEventId()),
		}
	}
	return out
}

// ToProto renders a stored receipt. Headers, body and a batch's items are
// left out unless full is set: lists carry none of them, only item_count.
func ToProto(r *ent.Receipt, full bool) *plugsv1.Receipt {
	out := &plugsv1.Receipt{
		Id:              r.ID.String(),
		SourceId:        r.SourceID.String(),
		TenantId:        r.TenantID.String(),
		ReceiveTime:     timestamppb.New(r.ReceiveTime),
		RemoteAddress:   r.RemoteAddress,
		Method:          r.Method,
		RequestUri:      r.RequestURI,
		BodyTruncated:   r.BodyTruncated,
		BodySize:        r.BodySize,
		BodySha256:      r.BodySha256,
		Unverified:      r.Unverified,
		Outcome:         APIOutcome(r.Outcome),
		Cause:           r.Cause,
		Detail:          r.Detail,
		Field:           r.Field,
		EventType:       r.EventType,
		ProviderEventId: r.ProviderEventID,
		UsageEventId:    r.UsageEventID,
		Latency:         durationpb.New(time.Duration(r.LatencyMs) * time.Millisecond),
		Replay:          r.Replay,
		Test:            r.Test,
		DataPlane:       r.DataPlane,
		StatusCode:      r.StatusCode,
		ItemCount:       r.ItemCount,
		ItemsTruncated:  r.ItemsTruncated,
	}
	if full {
		for _, it := range r.Items {
			out.Items = append(out.Items, &plugsv1.ReceiptItem{
				Index: it.Index, Outcome: APIOutcome(receipt.Outcome(it.Outcome)), Cause: it.Cause, Detail: it.Detail, Field: it.Field,
				EventType: it.EventType, ProviderEventId: it.ProviderEventID, UsageEventId: it.UsageEventID,
			})
		}
		for _, h := range r.Headers {
			out.Headers = append(out.Headers, &plugsv1.ReceiptHeader{Name: h.Name, Values: h.Values})
		}
		out.Body = r.Body
	}
	return out
}

// batchSubject is how the data planes name the subject of a batch of r's
// tenant's receipts of several sources.
func batchSubject(r *plugsv1.Receipt) func(tenantID string) string {
	if r.GetUnverified() {
		return backbone.UnverifiedReceiptBatchSubject
	}
	return backbone.ReceiptBatchSubject
}

// receiptSubject is how the data planes name the subject of r: receipts
// of unverified requests have a stream of their own.
func receiptSubject(r *plugsv1.Receipt) func(tenantID, sourceID string) string {
	if r.GetUnverified() {
		return backbone.UnverifiedReceiptSubject
	}
	return backbone.ReceiptSubject
}
