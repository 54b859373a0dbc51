import { call, type v1Source, type v1SourceStats } from "../api/client";
import { count } from "../format";
import { cursor, Link } from "../router";
import { Badge, ButtonLink, Empty, ErrorBanner, Loading, PageHeader, Pager, Time, useLoad } from "../ui";

const pageSize = 50;

/** The sources of the tenant with their last day, a page at a time. */
export function Sources() {
  const page = cursor();
  const token = page.token;
  const { data, error, loading } = useLoad(
    async (signal) => {
      const page = await call("SourceService_ListSources", { query: { pageSize, pageToken: token }, signal });
      const sources = page.sources ?? [];
      let stats: Record<string, v1SourceStats> = {};
      if (sources.length) {
        const r = await call("StatsService_BatchGetSourceStats", { query: { sourceIds: sources.map((s) => s.id!) }, signal });
        stats = Object.fromEntries((r.sourceStats ?? []).map((s) => [s.sourceId!, s]));
      }
      return { sources, stats, next: page.nextPageToken ?? "" };
    },
    [token],
  );
  return (
    <>
      <PageHeader
        title="Sources"
        subtitle="Each source is one provider sending webhooks: its template, signing secret, event filter and mappings."
        actions={<ButtonLink href="/sources/new" variant="primary">New source</ButtonLink>}
      />
      <ErrorBanner error={error} />
      {loading && !data && <Loading what="sources" />}
      {data && data.sources.length === 0 && !token && (
        <Empty
          title="No sources yet"
          action={<ButtonLink href="/sources/new" variant="primary">Create your first source</ButtonLink>}
        >
          A source receives one provider's webhooks. Pick the provider's template, paste its signing secret and copy the webhook URL into
          the provider's dashboard.
        </Empty>
      )}
      {data && data.sources.length > 0 && (
        <div class="table-wrap">
          <table class="table">
            <caption class="sr-only">Sources, oldest first, with webhooks of the last 24 hours</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Template</th>
                <th scope="col">Created</th>
                <th scope="col">Last webhook</th>
                <th scope="col" class="num">
                  Accepted 24 h
                </th>
                <th scope="col" class="num">
                  Rejected 24 h
                </th>
                <th scope="col">
                  <span class="sr-only">Links</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.sources.map((s) => (
                <SourceRow key={s.id} source={s} stats={data.stats[s.id!]} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && <Pager label="Sources" hasPrev={page.hasPrev} hasNext={!!data.next} onPrev={page.prev} onNext={() => page.next(data.next)} />}
    </>
  );
}

function SourceRow({ source: s, stats }: { source: v1Source; stats?: v1SourceStats }) {
  const w = stats?.webhooks ?? {};
  const accepted = count(w.accepted);
  const rejected = count(w.rejected);
  return (
    <tr>
      <th scope="row">
        <Link href={`/sources/${s.id}`}>{s.displayName || s.id}</Link>
        {s.metricId && <div class="muted small">metric {s.metricId}</div>}
      </th>
      <td>
        <Badge value={s.status} prefix="STATUS_" />
      </td>
      <td>{s.templateId}</td>
      <td>
        <Time iso={s.createTime} />
      </td>
      <td>
        <Time iso={stats?.lastReceiveTime} />
      </td>
      <td class="num">{accepted.toLocaleString()}</td>
      <td class={`num ${rejected ? "text-bad" : ""}`}>{rejected.toLocaleString()}</td>
      <td>
        <Link href={`/sources/${s.id}/requests`}>Requests</Link>
      </td>
    </tr>
  );
}
