import { signal } from "@preact/signals";
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api/client";
import { absolute, enumWord, relative } from "./format";
import { Link } from "./router";

// The console's building blocks: fields with their errors, buttons,
// dialogs, badges, notices. Every control has a label; errors are tied to
// their control with aria-describedby and announced.

/** Loads data when deps change; reload runs it again. Aborts the call left behind. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    fn(ctl.signal).then(
      (d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e) => {
        if (ctl.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData };
}

/** Runs fn every ms while the tab is visible. */
export function useInterval(fn: () => void, ms: number | null) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => {
      if (document.visibilityState === "visible") saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

export function PageHeader(props: { title: string; subtitle?: ComponentChildren; back?: { href: string; label: string }; actions?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        {props.back && (
          <Link class="back" href={props.back.href}>
            ← {props.back.label}
          </Link>
        )}
        <h1>{props.title}</h1>
        {props.subtitle && <p class="subtitle">{props.subtitle}</p>}
      </div>
      {props.actions && <div class="actions">{props.actions}</div>}
    </header>
  );
}

type ButtonProps = Omit<JSX.ButtonHTMLAttributes<HTMLButtonElement>, "type"> & {
  variant?: "primary" | "secondary" | "danger" | "ghost";
  busy?: boolean;
  type?: "button" | "submit";
  disabled?: boolean;
};

export function Button({ variant = "secondary", busy, class: cls, type = "button", disabled, children, ...rest }: ButtonProps) {
  return (
    <button type={type} class={`btn btn-${variant} ${cls ?? ""}`} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {busy && <span class="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
}

export function ButtonLink(props: { href: string; variant?: "primary" | "secondary"; children: ComponentChildren }) {
  return (
    <Link class={`btn btn-${props.variant ?? "secondary"}`} href={props.href}>
      {props.children}
    </Link>
  );
}

interface FieldProps {
  id: string;
  label: string;
  hint?: ComponentChildren;
  error?: string;
  children: (describedBy: string | undefined, invalid: boolean) => ComponentChildren;
  class?: string;
}

/** A label, a control, a hint and the API's error for the control. */
export function Field({ id, label, hint, error, children, class: cls }: FieldProps) {
  const ids = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field ${error ? "has-error" : ""} ${cls ?? ""}`}>
      <label for={id}>{label}</label>
      {children(ids, !!error)}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "onInput" | "label" | "value" | "type"> & {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  hint?: ComponentChildren;
  error?: string;
  type?: string;
};

export function TextField({ id, label, value, onInput, hint, error, type = "text", class: cls, ...rest }: InputProps) {
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(describedBy, invalid) => (
        <input
          id={id}
          class={cls}
          type={type}
          value={value}
          onInput={(e) => onInput((e.target as HTMLInputElement).value)}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          {...rest}
        />
      )}
    </Field>
  );
}

type AreaProps = Omit<JSX.TextareaHTMLAttributes<HTMLTextAreaElement>, "onInput" | "label" | "value"> & {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  hint?: ComponentChildren;
  error?: string;
};

export function TextArea({ id, label, value, onInput, hint, error, class: cls, ...rest }: AreaProps) {
  return (
    <Field id={id} label={label} hint={hint} error={error}>
      {(describedBy, invalid) => (
        <textarea
          id={id}
          class={cls}
          value={value}
          onInput={(e) => onInput((e.target as HTMLTextAreaElement).value)}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          spellcheck={false}
          {...rest}
        />
      )}
    </Field>
  );
}

export function SelectField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  options: Array<[value: string, label: string]>;
  hint?: ComponentChildren;
  error?: string;
  class?: string;
}) {
  return (
    <Field id={props.id} label={props.label} hint={props.hint} error={props.error} class={props.class}>
      {(describedBy, invalid) => (
        <select
          id={props.id}
          value={props.value}
          onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
        >
          {props.options.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function Checkbox(props: { id: string; label: ComponentChildren; checked: boolean; onChange: (v: boolean) => void; hint?: string }) {
  return (
    <div class="checkbox">
      <input
        id={props.id}
        type="checkbox"
        checked={props.checked}
        onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
      />
      <label for={props.id}>{props.label}</label>
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

/** Values as removable chips; Enter or a comma adds what was typed. */
export function Chips(props: {
  id: string;
  label: string;
  values: string[];
  onChange: (v: string[]) => void;
  hint?: ComponentChildren;
  error?: string;
  placeholder?: string;
}) {
  const [draft, setDraft] = useState("");
  const add = (raw: string) => {
    const parts = raw
      .split(/[,\s]+/)
      .map((s) => s.trim())
      .filter(Boolean)
      .filter((s) => !props.values.includes(s));
    if (parts.length) props.onChange([...props.values, ...parts]);
    setDraft("");
  };
  return (
    <Field id={props.id} label={props.label} hint={props.hint} error={props.error}>
      {(describedBy, invalid) => (
        <div class={`chips ${invalid ? "invalid" : ""}`}>
          <ul class="chip-list" aria-label={`${props.label}: ${props.values.length || "none"}`}>
            {props.values.map((v) => (
              <li class="chip" key={v}>
                <span>{v}</span>
                <button type="button" aria-label={`Remove ${v}`} onClick={() => props.onChange(props.values.filter((x) => x !== v))}>
                  ×
                </button>
              </li>
            ))}
          </ul>
          <input
            id={props.id}
            value={draft}
            placeholder={props.placeholder}
            aria-describedby={describedBy}
            aria-invalid={invalid || undefined}
            onInput={(e) => {
              const v = (e.target as HTMLInputElement).value;
              if (v.includes(",")) add(v);
              else setDraft(v);
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                add(draft);
              } else if (e.key === "Backspace" && draft === "" && props.values.length) {
                props.onChange(props.values.slice(0, -1));
              }
            }}
            onBlur={() => draft && add(draft)}
          />
        </div>
      )}
    </Field>
  );
}

/** An error not tied to a field: what the API said, announced. */
export function ErrorBanner({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  let text = error instanceof Error ? error.message : String(error);
  let list: string[] = [];
  if (error instanceof ApiError && error.violations.length) {
    list = error.violations.map((v) => `${v.field}: ${v.description}`);
    text = title ?? "The request was not accepted:";
  }
  return (
    <div class="banner banner-error" role="alert">
      <p>{title && !list.length ? `${title} ${text}` : text}</p>
      {list.length > 0 && (
        <ul>
          {list.map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Empty(props: { title: string; children?: ComponentChildren; action?: ComponentChildren }) {
  return (
    <div class="empty">
      <h2>{props.title}</h2>
      {props.children && <p>{props.children}</p>}
      {props.action}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

const outcomeClass: Record<string, string> = {
  accepted: "good",
  delivered: "good",
  active: "good",
  duplicate: "neutral",
  filtered: "neutral",
  handshake: "info",
  retrying: "warn",
  paused: "warn",
  disabled: "neutral",
  running: "info",
  succeeded: "good",
  cancelled: "neutral",
  rejected: "bad",
  failed: "bad",
  "dead lettered": "bad",
};

/** An enum value as a coloured label: OUTCOME_REJECTED → "rejected" in red. */
export function Badge({ value, prefix }: { value: string | undefined; prefix: string }) {
  const word = enumWord(value, prefix) || "unknown";
  return <span class={`badge badge-${outcomeClass[word] ?? "neutral"}`}>{word}</span>;
}

export function Time({ iso }: { iso: string | undefined }) {
  if (!iso) return <span class="muted">never</span>;
  return (
    <time dateTime={iso} title={absolute(iso)}>
      {relative(iso)}
    </time>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <Button
      variant="secondary"
      aria-label={label}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // Without clipboard access (plain http on another host), the
          // field next to the button can be selected by hand.
          notify("Copy failed: select the text and copy it by hand.", "error");
          return;
        }
        setDone(true);
        setTimeout(() => setDone(false), 2000);
      }}
    >
      {done ? "Copied" : "Copy"}
    </Button>
  );
}

/** A value shown read-only with a copy button, e.g. the webhook URL. */
export function CopyField({ id, label, value, hint }: { id: string; label: string; value: string; hint?: ComponentChildren }) {
  return (
    <Field id={id} label={label} hint={hint}>
      {(describedBy) => (
        <div class="copy-field">
          <input id={id} readOnly value={value} aria-describedby={describedBy} onFocus={(e) => (e.target as HTMLInputElement).select()} />
          <CopyButton text={value} label={`Copy ${label.toLowerCase()}`} />
        </div>
      )}
    </Field>
  );
}

/** An error as a person reads it. */
export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs a button's action: busy while it runs, its error shown as a notice.
 * Resolves whether it succeeded.
 */
export async function act(fn: () => Promise<unknown>, setBusy?: (busy: boolean) => void): Promise<boolean> {
  setBusy?.(true);
  try {
    await fn();
    return true;
  } catch (e) {
    notify(message(e), "error");
    return false;
  } finally {
    setBusy?.(false);
  }
}

interface Notice {
  id: number;
  text: string;
  kind: "info" | "error";
}

export const notices = signal<Notice[]>([]);
let noticeSeq = 0;

/** Shows a short message in the corner, read out by screen readers. */
export function notify(text: string, kind: "info" | "error" = "info") {
  const id = ++noticeSeq;
  notices.value = [...notices.value, { id, text, kind }];
  setTimeout(() => {
    notices.value = notices.value.filter((n) => n.id !== id);
  }, 6000);
}

export function Notices() {
  return (
    <div class="notices" aria-live="polite" role="status">
      {notices.value.map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`}>
          {n.text}
        </div>
      ))}
    </div>
  );
}

