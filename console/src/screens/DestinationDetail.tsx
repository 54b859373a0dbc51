import { useEffect, useState } from "preact/hooks";
import { ApiError, call, listAll, type DeadLetterReason, type v1DeliveryAttempt, type v1DeliveryAttemptOutcome } from "../api/client";
import { absolute, duration, enumWord, isoOf, plural } from "../format";
import { cursor, Link, navigate, query, setQuery } from "../router";
import { act, Badge, Button, ButtonLink, Empty, ErrorBanner, Facts, Loading, notify, PageHeader, Pager, SearchField, Time, useConfirm, useLoad } from "../ui";
import { AttemptTimeline } from "./ReceiptDetail";

/** One destination: its settings, pause and delete, the delivery log and the dead letters. */
export function DestinationDetail({ id }: { id: string }) {
  const { data, error, loading, setData } = useLoad(
    async (signal) => {
      const [dest, sources] = await Promise.all([
        call("DestinationService_GetDestination", { path: { id }, signal }),
        listAll("SourceService_ListSources", (r) => r.sources, { signal }),
      ]);
      return { dest, names: Object.fromEntries(sources.map((s) => [s.id!, s.displayName ?? s.id!])) as Record<string, string> };
    },
    [id],
  );
  const [confirmEl, confirm] = useConfirm();
  const [busy, setBusy] = useState(false);
  const tab = query().get("tab") === "dead" ? "dead" : "log";
  if (loading && !data) return <Loading what="the destination" />;
  if (!data)
    return (
      <>
        <PageHeader title="Destination" back={{ href: "/destinations", label: "Destinations" }} />
        <ErrorBanner error={error} />
      </>
    );
  const d = data.dest;
  const paused = d.status === "STATUS_PAUSED";
  const toggle = async () => {
    await act(async () => {
      const dest = await call("DestinationService_UpdateDestination", {
        path: { "destination.id": id },
        body: { status: paused ? "STATUS_ACTIVE" : "STATUS_PAUSED" },
        });
        setData({ ...data, dest });
        notify(paused ? "Destination resumed: held events are delivered now." : "Destination paused: events wait until it is resumed.");
    }, setBusy);
  };
  const remove = async () => {
    const ok = await confirm({
      title: `Delete ${d.displayName}?`,
      body: <p>Events not yet delivered to it are dropped, and its dead letters with them. This cannot be undone.</p>,
      confirm: "Delete destination",
      danger: true,
    });
    if (!ok) return;
    await act(async () => {
      await call("DestinationService_DeleteDestination", { path: { id } });
      notify(`Destination ${d.displayName} deleted.`);
      navigate("/destinations");
    });
  };
  return (
    <>
      {confirmEl}
      <PageHeader
        title={d.displayName || "Destination"}
        back={{ href: "/destinations", label: "Destinations" }}
        subtitle={
          <>
            <Badge value={d.status} prefix="STATUS_" /> <span class="mono small">{d.url}</span>
          </>
        }
        actions={
          <>
            <ButtonLink href={`/destinations/${id}/edit`}>Edit</ButtonLink>
            <Button onClick={toggle} busy={busy}>
              {paused ? "Resume" : "Pause"}
            </Button>
            <Button variant="danger" onClick={remove}>
              Delete
            </Button>
          </>
        }
      />
      {paused && <p class="banner banner-warn">Paused: events are kept for this destination and delivered when it is resumed.</p>}
      <section class="card">
        <Facts
          items={[
            ["URL", <code class="break">{d.url}</code>],
            ["Shared key", <code>{d.sharedKeyFingerprint}</code>],
            ["Signature", enumWord(d.signatureStyle, "SIGNATURE_STYLE_") + (d.signatureHeader ? ` (${d.signatureHeader})` : "")],
            [
              "Sources",
              d.sourceIds?.length ? (
                <ul class="inline-list">
                  {d.sourceIds.map((s) => (
                    <li key={s}>
                      <Link href={`/sources/${s}`}>{data.names[s] ?? s}</Link>
                    </li>
                  ))}
                </ul>
              ) : (
                "every source"
              ),
            ],
            ["Created", <Time iso={d.createTime} />],
          ]}
        />
      </section>
      <div class="tabs" role="tablist" aria-label="Deliveries">
        <button role="tab" type="button" aria-selected={tab === "log"} onClick={() => setQuery({ tab: undefined, page: undefined, prev: undefined }, false)}>
          Delivery log
        </button>
        <button role="tab" type="button" aria-selected={tab === "dead"} onClick={() => setQuery({ tab: "dead", page: undefined, prev: undefined }, false)}>
          Dead letters
        </button>
      </div>
      <div role="tabpanel">{tab === "log" ? <DeliveryLog id={id} names={data.names} /> : <DeadLetters id={id} />}</div>
    </>
  );
}

