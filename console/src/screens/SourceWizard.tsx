import { useMemo, useState } from "preact/hooks";
import { ApiError, call, listAll, type v1FieldMappings, type v1Template } from "../api/client";
import { cleanMappings, MappingsEditor } from "../parts/Mappings";
import { LivePreview } from "../parts/Preview";
import { navigate, query, setQuery } from "../router";
import { Button, Chips, ErrorBanner, Loading, PageHeader, TextField, useLoad } from "../ui";

/** Every template, loaded once per page view. */
function useTemplates() {
  return useLoad((signal) => listAll("TemplateService_ListTemplates", (r) => r.templates, { signal }), []);
}

/** Creating a source: pick a provider, then fill in the form beside a live preview. */
export function SourceWizard() {
  const templates = useTemplates();
  const chosen = query().get("template") ?? "";
  const tpl = templates.data?.find((t) => t.id === chosen);
  return (
    <>
      <PageHeader
        title="New source"
        back={{ href: "/sources", label: "Sources" }}
        subtitle={tpl ? "Step 2 of 2: how the webhooks are verified and mapped." : "Step 1 of 2: which provider sends the webhooks?"}
      />
      <ErrorBanner error={templates.error} />
      {templates.loading && <Loading what="templates" />}
      {templates.data && !tpl && <TemplatePicker templates={templates.data} onPick={(id) => setQuery({ template: id }, false)} />}
      {tpl && <SourceForm key={tpl.id} template={tpl} />}
    </>
  );
}

function TemplatePicker({ templates, onPick }: { templates: v1Template[]; onPick: (id: string) => void }) {
  const [q, setQ] = useState("");
  const shown = useMemo(() => {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    return templates.filter((t) => {
      const hay = `${t.id} ${t.displayName} ${t.description}`.toLowerCase();
      return words.every((w) => hay.includes(w));
    });
  }, [q, templates]);
  return (
    <section aria-labelledby="picker-title">
      <h2 id="picker-title" class="sr-only">
        Provider templates
      </h2>
      <div class="field search">
        <label for="template-search">Search {templates.length} providers</label>
        <input
          id="template-search"
          type="search"
          value={q}
          autoFocus
          placeholder="Stripe, GitHub, Shopify…"
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          aria-controls="template-list"
        />
      </div>
      <p class="muted small" role="status">
        {shown.length === templates.length ? `${templates.length} templates` : `${shown.length} of ${templates.length} templates match`}
        {shown.length === 0 && <> · none matches; the “custom” template takes any HMAC scheme.</>}
      </p>
      <ul class="template-grid" id="template-list">
        {shown.map((t) => (
          <li key={t.id}>
            <button type="button" class="template-card" onClick={() => onPick(t.id!)} aria-describedby={`tpl-${t.id}-desc`}>
              <strong>{t.displayName}</strong>
              <span class="muted small mono">{t.id}</span>
            </button>
            <p id={`tpl-${t.id}-desc`} class="small">
              {t.description}
            </p>
            {t.references?.[0] && (
              <a class="small" href={t.references[0]} target="_blank" rel="noopener noreferrer">
                {t.displayName} docs<span class="sr-only"> (opens in a new tab)</span> ↗
              </a>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

const formFields = [
  "source.display_name",
  "source.metric_id",
  "source.secret",
  "source.event_filter",
  "source.field_mappings",
  "source.template_id",
];

function SourceForm({ template }: { template: v1Template }) {
  const [name, setName] = useState(template.displayName ?? "");
  const [metric, setMetric] = useState("");
  const [secret, setSecret] = useState("");
  const [showSecret, setShowSecret] = useState(false);
  const [eventTypes, setEventTypes] = useState<string[]>([]);
  const [mappings, setMappings] = useState<v1FieldMappings>(template.fieldMappings ?? {});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const apiErr = error instanceof ApiError ? error : undefined;
  const err = (f: string) => apiErr?.forField(f) ?? "";
  const draft = cleanMappings(mappings);
  const draftKey = JSON.stringify([draft, eventTypes, metric]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const src = await call("SourceService_CreateSource", {
        body: {
          displayName: name,
          templateId: template.id,
          metricId: metric,
          secret,
          eventFilter: { eventTypes },
          fieldMappings: draft,
        },
      });
      setSecret("");
      navigate(`/sources/${src.id}?created=1`);
    } catch (e) {
      setError(e);
      // The first field in error gets the focus, so a keyboard user hears it.
      setTimeout(() => (document.querySelector("[aria-invalid=true]") as HTMLElement | null)?.focus(), 0);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="split">
      <form class="card form" onSubmit={submit} aria-labelledby="form-title" noValidate>
        <div class="provider-line">
          <h2 id="form-title">{template.displayName}</h2>
          <Button variant="ghost" onClick={() => setQuery({ template: undefined }, false)}>
            Change provider
          </Button>
        </div>
        <p class="muted small">{template.description}</p>
        {template.references?.map((r) => (
          <p class="small" key={r}>
            <a href={r} target="_blank" rel="noopener noreferrer">
              How {template.displayName} signs webhooks<span class="sr-only"> (opens in a new tab)</span> ↗
            </a>
          </p>
        ))}
        {apiErr && apiErr.unclaimed(formFields).length > 0 && <ErrorBanner error={new ApiError(400, "", 3, apiErr.unclaimed(formFields))} />}
        {error && !apiErr && <ErrorBanner error={error} />}
        <TextField id="source-name" label="Display name" value={name} onInput={setName} error={err("source.display_name")} required />
        <TextField
          id="source-metric"
          label="Metric id"
          value={metric}
          onInput={setMetric}
          error={err("source.metric_id")}
          placeholder="api_calls"
          hint="The billing metric this source's usage events count towards."
        />
        <TextField
          id="source-secret"
          label="Signing secret"
          type={showSecret ? "text" : "password"}
          value={secret}
          onInput={setSecret}
          error={err("source.secret")}
          autoComplete="off"
          spellcheck={false}
          hint={`The secret ${template.displayName} shows for this endpoint. Write-only: once saved, only its fingerprint is shown.`}
        />
        <label class="inline-check">
          <input type="checkbox" checked={showSecret} onChange={(e) => setShowSecret((e.target as HTMLInputElement).checked)} /> Show the
          secret while typing
        </label>
        <Chips
          id="source-event-types"
          label="Event types"
          values={eventTypes}
          onChange={setEventTypes}
          error={err("source.event_filter")}
          placeholder="invoice.paid, customer.subscription.*"
          hint="Exact names or prefix.* wildcards; Enter or a comma adds one. None keeps every event."
        />
        <h3>Field mappings</h3>
        <p class="hint">Prefilled from the {template.displayName} template. JSONPath reads the body; a header or a constant also works.</p>
        <MappingsEditor idPrefix="map" value={mappings} onChange={setMappings} errorFor={(f) => err(`source.field_mappings.${f}`)} />
        <div class="form-actions">
          <Button type="submit" variant="primary" busy={busy}>
            Create source
          </Button>
        </div>
      </form>
      <LivePreview
        idPrefix="wizard"
        draftKey={draftKey}
        initialBody={template.samplePayload ?? ""}
        contentType={template.sampleContentType ?? "application/json"}
        run={(s, signal) =>
          call("TemplateService_PreviewTemplateMapping", {
            path: { id: template.id! },
            body: { body: s.body, headers: s.headers, contentType: s.contentType, fieldMappings: draft, eventFilter: { eventTypes }, metricId: metric },
            signal,
          })
        }
      />
    </div>
  );
}
