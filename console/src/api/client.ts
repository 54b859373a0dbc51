import { apiKey, signOut } from "../auth";
import { routes, type Operations } from "./schema.gen";

export type * from "./schema.gen";

/** A field the API rejected, by its request path such as "source.display_name". */
export interface FieldViolation {
  field: string;
  description: string;
}

/** An answer other than 2xx, with the google.rpc details that came with it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: number,
    readonly violations: FieldViolation[],
  ) {
    super(message);
  }

  /** The violations of a field and the fields under it, in words. */
  forField(...fields: string[]): string {
    return this.violations
      .filter((v) => fields.some((f) => v.field === f || v.field.startsWith(f + ".") || v.field.startsWith(f + "[")))
      .map((v) => v.description)
      .join("; ");
  }

  /** The violations no field in fields covers, for a message above a form. */
  unclaimed(fields: string[]): FieldViolation[] {
    return this.violations.filter(
      (v) => !fields.some((f) => v.field === f || v.field.startsWith(f + ".") || v.field.startsWith(f + "[")),
    );
  }
}

type Args<K extends keyof Operations> = {
  path?: Operations[K]["path"];
  query?: Operations[K]["query"];
  body?: Operations[K]["body"];
  signal?: AbortSignal;
  /** A key to try instead of the signed-in one (signing in). */
  key?: string;
};

/** Calls an operation of the API with the signed-in key. */
export async function call<K extends keyof Operations>(op: K, args: Args<K> = {}): Promise<Operations[K]["response"]> {
  const route = routes[op];
  const pathParams = (args.path ?? {}) as Record<string, string>;
  let url = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(pathParams[name] ?? ""));
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries((args.query ?? {}) as Record<string, unknown>)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
    else q.set(k, String(v));
  }
  const qs = q.toString();
  if (qs) url += `?${qs}`;
  const headers: Record<string, string> = { Accept: "application/json" };
  const key = args.key ?? apiKey.peek();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (args.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(args.body);
  }
  let resp: Response;
  try {
    resp = await fetch(url, {
      method: route.method,
      headers,
      body,
      signal: args.signal,
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "The control plane did not answer. Is it running?", 14, []);
  }
  const text = await resp.text();
  let data: unknown = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!resp.ok) {
    const err = toError(resp.status, data);
    if (resp.status === 401 && key && args.key === undefined) signOut("The API key was refused: it may have been revoked. Sign in again.");
    throw err;
  }
  return data as Operations[K]["response"];
}

function toError(status: number, data: unknown): ApiError {
  const d = (data ?? {}) as { code?: number; message?: string; details?: Array<Record<string, unknown>> };
  const violations: FieldViolation[] = [];
  for (const detail of d.details ?? []) {
    if (String(detail["@type"] ?? "").endsWith("google.rpc.BadRequest")) {
      for (const v of (detail.fieldViolations ?? []) as FieldViolation[]) {
        violations.push({ field: v.field ?? "", description: v.description ?? "" });
      }
    }
  }
  const message =
    status === 429
      ? "Too many requests with this key; try again in a moment."
      : d.message || `The control plane answered ${status}.`;
  return new ApiError(status, message, d.code ?? 0, violations);
}

/** Reads every page of a list operation (templates, for example). */
export async function listAll<K extends keyof Operations, T>(
  op: K,
  pick: (r: Operations[K]["response"]) => T[] | undefined,
  args: Args<K> = {},
): Promise<T[]> {
  const out: T[] = [];
  let token = "";
  for (let i = 0; i < 100; i++) {
    const r = await call(op, { ...args, query: { ...(args.query ?? {}), pageSize: 1000, pageToken: token } as Operations[K]["query"] });
    out.push(...(pick(r) ?? []));
    token = (r as { nextPageToken?: string }).nextPageToken ?? "";
    if (!token) break;
  }
  return out;
}