interface ConfirmOptions {
  title: string;
  body: ComponentChildren;
  confirm: string;
  danger?: boolean;
}

/** A modal question; ask resolves true when confirmed. Escape cancels. */
export function useConfirm(): [JSX.Element, (o: ConfirmOptions) => Promise<boolean>] {
  const ref = useRef<HTMLDialogElement>(null);
  const [opts, setOpts] = useState<ConfirmOptions | null>(null);
  const resolver = useRef<((v: boolean) => void) | null>(null);
  const close = (v: boolean) => {
    ref.current?.close();
    resolver.current?.(v);
    resolver.current = null;
    setOpts(null);
  };
  useEffect(() => {
    if (opts && ref.current && !ref.current.open) ref.current.showModal();
  }, [opts]);
  const el = (
    <dialog ref={ref} class="dialog" aria-labelledby="confirm-title" onCancel={() => close(false)}>
      {opts && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            close(true);
          }}
        >
          <h2 id="confirm-title">{opts.title}</h2>
          <div class="dialog-body">{opts.body}</div>
          <div class="dialog-actions">
            <Button onClick={() => close(false)}>Cancel</Button>
            <Button type="submit" variant={opts.danger ? "danger" : "primary"} autofocus>
              {opts.confirm}
            </Button>
          </div>
        </form>
      )}
    </dialog>
  );
  const ask = (o: ConfirmOptions) =>
    new Promise<boolean>((resolve) => {
      resolver.current = resolve;
      setOpts(o);
    });
  return [el, ask];
}

