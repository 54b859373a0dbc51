import { render } from "preact";
import { useState } from "preact/hooks";
import { call } from "./api/client";
import { apiKey, keyPrefix, signedOutBecause, signIn, signOut } from "./auth";
import { Link, loc, match } from "./router";
import { ApiKeys } from "./screens/ApiKeys";
import { DestinationDetail } from "./screens/DestinationDetail";
import { DestinationForm } from "./screens/DestinationForm";
import { Destinations } from "./screens/Destinations";
import { Overview } from "./screens/Overview";
import { ReceiptDetail } from "./screens/ReceiptDetail";
import { Requests } from "./screens/Requests";
import { SourceDetail } from "./screens/SourceDetail";
import { SourceWizard } from "./screens/SourceWizard";
import { Sources } from "./screens/Sources";
import { Button, message, Notices, TextField } from "./ui";
import "./styles.css";

type Screen = (p: Record<string, string>) => preact.JSX.Element;

// Most specific first.
const screens: Array<[string, Screen]> = [
  ["/", () => <Overview />],
  ["/sources", () => <Sources />],
  ["/sources/new", () => <SourceWizard />],
  ["/sources/:id", (p) => <SourceDetail id={p.id} />],
  ["/sources/:id/requests", (p) => <Requests sourceId={p.id} />],
  ["/sources/:id/requests/:receipt", (p) => <ReceiptDetail sourceId={p.id} receiptId={p.receipt} />],
  ["/destinations", () => <Destinations />],
  ["/destinations/new", () => <DestinationForm />],
  ["/destinations/:id", (p) => <DestinationDetail id={p.id} />],
  ["/destinations/:id/edit", (p) => <DestinationForm id={p.id} />],
  ["/keys", () => <ApiKeys />],
];

function route() {
  const path = loc.value.path.replace(/\/+$/, "") || "/";
  for (const [pattern, screen] of screens) {
    const params = match(pattern, path);
    if (params) return screen(params);
  }
  return (
    <div class="empty">
      <h1>Nothing here</h1>
      <p>
        No page at <code>{path}</code>. <Link href="/">Go to the overview</Link>.
      </p>
    </div>
  );
}

const nav: Array<[string, string]> = [
  ["/", "Overview"],
  ["/sources", "Sources"],
  ["/destinations", "Destinations"],
  ["/keys", "API keys"],
];

function Layout() {
  const path = loc.value.path;
  const active = (href: string) => (href === "/" ? path === "/" : path === href || path.startsWith(href + "/"));
  return (
    <div class="layout">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link class="brand" href="/">
          <img src="/favicon.svg" alt="" width={24} height={24} />
          Plugs
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={active(href) ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="key-prefix" title="The API key this tab is signed in with">
            {keyPrefix(apiKey.value)}…
          </span>
          <Button variant="ghost" onClick={() => signOut("Signed out.")}>
            Sign out
          </Button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route()}
      </main>
      <Notices />
    </div>
  );
}

function SignIn() {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) {
      setError("Paste an API key.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      // Any call proves the key; this one is cheap. The key is kept only
      // once it works.
      await call("ApiKeyService_ListApiKeys", { query: { pageSize: 1 }, key: k });
      setKey("");
      signIn(k);
    } catch (err) {
      const status = (err as { status?: number }).status;
      setError(status === 401 ? "This key was refused. Check that it is complete and not revoked." : message(err));
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} class="card" aria-labelledby="signin-title" autocomplete="off">
        <h1 id="signin-title">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Plugs console
        </h1>
        {signedOutBecause.value && (
          <p class="banner banner-info" role="status">
            {signedOutBecause.value}
          </p>
        )}
        <TextField
          id="api-key"
          label="API key"
          type="password"
          value={key}
          onInput={setKey}
          error={error}
          autoComplete="off"
          spellcheck={false}
          placeholder="plg_…"
          hint={
            <>
              <code>make run</code> prints one and saves it in <code>.plugs/dev-api-key</code>; <code>plugs tokens create</code> makes more.
              The key is kept for this tab only and forgotten when it closes.
            </>
          }
        />
        <Button type="submit" variant="primary" busy={busy}>
          Sign in
        </Button>
      </form>
    </main>
  );
}

function App() {
  if (!apiKey.value) return <SignIn />;
  return <Layout />;
}

render(<App />, document.getElementById("app")!);
