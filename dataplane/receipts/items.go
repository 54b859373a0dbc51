package receipts

import (
	"google.golang.org/protobuf/proto"

	"github.com/plugshq/plugs/dataplane/pipeline"
	plugsv1 "github.com/plugshq/plugs/gen/plugs/v1"
)

// MaxMessage is the most a receipt may take encoded: NATS refuses messages
// over 1 MiB by default, and the message needs room for its headers.
const MaxMessage = 1<<20 - 16<<10

// MaxItems bounds the bytes of a receipt's item list: about a thousand
// items of ordinary ids. A batch body near MaxBody leaves less room, and
// then fewer items are listed.
const MaxItems = 112 << 10

// MaxItemDetail is the most of an item's detail a receipt keeps.
const MaxItemDetail = 256

// keepItems lists what became of each item of a batch, in order, as many
// as fit in the receipt: within MaxItems, and within MaxMessage with what
// the receipt already holds. item_count counts every item.
func keepItems(rc *plugsv1.Receipt, res *pipeline.Result) {
	if !res.Batch {
		return
	}
	rc.ItemCount = int32(len(res.Items))
	budget := min(MaxItems, MaxMessage-proto.Size(rc))
	for i := range res.Items {
		item := receiptItem(&res.Items[i])
		// Each item costs its size, its tag and its length prefix.
		size := proto.Size(item) + 4
		if size > budget {
			rc.ItemsTruncated = true
			return
		}
		budget -= size
		rc.Items = append(rc.Items, item)
	}
}

func receiptItem(it *pipeline.Item) *plugsv1.ReceiptItem {
	out := &plugsv1.ReceiptItem{
		Index:   int32(it.Index),
		Outcome: outcomeOf(it.Outcome),
		Cause:   string(it.Cause),
		Detail:  text(cut(it.Detail, MaxItemDetail)),
		Field:   text(it.Field),
	}
	if ev := it.Event; ev != nil {
		out.EventType, out.ProviderEventId = text(ev.GetEventType()), text(ev.GetEventId())
		if it.Outcome == pipeline.Accepted || it.Outcome == pipeline.Duplicate {
			out.UsageEventId = ev.GetId()
		}
	}
	return out
}

// cut shortens s to at most n bytes, on a character boundary when s is
// UTF-8.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-4 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
