import { useState } from "preact/hooks";
import { ApiError, call, type v1FieldMappings, type v1Source, type v1Template } from "../api/client";
import { absolute, plural } from "../format";
import { cleanMappings, mappingFields, MappingsEditor } from "../parts/Mappings";
import { LivePreview } from "../parts/Preview";
import { TestEvent } from "../parts/TestEvent";
import { Link, navigate, query } from "../router";
import {
  act,
  Badge,
  Button,
  ButtonLink,
  Chips,
  CopyField,
  ErrorBanner,
  Facts,
  Loading,
  notify,
  PageHeader,
  SelectField,
  TextField,
  Time,
  useConfirm,
  useLoad,
} from "../ui";

/** One source: where to point the provider, its secret, its settings, a test event. */
export function SourceDetail({ id }: { id: string }) {
  const { data, error, loading, setData } = useLoad(
    async (signal) => {
      const source = await call("SourceService_GetSource", { path: { id }, signal });
      let template: v1Template | undefined;
      try {
        template = await call("TemplateService_GetTemplate", { path: { id: source.templateId ?? "" }, signal });
      } catch {
        template = undefined;
      }
      return { source, template };
    },
    [id],
  );
  const [confirmEl, confirm] = useConfirm();
  const [busy, setBusy] = useState(false);
  const created = query().get("created") === "1";
  if (loading && !data) return <Loading what="the source" />;
  if (!data)
    return (
      <>
        <PageHeader title="Source" back={{ href: "/sources", label: "Sources" }} />
        <ErrorBanner error={error} />
      </>
    );
  const { source: s, template } = data;
  const disabled = s.status === "STATUS_DISABLED";
  const setSource = (source: v1Source) => setData({ source, template });

  const toggle = async () => {
    await act(async () => {
      setSource(await call("SourceService_UpdateSource", { path: { "source.id": id }, body: { status: disabled ? "STATUS_ACTIVE" : "STATUS_DISABLED" } }));
      notify(disabled ? "Source enabled: it accepts webhooks again." : "Source disabled: its webhooks are refused.");
    }, setBusy);
  };
  const remove = async () => {
    const ok = await confirm({
      title: `Delete ${s.displayName}?`,
      body: (
        <p>
          The source and its secrets are deleted; webhooks sent to its URL are refused with 404 from then on. Receipts already recorded stay
          until they age out.
        </p>
      ),
      confirm: "Delete source",
      danger: true,
    });
    if (!ok) return;
    await act(async () => {
      await call("SourceService_DeleteSource", { path: { id } });
      notify(`Source ${s.displayName} deleted.`);
      navigate("/sources");
    });
  };

  return (
    <>
      {confirmEl}
      <PageHeader
        title={s.displayName || "Source"}
        back={{ href: "/sources", label: "Sources" }}
        subtitle={
          <>
            <Badge value={s.status} prefix="STATUS_" /> {template?.displayName ?? s.templateId} · metric <code>{s.metricId || "—"}</code>
          </>
        }
        actions={
          <>
            <ButtonLink href={`/sources/${id}/requests`} variant="primary">
              Requests
            </ButtonLink>
            <Button onClick={toggle} busy={busy}>
              {disabled ? "Enable" : "Disable"}
            </Button>
            <Button variant="danger" onClick={remove}>
              Delete
            </Button>
          </>
        }
      />
      {created && (
        <p class="banner banner-ok" role="status">
          Source created. Copy the webhook URL into {template?.displayName ?? "the provider"}'s dashboard, then send a test event.
        </p>
      )}
      <div class="grid-2">
        <section class="card" aria-labelledby="connect-title">
          <h2 id="connect-title">Connect {template?.displayName ?? "the provider"}</h2>
          <CopyField
            id="webhook-url"
            label="Webhook URL"
            value={s.webhookUrl ?? ""}
            hint={`Paste it as the endpoint URL in ${template?.displayName ?? "the provider"}'s webhook settings.`}
          />
          {template?.references?.map((r) => (
            <p key={r}>
              <a href={r} target="_blank" rel="noopener noreferrer">
                {template.displayName} webhook docs<span class="sr-only"> (opens in a new tab)</span> ↗
              </a>
            </p>
          ))}
          <Facts
            items={[
              ["Source id", <code>{s.id}</code>],
              ["Created", <Time iso={s.createTime} />],
              ["Updated", <Time iso={s.updateTime} />],
              [
                "Data planes",
                s.dataPlanesConnected
                  ? `${s.dataPlanesCurrent ?? 0} of ${plural(s.dataPlanesConnected, "connected data plane")} run this version`
                  : "none connected",
              ],
            ]}
          />
        </section>
        <TestEvent sourceId={id} />
      </div>
      <Secrets source={s} onChange={setSource} />
      <Settings key={s.updateTime} source={s} template={template} onSaved={setSource} />
    </>
  );
}

const ttlOptions: Array<[string, string]> = [
  ["0s", "stops now"],
  ["3600s", "1 hour"],
  ["86400s", "24 hours"],
  ["604800s", "7 days"],
];