/** A modal with arbitrary content; closing it calls onClose. */
export function Modal(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} class={`dialog ${props.wide ? "dialog-wide" : ""}`} aria-labelledby="modal-title" onCancel={props.onClose} onClose={props.onClose}>
      {props.open && (
        <>
          <div class="dialog-head">
            <h2 id="modal-title">{props.title}</h2>
            <button type="button" class="close" aria-label="Close" onClick={props.onClose}>
              ×
            </button>
          </div>
          {props.children}
        </>
      )}
    </dialog>
  );
}

export function Pager(props: {
  hasPrev: boolean;
  hasNext: boolean;
  onPrev: () => void;
  onNext: () => void;
  label: string;
  newestFirst?: boolean;
}) {
  if (!props.hasPrev && !props.hasNext) return null;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <Button onClick={props.onPrev} disabled={!props.hasPrev}>
        ← {props.newestFirst ? "Newer" : "Previous"}
      </Button>
      <Button onClick={props.onNext} disabled={!props.hasNext}>
        {props.newestFirst ? "Older" : "Next"} →
      </Button>
    </nav>
  );
}

/** A definition list of label/value pairs. */
export function Facts({ items }: { items: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v ?? <span class="muted">—</span>}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A text filter applied on Enter or when leaving the field, not on each key. */
export function SearchField(props: { id: string; label: string; value: string; onCommit: (v: string) => void }) {
  const [v, setV] = useState(props.value);
  useEffect(() => setV(props.value), [props.value]);
  const commit = () => v.trim() !== props.value && props.onCommit(v.trim());
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="search"
        value={v}
        onInput={(e) => setV((e.target as HTMLInputElement).value)}
        onKeyDown={(e) => e.key === "Enter" && commit()}
        onBlur={commit}
      />
    </div>
  );
}
