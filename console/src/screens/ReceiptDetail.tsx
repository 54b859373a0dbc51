import { useState } from "preact/hooks";
import { call, listAll, type v1DeliveryAttempt, type v1Receipt } from "../api/client";
import { absolute, base64Text, duration, explainCause, hexDump, prettyJSON } from "../format";
import { Link, loc, navigate } from "../router";
import { Badge, Button, Checkbox, ErrorBanner, Facts, Loading, notify, PageHeader, useLoad } from "../ui";

/** One request: headers, body, why it ended as it did, the event it became and its deliveries; replay. */
export function ReceiptDetail({ sourceId, receiptId }: { sourceId: string; receiptId: string }) {
  const { data: r, error, loading } = useLoad((signal) => call("ReceiptService_GetReceipt", { path: { id: receiptId }, signal }), [receiptId]);
  const backHref = `/sources/${sourceId}/requests${loc.value.search}`;
  if (loading && !r) return <Loading what="the request" />;
  if (!r)
    return (
      <>
        <PageHeader title="Request" back={{ href: backHref, label: "Requests" }} />
        <ErrorBanner error={error} />
      </>
    );
  return (
    <>
      <PageHeader
        title={`Request ${absolute(r.receiveTime)}`}
        back={{ href: backHref, label: "Requests" }}
        subtitle={
          <>
            <Badge value={r.outcome} prefix="OUTCOME_" /> {r.replay && <span class="badge badge-info">replay</span>} <code>{r.id}</code>
          </>
        }
      />
      {r.cause && (
        <div class={`banner ${r.outcome === "OUTCOME_REJECTED" ? "banner-error" : "banner-warn"}`} data-testid="cause">
          <p>
            <strong>{r.cause}</strong>: {explainCause(r.cause)}
          </p>
          {r.detail && <p class="small">Detail: {r.detail}</p>}
          {r.field && (
            <p class="small">
              Field: <code>{r.field}</code>
            </p>
          )}
        </div>
      )}
      <div class="grid-2">
        <section class="card" aria-labelledby="what-title">
          <h2 id="what-title">What arrived</h2>
          <Facts
            items={[
              ["Received", absolute(r.receiveTime)],
              ["Answered", `${r.statusCode ?? ""} in ${duration(r.latency)}`],
              ["Event type", r.eventType || undefined],
              ["Provider event id", r.providerEventId ? <code>{r.providerEventId}</code> : undefined],
              ["Request", <code>{`${r.method ?? ""} ${r.requestUri ?? ""}`}</code>],
              ["From", r.remoteAddress],
              ["Data plane", r.dataPlane],
            ]}
          />
        </section>
        <Replay receipt={r} sourceId={sourceId} />
      </div>
      <section class="card" aria-labelledby="headers-title">
        <h2 id="headers-title">Headers</h2>
        <p class="hint">Credentials (Authorization, cookies and the like) were redacted when the request was recorded.</p>
        <div class="table-wrap">
          <table class="table compact headers">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {(r.headers ?? []).map((h, i) => (
                <tr key={`${h.name}-${i}`}>
                  <th scope="row" class="mono">
                    {h.name}
                  </th>
                  <td class="mono break">{(h.values ?? []).join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <Body receipt={r} />
      <UsageEvent receipt={r} sourceId={sourceId} />
    </>
  );
}

function Body({ receipt: r }: { receipt: v1Receipt }) {
  const [raw, setRaw] = useState(false);
  const text = base64Text(r.body);
  const pretty = prettyJSON(text);
  return (
    <section class="card" aria-labelledby="body-title">
      <div class="card-head">
        <h2 id="body-title">Body</h2>
        <Button variant="ghost" aria-pressed={raw} onClick={() => setRaw(!raw)}>
          {raw ? "Show as text" : "Show raw bytes"}
        </Button>
      </div>
      {r.bodyTruncated && <p class="banner banner-warn">Only the start of the body was kept: it was larger than the source's limit.</p>}
      {!r.body ? (
        <p class="muted">No body.</p>
      ) : raw ? (
        <pre class="code" data-testid="body-raw" aria-label="Body bytes in hexadecimal">
          {hexDump(r.body)}
        </pre>
      ) : (
        <pre class="code" data-testid="body-pretty">
          {pretty.text}
        </pre>
      )}
    </section>
  );
}

function Replay({ receipt: r, sourceId }: { receipt: v1Receipt; sourceId: string }) {
  const [bypass, setBypass] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const replay = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const resp = await call("ReceiptService_ReplayReceipt", { path: { id: r.id! }, body: { bypassDedup: bypass } });
      const n = resp.receipt;
      notify(`Replayed: ${n?.outcome?.replace("OUTCOME_", "").toLowerCase() ?? "done"}${n?.cause ? ` (${n.cause})` : ""}.`);
      if (n?.id) navigate(`/sources/${sourceId}/requests/${n.id}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="replay-title">
      <h2 id="replay-title">Replay</h2>
      <p class="hint">
        Runs this request through the pipeline again with the source's current secrets and mappings (after fixing a wrong secret, say). The
        signature's age is not checked again. The replay gets a receipt of its own.
      </p>
      <Checkbox
        id="replay-bypass"
        label="Bypass dedup"
        checked={bypass}
        onChange={setBypass}
        hint="Store the event even if its provider event id was stored already."
      />
      <ErrorBanner error={error} title="The replay failed:" />
      <Button variant="primary" busy={busy} onClick={replay}>
        Replay this request
      </Button>
    </section>
  );
}

/** The usage event the request became, and every delivery of it. */
function UsageEvent({ receipt: r, sourceId }: { receipt: v1Receipt; sourceId: string }) {
  const eventId = r.usageEventId;
  const deliveries = useLoad(
    async (signal) => {
      if (!eventId) return [];
      const dests = await listAll("DestinationService_ListDestinations", (x) => x.destinations, { signal });
      const out: Array<{ destination: string; name: string; attempts: v1DeliveryAttempt[] }> = [];
      for (const d of dests) {
        const l = await call("DestinationService_ListDeliveries", { path: { id: d.id! }, query: { usageEventId: eventId, pageSize: 100 }, signal });
        if (l.deliveries?.length) out.push({ destination: d.id!, name: d.displayName ?? d.id!, attempts: l.deliveries });
      }
      return out;
    },
    [eventId],
  );
  const preview = useLoad(
    async (signal) => {
      if (!r.body || (r.outcome !== "OUTCOME_ACCEPTED" && r.outcome !== "OUTCOME_DUPLICATE")) return undefined;
      const ct = (r.headers ?? []).find((h) => h.name?.toLowerCase() === "content-type")?.values?.[0];
      return call("SourceService_PreviewMapping", { path: { id: sourceId }, body: { body: base64Text(r.body), contentType: ct }, signal });
    },
    [r.id],
  );
  return (
    <section class="card" aria-labelledby="event-title">
      <h2 id="event-title">Usage event</h2>
      {!eventId ? (
        <p class="muted">This request became no usage event.</p>
      ) : (
        <>
          <p>
            Stored as <code data-testid="usage-event-id">{eventId}</code>
            {r.outcome === "OUTCOME_DUPLICATE" && " (by an earlier request: this one was a duplicate)"}.
          </p>
          {preview.data?.event && (
            <>
              <h3>As the source's current mappings read this body</h3>
              <pre class="code">{JSON.stringify(preview.data.event, null, 2)}</pre>
            </>
          )}
          <h3>Deliveries</h3>
          <ErrorBanner error={deliveries.error} />
          {deliveries.loading && <Loading what="deliveries" />}
          {deliveries.data && deliveries.data.length === 0 && <p class="muted">No delivery attempt is logged for this event (yet).</p>}
          {deliveries.data?.map((d) => (
            <div key={d.destination} class="delivery-group">
              <h4>
                <Link href={`/destinations/${d.destination}?usageEventId=${encodeURIComponent(eventId)}`}>{d.name}</Link>
              </h4>
              <AttemptTimeline attempts={d.attempts} />
            </div>
          ))}
        </>
      )}
    </section>
  );
}

/** The attempts of one delivery, oldest first: status, latency, error, next retry. */
export function AttemptTimeline({ attempts }: { attempts: v1DeliveryAttempt[] }) {
  const sorted = [...attempts].sort((a, b) => ((a.attemptTime ?? "") < (b.attemptTime ?? "") ? -1 : 1));
  return (
    <ol class="timeline">
      {sorted.map((a) => (
        <li key={a.id} class={`timeline-${a.outcome === "OUTCOME_DELIVERED" ? "good" : a.outcome === "OUTCOME_RETRYING" ? "warn" : "bad"}`}>
          <div>
            <strong>Attempt {a.attempt}</strong> · {absolute(a.attemptTime)} · <Badge value={a.outcome} prefix="OUTCOME_" />
          </div>
          <div class="small">
            {a.statusCode ? `HTTP ${a.statusCode}` : "no answer"} in {duration(a.latency)}
            {a.error && <span class="text-bad"> · {a.error}</span>}
            {a.nextRetryTime && <> · next attempt {absolute(a.nextRetryTime)}</>}
          </div>
        </li>
      ))}
    </ol>
  );
}
