import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, call, type v1Receipt, type v1ReceiptOutcome, type v1ReplayOperation } from "../api/client";
import { absolute, causes, count, duration, enumWord, isoOf, plural } from "../format";
import { TestEvent } from "../parts/TestEvent";
import { cursor, Link, loc, query, setQuery } from "../router";
import { act, Badge, Button, Checkbox, Empty, ErrorBanner, Loading, Modal, notify, PageHeader, Pager, SearchField, useInterval, useLoad } from "../ui";

const pageSize = 50;
const outcomes: v1ReceiptOutcome[] = ["OUTCOME_ACCEPTED", "OUTCOME_DUPLICATE", "OUTCOME_FILTERED", "OUTCOME_REJECTED", "OUTCOME_HANDSHAKE"];

/** The filters of the list, as the URL holds them. */
interface Filter {
  outcome: string;
  cause: string;
  eventType: string;
  providerEventId: string;
  from: string; // datetime-local, the browser's zone
  to: string;
}

function readFilter(q: URLSearchParams): Filter {
  return {
    outcome: q.get("outcome") ?? "",
    cause: q.get("cause") ?? "",
    eventType: q.get("eventType") ?? "",
    providerEventId: q.get("providerEventId") ?? "",
    from: q.get("from") ?? "",
    to: q.get("to") ?? "",
  };
}

/** The filter as the API's query (and bulk replay's body) takes it. */
function apiFilter(f: Filter) {
  return {
    outcome: (f.outcome || undefined) as v1ReceiptOutcome | undefined,
    cause: f.cause || undefined,
    eventType: f.eventType || undefined,
    providerEventId: f.providerEventId || undefined,
    startTime: isoOf(f.from),
    endTime: isoOf(f.to),
  };
}

function describe(f: Filter): string {
  const parts: string[] = [];
  if (f.outcome) parts.push(`outcome ${enumWord(f.outcome, "OUTCOME_")}`);
  if (f.cause) parts.push(`cause ${f.cause}`);
  if (f.eventType) parts.push(`event type ${f.eventType}`);
  if (f.providerEventId) parts.push(`provider event id ${f.providerEventId}`);
  if (f.from) parts.push(`from ${f.from.replace("T", " ")}`);
  if (f.to) parts.push(`before ${f.to.replace("T", " ")}`);
  return parts.length ? parts.join(", ") : "every request";
}

/** An RFC 3339 UTC time with its fraction padded to nanoseconds, so that times compare as strings. */
function timeKey(iso: string | undefined): string {
  if (!iso) return "";
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(iso);
  return m ? `${m[1]}.${(m[2] ?? "").padEnd(9, "0")}Z` : iso;
}

/** The list's order: receive time, then id, both descending. */
function newestFirst(a: v1Receipt, b: v1Receipt): number {
  const ta = timeKey(a.receiveTime);
  const tb = timeKey(b.receiveTime);
  if (ta !== tb) return ta < tb ? 1 : -1;
  return (a.id ?? "") < (b.id ?? "") ? 1 : -1;
}

