import { signal } from "@preact/signals";
import type { ComponentChildren, JSX } from "preact";

// A small history-API router: the location is a signal, links push a new
// entry, and filters live in the query string so a view can be shared.

function current() {
  return { path: location.pathname, search: location.search };
}

export const loc = signal(current());

window.addEventListener("popstate", () => {
  loc.value = current();
});

/** Goes to a path in the console; replace keeps the history entry. */
export function navigate(to: string, replace = false) {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  loc.value = current();
  if (!replace) window.scrollTo(0, 0);
}

/** The query parameters of the current location. */
export function query(): URLSearchParams {
  return new URLSearchParams(loc.value.search);
}

/** Sets some query parameters (empty or undefined removes one) in place. */
export function setQuery(changes: Record<string, string | undefined>, replace = true) {
  const q = query();
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === "") q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(loc.value.path + (s ? `?${s}` : ""), replace);
}

/** Matches a path against a pattern such as "/sources/:id"; null if it does not. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}

type LinkProps = JSX.AnchorHTMLAttributes<HTMLAnchorElement> & { href: string; children?: ComponentChildren };

/** An anchor that navigates in place; modified clicks open a new tab as usual. */
export function Link({ href, onClick, ...rest }: LinkProps) {
  return (
    <a
      href={href}
      onClick={(e) => {
        if (onClick) (onClick as (e: MouseEvent) => void)(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
      {...rest}
    />
  );
}

/**
 * Cursor paging kept in the URL, beside the filters: "page" is the token of
 * the page shown, "prev" the tokens of the pages before it, so Back and a
 * shared link show the same page.
 */
export function cursor() {
  const q = query();
  const token = q.get("page") ?? "";
  const prev = q.getAll("prev");
  const go = (page: string, prevs: string[]) => {
    const n = query();
    n.delete("page");
    n.delete("prev");
    if (page) n.set("page", page);
    prevs.forEach((p) => n.append("prev", p));
    const s = n.toString();
    navigate(loc.value.path + (s ? `?${s}` : ""));
  };
  return {
    token,
    hasPrev: prev.length > 0,
    next: (t: string) => go(t, [...prev, token]),
    prev: () => go(prev[prev.length - 1] ?? "", prev.slice(0, -1)),
  };
}
