import { useEffect, useState } from "preact/hooks";
import { call, type v1PreviewMappingResponse, type v1Receipt } from "../api/client";
import { absolute, base64Text, enumWord, prettyJSON } from "../format";
import { ErrorBanner, TextArea } from "../ui";

export interface Sample {
  body: string;
  headers: Record<string, string>;
  contentType: string;
}

/** "Name: value" lines as a header map; lines without a colon are skipped. */
function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * The usage event a sample payload maps to, with each field's error,
 * asked of the API (:previewMapping, the data plane's own code) a moment
 * after each change to the sample or to the draft (draftKey).
 */
export function LivePreview(props: {
  idPrefix: string;
  draftKey: string;
  run: (s: Sample, signal: AbortSignal) => Promise<v1PreviewMappingResponse>;
  initialBody: string;
  contentType: string;
  /** Offers the source's recent receipts as samples. */
  sourceId?: string;
}) {
  const [body, setBody] = useState(() => prettyJSON(props.initialBody).text);
  const [headersText, setHeadersText] = useState("");
  const [contentType, setContentType] = useState(props.contentType || "application/json");
  const [resp, setResp] = useState<v1PreviewMappingResponse | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [recent, setRecent] = useState<v1Receipt[]>([]);

  useEffect(() => {
    if (!props.sourceId) return;
    const ctl = new AbortController();
    call("ReceiptService_ListReceipts", { path: { sourceId: props.sourceId }, query: { pageSize: 20 }, signal: ctl.signal })
      .then((r) => setRecent((r.receipts ?? []).filter((x) => x.method === "POST")))
      .catch(() => setRecent([]));
    return () => ctl.abort();
  }, [props.sourceId]);

  useEffect(() => {
    const ctl = new AbortController();
    setBusy(true);
    const t = setTimeout(() => {
      props
        .run({ body, headers: parseHeaders(headersText), contentType }, ctl.signal)
        .then((r) => {
          setResp(r);
          setError(undefined);
        })
        .catch((e) => {
          if (!ctl.signal.aborted) {
            setError(e);
            setResp(undefined);
          }
        })
        .finally(() => !ctl.signal.aborted && setBusy(false));
    }, 250);
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [body, headersText, contentType, props.draftKey]);

  const pick = async (id: string) => {
    if (!id) return;
    try {
      const r = await call("ReceiptService_GetReceipt", { path: { id } });
      setBody(base64Text(r.body));
      const hs = (r.headers ?? []).filter((h) => h.name && !/^(content-length|host|user-agent|accept-encoding)$/i.test(h.name));
      const ct = hs.find((h) => h.name!.toLowerCase() === "content-type")?.values?.[0];
      if (ct) setContentType(ct);
      setHeadersText(
        hs
          .filter((h) => h.name!.toLowerCase() !== "content-type")
          .map((h) => `${h.name}: ${(h.values ?? []).join(", ")}`)
          .join("\n"),
      );
    } catch (e) {
      setError(e);
    }
  };

  const fieldErrors = resp?.fieldErrors ?? [];
  return (
    <section class="preview" aria-labelledby={`${props.idPrefix}-preview-title`}>
      <h2 id={`${props.idPrefix}-preview-title`}>Live preview</h2>
      <p class="hint">What the data plane would make of this payload with the mappings and filter as they stand. Nothing is stored or sent.</p>
      {props.sourceId && (
        <div class="field">
          <label for={`${props.idPrefix}-recent`}>Use a recent request</label>
          <select id={`${props.idPrefix}-recent`} onChange={(e) => pick((e.target as HTMLSelectElement).value)} disabled={!recent.length}>
            <option value="">{recent.length ? "Pick one of the last requests…" : "No requests received yet"}</option>
            {recent.map((r) => (
              <option key={r.id} value={r.id}>
                {absolute(r.receiveTime)} · {enumWord(r.outcome, "OUTCOME_")} · {r.eventType || r.cause || "no event type"}
              </option>
            ))}
          </select>
        </div>
      )}
      <TextArea
        id={`${props.idPrefix}-sample`}
        label="Sample payload"
        class="mono"
        rows={12}
        value={body}
        onInput={setBody}
        hint="Paste a payload the provider sends; the preview follows as you type."
      />
      <details>
        <summary>Headers and content type</summary>
        <TextArea
          id={`${props.idPrefix}-headers`}
          label="Headers, one per line"
          class="mono"
          rows={3}
          value={headersText}
          onInput={setHeadersText}
          placeholder="X-Customer-Id: cus_123"
        />
        <div class="field">
          <label for={`${props.idPrefix}-ctype`}>Content type</label>
          <input id={`${props.idPrefix}-ctype`} value={contentType} onInput={(e) => setContentType((e.target as HTMLInputElement).value)} />
        </div>
      </details>
      <div class="preview-result" aria-live="polite" aria-busy={busy}>
        <ErrorBanner error={error} title="The preview was refused:" />
        {resp?.parseError && (
          <p class="banner banner-error" data-testid="preview-parse-error">
            The body does not parse: {resp.parseError}
          </p>
        )}
        {resp?.filtered && (
          <p class="banner banner-warn" data-testid="preview-filtered">
            The event filter drops this event: the data plane would answer 200 and keep nothing.
          </p>
        )}
        {fieldErrors.length > 0 && (
          <div data-testid="preview-field-errors">
            <h3>Field errors</h3>
            <ul class="field-errors">
              {fieldErrors.map((f) => (
                <li key={f.field} class={f.required ? "text-bad" : ""}>
                  <code>{f.field}</code> {f.required ? "(required: the webhook would be rejected)" : "(optional)"}: {f.description}
                </li>
              ))}
            </ul>
          </div>
        )}
        {resp?.event && (
          <div data-testid="preview-event">
            <h3>Usage event</h3>
            <pre class="code">{JSON.stringify(resp.event, null, 2)}</pre>
          </div>
        )}
        {resp && !resp.event && !resp.parseError && !resp.filtered && (
          <p class="banner banner-error">No usage event: a required field could not be mapped.</p>
        )}
      </div>
    </section>
  );
}