/** A source's requests (receipts), newest first, with filters, live mode and replays. */
export function Requests({ sourceId }: { sourceId: string }) {
  const q = query();
  const filter = readFilter(q);
  const page = cursor();
  const live = q.get("live") === "1";
  const filterKey = JSON.stringify(filter);
  const source = useLoad((signal) => call("SourceService_GetSource", { path: { id: sourceId }, signal }), [sourceId]);
  const list = useLoad(
    (signal) =>
      call("ReceiptService_ListReceipts", {
        path: { sourceId },
        query: { ...apiFilter(filter), pageSize, pageToken: page.token },
        signal,
      }),
    [sourceId, filterKey, page.token],
  );
  const [rows, setRows] = useState<v1Receipt[]>([]);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [newer, setNewer] = useState(0);
  const [replayOpen, setReplayOpen] = useState(false);
  const [testOpen, setTestOpen] = useState(false);
  useEffect(() => {
    setRows(list.data?.receipts ?? []);
    setFresh(new Set());
    setNewer(0);
  }, [list.data]);

  // Live: receipts newer than the newest shown come in at the top, with
  // the scroll position moved by their height so the rows being read stay
  // where they are. Away from the first page they are only counted.
  const tableRef = useRef<HTMLTableSectionElement>(null);
  const anchor = useRef<{ y: number; height: number } | null>(null);
  useInterval(
    async () => {
      const newest = rows[0]?.receiveTime;
      // Indexing can lag a little and not in order: look 30 s back and
      // keep what is not shown yet.
      const since = newest ? new Date(Date.parse(newest) - 30_000).toISOString() : undefined;
      const f = apiFilter(filter);
      const startTime = f.startTime && since ? (f.startTime > since ? f.startTime : since) : (since ?? f.startTime);
      try {
        const r = await call("ReceiptService_ListReceipts", { path: { sourceId }, query: { ...f, startTime, pageSize: 100 } });
        const shown = new Set(rows.map((x) => x.id));
        const add = (r.receipts ?? []).filter((x) => !shown.has(x.id));
        if (!add.length) return;
        if (page.token) {
          setNewer((n) => n + add.length);
          return;
        }
        const body = tableRef.current;
        if (body && window.scrollY > 0) anchor.current = { y: window.scrollY, height: document.documentElement.scrollHeight };
        const merged = [...add, ...rows].sort(newestFirst);
        setRows(merged);
        setFresh(new Set([...fresh, ...add.map((x) => x.id!)]));
      } catch {
        // The next tick tries again.
      }
    },
    live && !list.loading ? 2000 : null,
  );
  useLayoutEffect(() => {
    const a = anchor.current;
    if (!a) return;
    anchor.current = null;
    window.scrollTo(0, a.y + (document.documentElement.scrollHeight - a.height));
  }, [rows]);

  const set = (changes: Partial<Filter>) => setQuery({ ...changes, page: undefined, prev: undefined });
  const hasFilter = Object.values(filter).some(Boolean);
  const back = loc.value.search;

  return (
    <>
      <PageHeader
        title="Requests"
        back={{ href: `/sources/${sourceId}`, label: source.data?.displayName ?? "Source" }}
        subtitle="Every request that reached this source, newest first: what arrived, what became of it and why."
        actions={
          <>
            <Button onClick={() => setTestOpen(true)}>Send test event</Button>
            <Button variant="primary" onClick={() => setReplayOpen(true)}>
              Replay matching…
            </Button>
          </>
        }
      />
      <ReplayOperations sourceId={sourceId} onDone={list.reload} />
      <form class="filters card" onSubmit={(e) => e.preventDefault()} aria-label="Filter requests">
        <div class="field">
          <label for="f-outcome">Outcome</label>
          <select id="f-outcome" value={filter.outcome} onChange={(e) => set({ outcome: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {outcomes.map((o) => (
              <option key={o} value={o}>
                {enumWord(o, "OUTCOME_")}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-cause">Cause</label>
          <select id="f-cause" value={filter.cause} onChange={(e) => set({ cause: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {Object.keys(causes).map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <SearchField id="f-type" label="Event type" value={filter.eventType} onCommit={(v) => set({ eventType: v })} />
        <SearchField id="f-event" label="Provider event id" value={filter.providerEventId} onCommit={(v) => set({ providerEventId: v })} />
        <div class="field">
          <label for="f-from">From</label>
          <input id="f-from" type="datetime-local" step={1} value={filter.from} onChange={(e) => set({ from: (e.target as HTMLInputElement).value })} />
        </div>
        <div class="field">
          <label for="f-to">Before</label>
          <input id="f-to" type="datetime-local" step={1} value={filter.to} onChange={(e) => set({ to: (e.target as HTMLInputElement).value })} />
        </div>
        <div class="filter-actions">
          <label class="inline-check live-toggle">
            <input type="checkbox" checked={live} onChange={(e) => setQuery({ live: (e.target as HTMLInputElement).checked ? "1" : undefined })} />
            Live
          </label>
          {hasFilter && (
            <Button
              variant="ghost"
              onClick={() => setQuery({ outcome: undefined, cause: undefined, eventType: undefined, providerEventId: undefined, from: undefined, to: undefined, page: undefined, prev: undefined })}
            >
              Clear filters
            </Button>
          )}
        </div>
      </form>
      {list.error instanceof ApiError && list.error.violations.length ? <ErrorBanner error={list.error} title="The filter was refused:" /> : <ErrorBanner error={list.error} />}
      {live && (
        <p class="live-status" role="status">
          <span class="dot" aria-hidden="true" /> Live: new requests appear as they arrive.
          {newer > 0 && (
            <>
              {" "}
              {plural(newer, "newer request")} ·{" "}
              <Link href={`/sources/${sourceId}/requests?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filter).filter(([, v]) => v)), live: "1" })}`}>
                go to the newest
              </Link>
            </>
          )}
        </p>
      )}
      {list.loading && !list.data && <Loading what="requests" />}
      {list.data && rows.length === 0 && (
        <Empty title={hasFilter ? "No request matches" : "No requests yet"}>
          {hasFilter
            ? "Widen the filters, or clear them."
            : "Point the provider at the source's webhook URL, or send a test event: every request that reaches the source shows up here."}
        </Empty>
      )}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table class="table requests">
            <caption class="sr-only">Requests, newest first, {describe(filter)}</caption>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Outcome</th>
                <th scope="col">Cause</th>
                <th scope="col">Event type</th>
                <th scope="col">Provider event id</th>
                <th scope="col" class="num hide-narrow">
                  Status
                </th>
                <th scope="col" class="num hide-narrow">
                  Latency
                </th>
              </tr>
            </thead>
            <tbody ref={tableRef}>
              {rows.map((r) => (
                <tr key={r.id} class={fresh.has(r.id!) ? "fresh" : ""}>
                  <td class="nowrap">
                    <Link href={`/sources/${sourceId}/requests/${r.id}${back}`}>{absolute(r.receiveTime)}</Link>
                    {r.replay && <span class="badge badge-info">replay</span>}
                    {(r as { test?: boolean }).test && <span class="badge badge-info">test</span>}
                  </td>
                  <td>
                    <Badge value={r.outcome} prefix="OUTCOME_" />
                  </td>
                  <td>{r.cause ? <span title={causes[r.cause]}>{r.cause}</span> : <span class="muted">—</span>}</td>
                  <td>{r.eventType || <span class="muted">—</span>}</td>
                  <td class="mono small">{r.providerEventId || <span class="muted">—</span>}</td>
                  <td class="num hide-narrow">{r.statusCode}</td>
                  <td class="num hide-narrow">{duration(r.latency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && <Pager label="Requests" newestFirst hasPrev={page.hasPrev} hasNext={!!list.data.nextPageToken} onPrev={page.prev} onNext={() => page.next(list.data!.nextPageToken!)} />}
      <BulkReplay open={replayOpen} onClose={() => setReplayOpen(false)} sourceId={sourceId} filter={filter} onStarted={list.reload} />
      <Modal title="Send a test event" open={testOpen} onClose={() => setTestOpen(false)}>
        <TestEvent sourceId={sourceId} onSent={list.reload} />
      </Modal>
    </>
  );
}

function BulkReplay(props: { open: boolean; onClose: () => void; sourceId: string; filter: Filter; onStarted: () => void }) {
  const [bypass, setBypass] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const start = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const op = await call("ReceiptService_ReplayReceipts", {
        path: { sourceId: props.sourceId },
        body: { ...apiFilter(props.filter), bypassDedup: bypass },
      });
      notify(`Replaying ${plural(op.totalCount ?? 0, "request")}.`);
      props.onStarted();
      props.onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title="Replay the matching requests" open={props.open} onClose={props.onClose}>
      <div class="dialog-body">
        <p>
          Runs <strong>{describe(props.filter)}</strong> received until now through the pipeline again, oldest first, with the source's current
          secrets and mappings. Replays themselves are not replayed.
        </p>
        <Checkbox
          id="bulk-bypass"
          label="Bypass dedup"
          checked={bypass}
          onChange={setBypass}
          hint="Store events again even if their provider event id was stored already (the stored event id gets a #replay suffix)."
        />
        <ErrorBanner error={error} title="The replay could not start:" />
      </div>
      <div class="dialog-actions">
        <Button onClick={props.onClose}>Cancel</Button>
        <Button variant="primary" busy={busy} onClick={start}>
          Start replay
        </Button>
      </div>
    </Modal>
  );
}

/** The bulk replays of the source: progress bars of the running ones, the last finished one. */
function ReplayOperations({ sourceId, onDone }: { sourceId: string; onDone: () => void }) {
  const ops = useLoad((signal) => call("ReceiptService_ListReplayOperations", { query: { sourceId, pageSize: 5 }, signal }), [sourceId]);
  const list = ops.data?.operations ?? [];
  const running = list.filter((o) => o.state === "STATE_RUNNING");
  const wasRunning = useRef<Set<string>>(new Set());
  useInterval(ops.reload, running.length ? 1000 : 10000);
  useEffect(() => {
    const now = new Set(running.map((o) => o.id!));
    for (const id of wasRunning.current) if (!now.has(id)) onDone();
    wasRunning.current = now;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ops.data]);
  const latest = list[0];
  const show = running.length ? running : latest && Date.now() - Date.parse(latest.endTime ?? latest.updateTime ?? "") < 10 * 60_000 ? [latest] : [];
  if (!show.length) return null;
  return (
    <section aria-label="Bulk replays">
      {show.map((o) => (
        <ReplayProgress key={o.id} op={o} onChange={ops.reload} />
      ))}
    </section>
  );
}

function ReplayProgress({ op, onChange }: { op: v1ReplayOperation; onChange: () => void }) {
  const total = op.totalCount ?? 0;
  const done = op.processedCount ?? 0;
  const running = op.state === "STATE_RUNNING";
  const [busy, setBusy] = useState(false);
  const cancel = async () => {
    await act(async () => {
      await call("ReceiptService_CancelReplayOperation", { path: { id: op.id! }, body: {} });
      onChange();
    }, setBusy);
  };
  const counts = [
    ["accepted", op.acceptedCount],
    ["duplicate", op.duplicateCount],
    ["filtered", op.filteredCount],
    ["rejected again", op.rejectedCount],
    ["failed", op.failedCount],
  ].filter(([, n]) => count(n as number) > 0);
  return (
    <div class="card replay-op" data-testid="replay-operation" data-state={op.state}>
      <div class="card-head">
        <h2>
          Bulk replay <Badge value={op.state} prefix="STATE_" />
        </h2>
        {running && (
          <Button variant="danger" busy={busy} onClick={cancel}>
            Cancel replay
          </Button>
        )}
      </div>
      <label class="progress-label" for={`progress-${op.id}`}>
        {done.toLocaleString()} of {plural(total, "request")} replayed
      </label>
      <progress id={`progress-${op.id}`} max={Math.max(total, 1)} value={total ? done : running ? undefined : 1} />
      <p class="small">
        {counts.length ? counts.map(([w, n]) => `${count(n as number).toLocaleString()} ${w}`).join(" · ") : "Nothing replayed yet."}
        {op.error && <span class="text-bad"> · {op.error}</span>}
      </p>
    </div>
  );
}
