import { signal } from "@preact/signals";

// The API key lives in this tab's memory and in sessionStorage, which the
// browser keeps per tab and origin and deletes when the tab closes: a
// reload does not sign out, closing the tab does, and no other tab or
// later session sees the key. It never goes into a URL (so never into
// history, logs or a Referer), a cookie (sent without asking) or
// localStorage (kept after the tab). What could read sessionStorage is a
// script of this origin, and the Content-Security-Policy admits no script
// but the console's own.
const storageKey = "plugs.console.apiKey";

function stored(): string {
  try {
    return sessionStorage.getItem(storageKey) ?? "";
  } catch {
    return "";
  }
}

/** The key every API call carries; empty when signed out. */
export const apiKey = signal(stored());

/** Why the last session ended, shown on the sign-in screen. */
export const signedOutBecause = signal("");

export function signIn(key: string) {
  signedOutBecause.value = "";
  apiKey.value = key;
  try {
    sessionStorage.setItem(storageKey, key);
  } catch {
    // Storage refused (private mode): the key lives in memory only.
  }
}

export function signOut(reason = "") {
  signedOutBecause.value = reason;
  apiKey.value = "";
  try {
    sessionStorage.removeItem(storageKey);
  } catch {
    // Nothing stored.
  }
}

/** The public part of a key ("plg_" and 12 characters), to show who is signed in. */
export function keyPrefix(key: string): string {
  return key.startsWith("plg_") ? key.slice(0, 16) : key.slice(0, 4);
}
