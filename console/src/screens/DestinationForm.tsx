import { useState } from "preact/hooks";
import { ApiError, call, listAll, type v1Destination, type DestinationSignatureStyle, type v1Source } from "../api/client";
import { navigate } from "../router";
import { Button, ErrorBanner, Loading, notify, PageHeader, SelectField, TextField, useLoad } from "../ui";

const fields = [
  "destination.display_name",
  "destination.url",
  "destination.shared_key",
  "destination.signature_style",
  "destination.signature_header",
  "destination.source_ids",
];

/** Creating a destination, or editing one (id set). */
export function DestinationForm({ id }: { id?: string }) {
  const { data, error, loading } = useLoad(async (signal) => {
    const [sources, dest] = await Promise.all([
      listAll("SourceService_ListSources", (r) => r.sources, { signal }),
      id ? call("DestinationService_GetDestination", { path: { id }, signal }) : Promise.resolve(undefined),
    ]);
    return { sources, dest };
  }, [id]);
  return (
    <>
      <PageHeader
        title={id ? `Edit ${data?.dest?.displayName ?? "destination"}` : "New destination"}
        back={id ? { href: `/destinations/${id}`, label: data?.dest?.displayName ?? "Destination" } : { href: "/destinations", label: "Destinations" }}
      />
      <ErrorBanner error={error} />
      {loading && !data && <Loading what="the form" />}
      {data && <Form key={id ?? "new"} dest={data.dest} sources={data.sources} />}
    </>
  );
}

function Form({ dest, sources }: { dest?: v1Destination; sources: v1Source[] }) {
  const [name, setName] = useState(dest?.displayName ?? "");
  const [url, setUrl] = useState(dest?.url ?? "https://");
  const [key, setKey] = useState("");
  const [style, setStyle] = useState<string>(dest?.signatureStyle && dest.signatureStyle !== "SIGNATURE_STYLE_UNSPECIFIED" ? dest.signatureStyle : "SIGNATURE_STYLE_STANDARD_WEBHOOKS");
  const [header, setHeader] = useState(dest?.signatureHeader ?? "");
  const [routed, setRouted] = useState<string[]>(dest?.sourceIds ?? []);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const apiErr = error instanceof ApiError ? error : undefined;
  const err = (f: string) => apiErr?.forField(f) ?? "";
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: v1Destination = {
      displayName: name,
      url,
      signatureStyle: style as DestinationSignatureStyle,
      signatureHeader: style === "SIGNATURE_STYLE_HUB" ? header : "",
      sourceIds: routed,
    };
    if (key || !dest) body.sharedKey = key;
    try {
      const saved = dest
        ? await call("DestinationService_UpdateDestination", { path: { "destination.id": dest.id! }, body })
        : await call("DestinationService_CreateDestination", { body });
      setKey("");
      notify(dest ? "Destination saved." : "Destination created: usage events are delivered to it from now on.");
      navigate(`/destinations/${saved.id}`);
    } catch (e) {
      setError(e);
      setTimeout(() => (document.querySelector("[aria-invalid=true]") as HTMLElement | null)?.focus(), 0);
    } finally {
      setBusy(false);
    }
  };
  const unclaimed = apiErr?.unclaimed(fields) ?? [];
  return (
    <form class="card form narrow" onSubmit={submit} noValidate aria-label={dest ? "Edit destination" : "New destination"} autocomplete="off">
      {unclaimed.length > 0 && <ErrorBanner error={new ApiError(400, "", 3, unclaimed)} />}
      {error && !apiErr && <ErrorBanner error={error} />}
      <TextField id="dest-name" label="Display name" value={name} onInput={setName} error={err("destination.display_name")} />
      <TextField
        id="dest-url"
        label="URL"
        type="url"
        value={url}
        onInput={setUrl}
        error={err("destination.url")}
        hint="Where usage events are POSTed as signed CloudEvents. HTTPS, unless the operator allows a development host."
      />
      <TextField
        id="dest-key"
        label="Shared key"
        type="password"
        value={key}
        onInput={setKey}
        error={err("destination.shared_key")}
        autoComplete="off"
        spellcheck={false}
        hint={
          dest
            ? `Write-only. Leave empty to keep the current key (${dest.sharedKeyFingerprint ?? "fingerprint unknown"}).`
            : "Write-only: your pipeline verifies each delivery with it. whsec_… keys are base64 after the prefix."
        }
      />
      <SelectField
        id="dest-style"
        label="Signature style"
        value={style}
        onChange={setStyle}
        error={err("destination.signature_style")}
        options={[
          ["SIGNATURE_STYLE_STANDARD_WEBHOOKS", "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)"],
          ["SIGNATURE_STYLE_HUB", "Hub (sha256=<hex HMAC of the body> in one header)"],
        ]}
      />
      {style === "SIGNATURE_STYLE_HUB" && (
        <TextField
          id="dest-header"
          label="Signature header"
          value={header}
          onInput={setHeader}
          error={err("destination.signature_header")}
          placeholder="X-Hub-Signature-256"
        />
      )}
      <fieldset class={`field ${err("destination.source_ids") ? "has-error" : ""}`} aria-describedby="dest-sources-hint">
        <legend>Routed sources</legend>
        <p class="hint" id="dest-sources-hint">
          None ticked: every source of the tenant, including sources added later.
        </p>
        {sources.length === 0 && <p class="muted small">No sources yet.</p>}
        <ul class="check-list">
          {sources.map((s) => (
            <li key={s.id}>
              <label class="inline-check">
                <input
                  type="checkbox"
                  checked={routed.includes(s.id!)}
                  onChange={(e) => setRouted((e.target as HTMLInputElement).checked ? [...routed, s.id!] : routed.filter((x) => x !== s.id))}
                />
                {s.displayName} <span class="muted small">{s.templateId}</span>
              </label>
            </li>
          ))}
        </ul>
        {err("destination.source_ids") && (
          <p class="field-error" role="alert">
            {err("destination.source_ids")}
          </p>
        )}
      </fieldset>
      <div class="form-actions">
        <Button type="submit" variant="primary" busy={busy}>
          {dest ? "Save changes" : "Create destination"}
        </Button>
      </div>
    </form>
  );
}
