import { useState } from "preact/hooks";
import { call, type v1SendTestEventResponse } from "../api/client";
import { explainCause, prettyJSON } from "../format";
import { Link } from "../router";
import { Badge, Button, ErrorBanner, Facts } from "../ui";

/** "Send test event": the sample payload signed with the source's secret, through the real ingest endpoint. */
export function TestEvent({ sourceId, onSent }: { sourceId: string; onSent?: () => void }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<v1SendTestEventResponse | undefined>();
  const [error, setError] = useState<unknown>();
  const send = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setResult(await call("SourceService_SendTestEvent", { path: { id: sourceId }, body: {} }));
      onSent?.();
    } catch (e) {
      setError(e);
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  };
  const r = result?.receipt;
  const ok = (result?.statusCode ?? 0) >= 200 && (result?.statusCode ?? 0) < 300;
  return (
    <section class="card" aria-labelledby="test-title">
      <div class="card-head">
        <h2 id="test-title">Test event</h2>
        <Button variant="primary" onClick={send} busy={busy}>
          Send test event
        </Button>
      </div>
      <p class="hint">
        Signs the template's sample payload with the source's current secret, as the provider would, gives it a fresh event id and sends it
        through the real ingest endpoint.
      </p>
      <ErrorBanner error={error} title="The test event could not be sent:" />
      {result && (
        <div class="test-result" role="status" data-testid="test-result">
          <p class={`banner ${ok ? "banner-ok" : "banner-error"}`}>
            The data plane answered <strong>{result.statusCode}</strong> <code>{prettyJSON(result.responseBody ?? "").text}</code>
          </p>
          <Facts
            items={[
              ["Provider event id", <code>{result.providerEventId}</code>],
              [
                "Receipt",
                result.receiptId ? (
                  <Link href={`/sources/${sourceId}/requests/${result.receiptId}`}>{result.receiptId}</Link>
                ) : (
                  <span class="muted">none</span>
                ),
              ],
              ["Outcome", r ? <Badge value={r.outcome} prefix="OUTCOME_" /> : <span class="muted">not indexed yet</span>],
              ["Cause", r?.cause ? <span>{r.cause}: {explainCause(r.cause)}</span> : undefined],
            ]}
          />
        </div>
      )}
    </section>
  );
}
