package backbone

import (
	"strconv"

	"github.com/google/uuid"
)

// BatchHeader marks a message of ReceiptsStream, UnverifiedReceiptsStream
// or AttemptsStream that carries several records (a plugs.v1.ReceiptBatch
// or DeliveryAttemptBatch) rather than one; its value is how many. A
// message without it holds a single record, as every message did before
// records were batched, so readers must take both forms.
const BatchHeader = "Plugs-Batch"

// batchNamespace derives the message ids of batches.
var batchNamespace = uuid.MustParse("0f1d7c52-6a2e-4b8e-9a57-3c1f5d0b2e61")

// BatchMsgID is the Nats-Msg-Id of a batch of the records ids, in order:
// the same records give the same id, so a batch published again after a
// lost confirmation is stored once.
func BatchMsgID(ids []string) string {
	b := make([]byte, 0, len(ids)*37)
	for _, id := range ids {
		b = append(b, id...)
		b = append(b, '\n')
	}
	return "batch-" + strconv.Itoa(len(ids)) + "-" + uuid.NewSHA1(batchNamespace, b).String()
}