function Secrets({ source: s, onChange }: { source: v1Source; onChange: (s: v1Source) => void }) {
  const [secret, setSecret] = useState("");
  const [ttl, setTtl] = useState("3600s");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const apiErr = error instanceof ApiError ? error : undefined;
  const rotate = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onChange(await call("SourceService_RotateSecret", { path: { id: s.id! }, body: { secret, previousSecretTtl: ttl } }));
      setSecret("");
      notify("Secret rotated. Replay the requests the old secret rejected from Requests.");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const secrets = s.secrets ?? [];
  return (
    <section class="card" aria-labelledby="secrets-title">
      <h2 id="secrets-title">Signing secrets</h2>
      <p class="hint">Secrets are write-only: only a fingerprint of each is shown. Any secret listed here verifies a webhook.</p>
      {secrets.length === 0 ? (
        <p class="banner banner-warn">No active secret: every webhook is rejected as secret_missing. Rotate one in below.</p>
      ) : (
        <div class="table-wrap">
          <table class="table compact">
            <thead>
              <tr>
                <th scope="col">Fingerprint</th>
                <th scope="col">Added</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {secrets.map((x, i) => (
                <tr key={x.id}>
                  <td>
                    <code>{x.fingerprint}</code> {i === 0 && <span class="badge badge-info">current</span>}
                  </td>
                  <td>
                    <Time iso={x.createTime} />
                  </td>
                  <td>{x.expireTime ? <time dateTime={x.expireTime}>{absolute(x.expireTime)}</time> : <span class="muted">never</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="rotate" onSubmit={rotate} aria-label="Rotate the signing secret" autocomplete="off">
        {error && !apiErr?.forField("secret", "previous_secret_ttl") && <ErrorBanner error={error} />}
        <TextField
          id="rotate-secret"
          label="New signing secret"
          type="password"
          value={secret}
          onInput={setSecret}
          error={apiErr?.forField("secret")}
          autoComplete="off"
          spellcheck={false}
        />
        <SelectField
          id="rotate-ttl"
          label="The previous secrets"
          value={ttl}
          onChange={setTtl}
          options={ttlOptions.map(([v, l]) => [v, v === "0s" ? "stop working now" : `keep working for ${l}`])}
          error={apiErr?.forField("previous_secret_ttl")}
          hint="Keep the old secret working while the provider switches over."
        />
        <Button type="submit" variant="primary" busy={busy}>
          Rotate secret
        </Button>
      </form>
    </section>
  );
}

function Settings({ source: s, template, onSaved }: { source: v1Source; template?: v1Template; onSaved: (s: v1Source) => void }) {
  const [name, setName] = useState(s.displayName ?? "");
  const [metric, setMetric] = useState(s.metricId ?? "");
  const [eventTypes, setEventTypes] = useState<string[]>(s.eventFilter?.eventTypes ?? []);
  const [mappings, setMappings] = useState<v1FieldMappings>(s.fieldMappings ?? {});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const apiErr = error instanceof ApiError ? error : undefined;
  const err = (f: string) => apiErr?.forField(f) ?? "";
  const draft = cleanMappings(mappings);
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    // The update mask is taken from the body: a mapping removed is sent
    // as null so that it is cleared, not left as it was.
    const fm: Record<string, unknown> = { ...draft, properties: draft.properties ?? {} };
    for (const [key] of mappingFields) if (!(key in draft)) fm[key] = null;
    try {
      const saved = await call("SourceService_UpdateSource", {
        path: { "source.id": s.id! },
        body: { displayName: name, metricId: metric, eventFilter: { eventTypes }, fieldMappings: fm as v1FieldMappings },
      });
      onSaved(saved);
      notify("Source saved; the data planes have it within seconds.");
    } catch (err) {
      setError(err);
      setTimeout(() => (document.querySelector("[aria-invalid=true]") as HTMLElement | null)?.focus(), 0);
    } finally {
      setBusy(false);
    }
  };
  const known = ["source.display_name", "source.metric_id", "source.event_filter", "source.field_mappings"];
  return (
    <div class="split">
      <form class="card form" onSubmit={save} aria-labelledby="settings-title" noValidate>
        <h2 id="settings-title">Settings</h2>
        {apiErr && apiErr.unclaimed(known).length > 0 && <ErrorBanner error={new ApiError(400, "", 3, apiErr.unclaimed(known))} />}
        {error && !apiErr && <ErrorBanner error={error} />}
        <TextField id="edit-name" label="Display name" value={name} onInput={setName} error={err("source.display_name")} />
        <TextField id="edit-metric" label="Metric id" value={metric} onInput={setMetric} error={err("source.metric_id")} />
        <Chips
          id="edit-event-types"
          label="Event types"
          values={eventTypes}
          onChange={setEventTypes}
          error={err("source.event_filter")}
          hint="Exact names or prefix.* wildcards. None keeps every event."
        />
        <h3>Field mappings</h3>
        <MappingsEditor idPrefix="edit-map" value={mappings} onChange={setMappings} errorFor={(f) => err(`source.field_mappings.${f}`)} />
        <div class="form-actions">
          <Button type="submit" variant="primary" busy={busy}>
            Save changes
          </Button>
          <Link href={`/sources/${s.id}/requests`}>See what arrived</Link>
        </div>
      </form>
      <LivePreview
        idPrefix="edit"
        sourceId={s.id}
        draftKey={JSON.stringify([draft, eventTypes])}
        initialBody={template?.samplePayload ?? "{}"}
        contentType={template?.sampleContentType ?? "application/json"}
        run={(sample, signal) =>
          call("SourceService_PreviewMapping", {
            path: { id: s.id! },
            body: { body: sample.body, headers: sample.headers, contentType: sample.contentType, fieldMappings: draft, eventFilter: { eventTypes } },
            signal,
          })
        }
      />
    </div>
  );
}