const attemptOutcomes: v1DeliveryAttemptOutcome[] = ["OUTCOME_DELIVERED", "OUTCOME_RETRYING", "OUTCOME_DEAD_LETTERED"];

function DeliveryLog({ id, names }: { id: string; names: Record<string, string> }) {
  const q = query();
  const page = cursor();
  const f = {
    outcome: q.get("outcome") ?? "",
    usageEventId: q.get("usageEventId") ?? "",
    providerEventId: q.get("providerEventId") ?? "",
    from: q.get("from") ?? "",
    to: q.get("to") ?? "",
  };
  const log = useLoad(
    (signal) =>
      call("DestinationService_ListDeliveries", {
        path: { id },
        query: {
          outcome: (f.outcome || undefined) as v1DeliveryAttemptOutcome | undefined,
          usageEventId: f.usageEventId,
          providerEventId: f.providerEventId,
          startTime: isoOf(f.from),
          endTime: isoOf(f.to),
          pageSize: 50,
          pageToken: page.token,
        },
        signal,
      }),
    [id, JSON.stringify(f), page.token],
  );
  const [open, setOpen] = useState<string>("");
  const set = (c: Record<string, string>) => setQuery({ ...c, page: undefined, prev: undefined });
  const rows = log.data?.deliveries ?? [];
  return (
    <section aria-label="Delivery log">
      <form class="filters card" onSubmit={(e) => e.preventDefault()} aria-label="Filter deliveries">
        <div class="field">
          <label for="d-outcome">Outcome</label>
          <select id="d-outcome" value={f.outcome} onChange={(e) => set({ outcome: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {attemptOutcomes.map((o) => (
              <option key={o} value={o}>
                {enumWord(o, "OUTCOME_")}
              </option>
            ))}
          </select>
        </div>
        <SearchField id="d-usage" label="Usage event id" value={f.usageEventId} onCommit={(v) => set({ usageEventId: v })} />
        <SearchField id="d-provider" label="Provider event id" value={f.providerEventId} onCommit={(v) => set({ providerEventId: v })} />
        <div class="field">
          <label for="d-from">Sent from</label>
          <input id="d-from" type="datetime-local" step={1} value={f.from} onChange={(e) => set({ from: (e.target as HTMLInputElement).value })} />
        </div>
        <div class="field">
          <label for="d-to">Sent before</label>
          <input id="d-to" type="datetime-local" step={1} value={f.to} onChange={(e) => set({ to: (e.target as HTMLInputElement).value })} />
        </div>
        <div class="filter-actions">
          <Button variant="ghost" onClick={log.reload}>
            Refresh
          </Button>
        </div>
      </form>
      <ErrorBanner error={log.error} />
      {log.loading && !log.data && <Loading what="the delivery log" />}
      {log.data && rows.length === 0 && (
        <Empty title="No deliveries logged">Every request made to this destination is logged here, newest first, as usage events arrive.</Empty>
      )}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table class="table">
            <caption class="sr-only">Delivery attempts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Sent</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Outcome</th>
                <th scope="col" class="num">
                  Status
                </th>
                <th scope="col" class="num">
                  Latency
                </th>
                <th scope="col">Error / next retry</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <>
                  <tr key={a.id}>
                    <td class="nowrap">{absolute(a.attemptTime)}</td>
                    <td>
                      <button
                        type="button"
                        class="link-button mono small"
                        aria-expanded={open === a.id}
                        onClick={() => setOpen(open === a.id ? "" : a.id!)}
                        title="Show every attempt of this event"
                      >
                        {a.providerEventId || a.usageEventId}
                      </button>
                      <div class="muted small">
                        {a.eventType} {a.sourceId && names[a.sourceId] ? `· ${names[a.sourceId]}` : ""}
                      </div>
                    </td>
                    <td>{a.attempt}</td>
                    <td>
                      <Badge value={a.outcome} prefix="OUTCOME_" />
                    </td>
                    <td class="num">{a.statusCode || "—"}</td>
                    <td class="num">{duration(a.latency)}</td>
                    <td class="small">
                      {a.error && <span class="text-bad break">{a.error}</span>}
                      {a.nextRetryTime && <div>next {absolute(a.nextRetryTime)}</div>}
                    </td>
                  </tr>
                  {open === a.id && (
                    <tr key={`${a.id}-detail`} class="detail-row">
                      <td colSpan={7}>
                        <EventDeliveries destinationId={id} attempt={a} />
                      </td>
                    </tr>
                  )}
                </>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {log.data && <Pager label="Delivery log" newestFirst hasPrev={page.hasPrev} hasNext={!!log.data.nextPageToken} onPrev={page.prev} onNext={() => page.next(log.data!.nextPageToken!)} />}
    </section>
  );
}

/** Every attempt of one event to the destination, and Retry. */
function EventDeliveries({ destinationId, attempt }: { destinationId: string; attempt: v1DeliveryAttempt }) {
  const all = useLoad(
    (signal) => call("DestinationService_ListDeliveries", { path: { id: destinationId }, query: { usageEventId: attempt.usageEventId, pageSize: 100 }, signal }),
    [attempt.usageEventId],
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const retry = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await call("DestinationService_RetryDelivery", { path: { id: destinationId, usageEventId: attempt.usageEventId! }, body: {} });
      notify("Queued again: the next attempt appears in the log once made.");
      setTimeout(all.reload, 1500);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="event-deliveries">
      <div class="card-head">
        <h3>
          Usage event <code>{attempt.usageEventId}</code>
        </h3>
        <Button busy={busy} onClick={retry}>
          Retry delivery
        </Button>
      </div>
      <ErrorBanner error={error} title="The retry failed:" />
      {all.data ? <AttemptTimeline attempts={all.data.deliveries ?? []} /> : <Loading what="attempts" />}
    </div>
  );
}

const reasons: DeadLetterReason[] = ["REASON_REJECTED", "REASON_ATTEMPTS_EXHAUSTED", "REASON_EXPIRED", "REASON_MALFORMED"];

function DeadLetters({ id }: { id: string }) {
  const page = cursor();
  const dead = useLoad((signal) => call("DestinationService_ListDeadLetters", { path: { id }, query: { pageSize: 50, pageToken: page.token }, signal }), [id, page.token]);
  const [reason, setReason] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [confirmEl, confirm] = useConfirm();
  useEffect(() => setError(undefined), [reason, from, to]);
  const redrive = async (filter: { usageEventIds?: string[] } = {}, what = "") => {
    const all = !filter.usageEventIds;
    const desc = what || [reason && `reason ${enumWord(reason, "REASON_")}`, from && `dead from ${from.replace("T", " ")}`, to && `before ${to.replace("T", " ")}`].filter(Boolean).join(", ") || "every dead letter";
    const ok = await confirm({
      title: "Re-drive dead letters?",
      body: <p>Queues {desc} for delivery again, with attempts counted from 1, and removes them from the dead letters.</p>,
      confirm: "Re-drive",
    });
    if (!ok) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = await call("DestinationService_RedriveDeadLetters", {
        path: { id },
        body: {
          filter: all
            ? { reason: (reason || undefined) as DeadLetterReason | undefined, deadTimeStart: isoOf(from), deadTimeEnd: isoOf(to) }
            : filter,
        },
      });
      notify(`${plural(r.redrivenCount ?? 0, "dead letter")} queued again.`);
      dead.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const letters = dead.data?.deadLetters ?? [];
  const apiErr = error instanceof ApiError ? error : undefined;
  return (
    <section aria-label="Dead letters">
      {confirmEl}
      <form
        class="filters card"
        aria-label="Re-drive dead letters by filter"
        onSubmit={(e) => {
          e.preventDefault();
          redrive();
        }}
      >
        <div class={`field ${apiErr?.forField("filter.reason") ? "has-error" : ""}`}>
          <label for="dl-reason">Reason</label>
          <select id="dl-reason" value={reason} onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {reasons.map((r) => (
              <option key={r} value={r}>
                {enumWord(r, "REASON_")}
              </option>
            ))}
          </select>
        </div>
        <div class={`field ${apiErr?.forField("filter.dead_time_start") ? "has-error" : ""}`}>
          <label for="dl-from">Dead from</label>
          <input id="dl-from" type="datetime-local" step={1} value={from} onChange={(e) => setFrom((e.target as HTMLInputElement).value)} aria-describedby={apiErr?.forField("filter.dead_time_start") ? "dl-err" : undefined} />
        </div>
        <div class={`field ${apiErr?.forField("filter.dead_time_end") ? "has-error" : ""}`}>
          <label for="dl-to">Dead before</label>
          <input id="dl-to" type="datetime-local" step={1} value={to} onChange={(e) => setTo((e.target as HTMLInputElement).value)} aria-describedby={apiErr?.forField("filter.dead_time_end") ? "dl-err" : undefined} />
        </div>
        <div class="filter-actions">
          <Button type="submit" variant="primary" busy={busy} disabled={!letters.length}>
            Re-drive matching
          </Button>
        </div>
        {error && (
          <div id="dl-err" class="full">
            <ErrorBanner error={error} title="The re-drive failed:" />
          </div>
        )}
      </form>
      <ErrorBanner error={dead.error} />
      {dead.loading && !dead.data && <Loading what="dead letters" />}
      {dead.data && letters.length === 0 && !page.token && (
        <Empty title="No dead letters">Deliveries the destination refused, or that failed until their retry policy ran out, are kept here for 30 days.</Empty>
      )}
      {letters.length > 0 && (
        <div class="table-wrap">
          <table class="table">
            <caption class="sr-only">Dead letters, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Dead since</th>
                <th scope="col">Event</th>
                <th scope="col">Reason</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Last answer</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {letters.map((l) => (
                <tr key={`${l.usageEventId}-${l.deadTime}`}>
                  <td class="nowrap">{absolute(l.deadTime)}</td>
                  <td>
                    <span class="mono small">{l.providerEventId || l.usageEventId}</span>
                    <div class="muted small">{l.eventType}</div>
                  </td>
                  <td>
                    <Badge value={l.reason} prefix="REASON_" />
                  </td>
                  <td class="num">{l.attempts}</td>
                  <td class="small">
                    {l.lastStatusCode ? `HTTP ${l.lastStatusCode}` : "no answer"}
                    {l.lastError && <div class="text-bad break">{l.lastError}</div>}
                  </td>
                  <td>
                    {l.usageEventId && (
                      <Button onClick={() => redrive({ usageEventIds: [l.usageEventId!] }, `the dead letter of ${l.providerEventId || l.usageEventId}`)}>
                        Re-drive
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dead.data && <Pager label="Dead letters" hasPrev={page.hasPrev} hasNext={!!dead.data.nextPageToken} onPrev={page.prev} onNext={() => page.next(dead.data!.nextPageToken!)} />}
    </section>
  );
}
