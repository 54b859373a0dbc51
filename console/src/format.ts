// How values of the API read in the console.

/** "3 min ago", "in 2 h", or the date for anything older than a week. */
export function relative(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  const say = (n: number, unit: string) => (s < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (a < 5) return "just now";
  if (a < 60) return say(a, "s");
  if (a < 3600) return say(Math.round(a / 60), "min");
  if (a < 86400) return say(Math.round(a / 3600), "h");
  if (a < 7 * 86400) return say(Math.round(a / 86400), a < 1.5 * 86400 ? "day" : "days");
  return absolute(iso);
}

/** A timestamp in the browser's time zone, to the second. */
export function absolute(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A datetime-local value (the browser's zone) as RFC 3339; undefined when empty or invalid. */
export function isoOf(local: string): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/** A protobuf duration ("0.003s") in milliseconds, as people read it. */
export function duration(d: string | undefined): string {
  if (!d) return "";
  const s = parseFloat(d);
  if (Number.isNaN(s)) return d;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${+s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${+(s / 3600).toFixed(1)} h`;
}

/** An int64 of the API (a JSON string) as a number; absent is 0. */
export function count(v: string | number | undefined): number {
  if (v === undefined) return 0;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

export function plural(n: number, one: string, many = one + "s"): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/** An enum value without its prefix, in lower case: "OUTCOME_ACCEPTED" → "accepted". */
export function enumWord(v: string | undefined, prefix: string): string {
  if (!v || v.endsWith("_UNSPECIFIED")) return "";
  return v.replace(prefix, "").toLowerCase().replace(/_/g, " ");
}

/** What a rejection cause means, and what to do about it. */
export const causes: Record<string, string> = {
  source_disabled: "The source is disabled, so the request was refused. Enable the source to accept webhooks again.",
  method_not_allowed: "The request used an HTTP method other than POST.",
  payload_too_large: "The body was larger than the source's size limit.",
  body_unreadable: "The body could not be read to the end: the sender closed the connection or was too slow.",
  secret_missing: "The source has no active signing secret, so nothing could be verified. Rotate in a secret.",
  signature_missing: "The request carried no signature header. Check that the provider signs its webhooks and that the template matches the provider.",
  signature_malformed: "The signature header was there but could not be read (wrong format or encoding). Check the template.",
  signature_stale:
    "The signature's timestamp was too old (or too far in the future): a replay of an old request, or clocks far apart.",
  signature_invalid:
    "The signature did not match any of the source's secrets. Most often the secret pasted here is not the one the provider signs with: copy the signing secret again, rotate it in, then replay.",
  unparsable_payload: "The signature was valid, but the body is not valid JSON (or form data) and could not be mapped.",
  mapping_failed: "The signature was valid, but a required field could not be found in the payload. Fix the field mappings, then replay.",
  backbone_unavailable:
    "The event store (NATS JetStream) was unavailable, so nothing was acknowledged; the provider will retry.",
  rate_limited: "The source's rate limit was exceeded; the sender was told to retry later.",
  not_ready: "The data plane had just started and had no configuration yet; the sender was told to retry.",
};

export function explainCause(cause: string | undefined): string {
  if (!cause) return "";
  return causes[cause] ?? `The data plane reported "${cause}".`;
}

/** Pretty JSON when the text is JSON, the text itself otherwise. */
export function prettyJSON(text: string): { text: string; json: boolean } {
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), json: true };
  } catch {
    return { text, json: false };
  }
}

/** Decodes base64 (bytes fields of the API) to text, replacing invalid UTF-8. */
export function base64Text(b64: string | undefined): string {
  if (!b64) return "";
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** Hex dump of base64 bytes, 16 a line. */
export function hexDump(b64: string | undefined): string {
  if (!b64) return "";
  const bin = atob(b64);
  const lines: string[] = [];
  for (let i = 0; i < bin.length; i += 16) {
    const chunk = bin.slice(i, i + 16);
    const hex = Array.from(chunk, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(chunk, (c) => (c >= " " && c <= "~" ? c : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

/** Encodes text as base64 (for bytes fields). */
export function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  bytes.forEach((b) => (bin += String.fromCharCode(b)));
  return btoa(bin);
}
