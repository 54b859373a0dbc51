import { call, type v1Overview } from "../api/client";
import { count, explainCause, plural } from "../format";
import { MinuteChart, series } from "../parts/Chart";
import { Link } from "../router";
import { ButtonLink, Empty, ErrorBanner, Loading, PageHeader, Time, useInterval, useLoad } from "../ui";

/** The tenant's last day at a glance, and the data planes. */
export function Overview() {
  const { data, error, loading, reload } = useLoad(async (signal) => {
    const [overview, planes, sources] = await Promise.all([
      call("StatsService_GetOverview", { signal }),
      call("DataPlaneService_ListDataPlanes", { signal }).catch((e) => ({ error: e as unknown })),
      call("SourceService_ListSources", { query: { pageSize: 1 }, signal }),
    ]);
    return { overview, planes, hasSources: (sources.sources ?? []).length > 0 };
  }, []);
  useInterval(reload, 30_000);
  return (
    <>
      <PageHeader title="Overview" subtitle="The last 24 hours of webhooks and deliveries. Refreshes every 30 seconds." />
      <ErrorBanner error={error} />
      {loading && !data && <Loading what="the overview" />}
      {data && !data.hasSources && (
        <Empty title="No sources yet" action={<ButtonLink href="/sources/new" variant="primary">Create your first source</ButtonLink>}>
          Plugs receives webhooks on sources: pick a provider, paste its signing secret, copy the webhook URL into its dashboard.
        </Empty>
      )}
      {data && <Stats o={data.overview} />}
      {data && <Planes planes={data.planes} />}
    </>
  );
}

function Stats({ o }: { o: v1Overview }) {
  const w = o.webhooks ?? {};
  const total = series.reduce((s, [k]) => s + count(w[k] as string), 0);
  const d = o.deliveries ?? {};
  const dead = o.deadLetterCount;
  const causes = o.rejectionCauses ?? [];
  return (
    <>
      <div class="tiles">
        <div class="tile">
          <span class="tile-label">Webhooks</span>
          <span class="tile-value">{total.toLocaleString()}</span>
          <span class="small muted">{count(w.accepted).toLocaleString()} accepted</span>
        </div>
        <div class={`tile ${count(w.rejected) ? "tile-bad" : ""}`}>
          <span class="tile-label">Rejected</span>
          <span class="tile-value">{count(w.rejected).toLocaleString()}</span>
          <span class="small muted">{total ? `${((count(w.rejected) / total) * 100).toFixed(1)}% of webhooks` : "none received"}</span>
        </div>
        <div class="tile">
          <span class="tile-label">Deliveries</span>
          <span class="tile-value">{count(d.delivered).toLocaleString()}</span>
          <span class="small muted">
            delivered · {count(d.retrying).toLocaleString()} retrying · {count(d.deadLettered).toLocaleString()} dead-lettered
          </span>
        </div>
        <div class={`tile ${count(dead) ? "tile-bad" : ""}`}>
          <span class="tile-label">Dead letters waiting</span>
          <span class="tile-value">{dead === undefined ? "—" : count(dead).toLocaleString()}</span>
          <span class="small muted">{dead === undefined ? "backbone not reachable" : <Link href="/destinations">by destination</Link>}</span>
        </div>
      </div>
      <section class="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Webhooks per minute</h2>
        <MinuteChart start={o.startTime ?? new Date(Date.now() - 86400000).toISOString()} end={o.endTime ?? new Date().toISOString()} minutes={o.minutes ?? []} />
      </section>
      <section class="card" aria-labelledby="causes-title">
        <h2 id="causes-title">Top rejection causes</h2>
        {causes.length === 0 ? (
          <p class="muted">No webhook was rejected in the last 24 hours.</p>
        ) : (
          <ol class="causes">
            {causes.map((c) => (
              <li key={c.cause}>
                <div class="cause-head">
                  <strong>{c.cause}</strong>
                  <span>{plural(count(c.count), "webhook")}</span>
                </div>
                <meter min={0} max={count(causes[0].count)} value={count(c.count)} aria-label={`${c.cause}: ${count(c.count)}`} />
                <p class="small muted">{explainCause(c.cause)}</p>
              </li>
            ))}
          </ol>
        )}
        {causes.length > 0 && <p class="small">Open a source's Requests and filter by cause to see them, fix the cause, then replay.</p>}
      </section>
    </>
  );
}

function Planes({ planes }: { planes: Awaited<ReturnType<typeof call<"DataPlaneService_ListDataPlanes">>> | { error: unknown } }) {
  if ("error" in planes) {
    return (
      <section class="card" aria-labelledby="planes-title">
        <h2 id="planes-title">Data planes</h2>
        <ErrorBanner error={planes.error} title="The data planes could not be listed:" />
      </section>
    );
  }
  const list = planes.dataPlanes ?? [];
  return (
    <section class="card" aria-labelledby="planes-title">
      <h2 id="planes-title">Data planes</h2>
      <p class="hint">
        The configuration version the control plane serves now: <code>{planes.currentVersion ?? "—"}</code>. A data plane that runs an older
        one has not caught up yet, or rejected a newer one.
      </p>
      {list.length === 0 ? (
        <p class="muted">No data plane seen in the last day: webhooks reach nothing until one connects.</p>
      ) : (
        <div class="table-wrap">
          <table class="table compact">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Zone</th>
                <th scope="col">State</th>
                <th scope="col">Runs version</th>
                <th scope="col">Last seen</th>
                <th scope="col">Rejected</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.nodeId}>
                  <th scope="row" class="mono">
                    {p.nodeId}
                  </th>
                  <td>{p.zone || <span class="muted">—</span>}</td>
                  <td>{p.connected ? <span class="badge badge-good">connected</span> : <span class="badge badge-neutral">gone</span>}</td>
                  <td>
                    <code>{p.ackedVersion || "none yet"}</code>{" "}
                    {p.ackedVersion === planes.currentVersion ? <span class="badge badge-good">current</span> : <span class="badge badge-warn">behind</span>}
                  </td>
                  <td>
                    <Time iso={p.lastSeenTime} />
                  </td>
                  <td class="small">{p.nackVersion ? <span class="text-bad">version {p.nackVersion}: {p.nackError}</span> : <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
