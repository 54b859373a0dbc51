import { call, listAll, type v1DestinationStats } from "../api/client";
import { count, enumWord } from "../format";
import { Link } from "../router";
import { Badge, ButtonLink, Empty, ErrorBanner, Loading, PageHeader, useLoad } from "../ui";

/** Where the tenant's usage events go. */
export function Destinations() {
  const { data, error, loading } = useLoad(async (signal) => {
    const [destinations, overview] = await Promise.all([
      listAll("DestinationService_ListDestinations", (r) => r.destinations, { signal }),
      call("StatsService_GetOverview", { signal }).catch(() => undefined),
    ]);
    const stats: Record<string, v1DestinationStats> = Object.fromEntries((overview?.destinations ?? []).map((d) => [d.destinationId!, d]));
    return { destinations, stats };
  }, []);
  return (
    <>
      <PageHeader
        title="Destinations"
        subtitle="Endpoints of your billing pipeline: each receives the usage events of every source, or of those it lists, signed with a shared key."
        actions={<ButtonLink href="/destinations/new" variant="primary">New destination</ButtonLink>}
      />
      <ErrorBanner error={error} />
      {loading && !data && <Loading what="destinations" />}
      {data && data.destinations.length === 0 && (
        <Empty title="No destinations yet" action={<ButtonLink href="/destinations/new" variant="primary">Add a destination</ButtonLink>}>
          Accepted webhooks are stored, but go nowhere until a destination takes them. Add your billing pipeline's endpoint.
        </Empty>
      )}
      {data && data.destinations.length > 0 && (
        <div class="table-wrap">
          <table class="table">
            <caption class="sr-only">Destinations with delivery attempts of the last 24 hours</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">URL</th>
                <th scope="col">Sources</th>
                <th scope="col" class="num">
                  Delivered 24 h
                </th>
                <th scope="col" class="num">
                  Failed 24 h
                </th>
                <th scope="col" class="num">
                  Dead letters
                </th>
              </tr>
            </thead>
            <tbody>
              {data.destinations.map((d) => {
                const st = data.stats[d.id!];
                const failed = count(st?.deliveries?.retrying) + count(st?.deliveries?.deadLettered);
                return (
                  <tr key={d.id}>
                    <th scope="row">
                      <Link href={`/destinations/${d.id}`}>{d.displayName || d.id}</Link>
                      <div class="muted small">{enumWord(d.signatureStyle, "SIGNATURE_STYLE_") || "standard webhooks"}</div>
                    </th>
                    <td>
                      <Badge value={d.status} prefix="STATUS_" />
                    </td>
                    <td class="mono small break">{d.url}</td>
                    <td>{d.sourceIds?.length ? `${d.sourceIds.length} listed` : "all"}</td>
                    <td class="num">{count(st?.deliveries?.delivered).toLocaleString()}</td>
                    <td class={`num ${failed ? "text-bad" : ""}`}>{failed.toLocaleString()}</td>
                    <td class={`num ${count(st?.deadLetterCount) ? "text-bad" : ""}`}>{count(st?.deadLetterCount).toLocaleString()}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
