import { useState } from "preact/hooks";
import { ApiError, call, listAll, type v1ApiKey } from "../api/client";
import { apiKey, keyPrefix } from "../auth";
import { act, Button, CopyField, Empty, ErrorBanner, Loading, Modal, notify, PageHeader, TextField, Time, useConfirm, useLoad } from "../ui";

/** The tenant's API keys: create (the token shown once), revoke. */
export function ApiKeys() {
  const keys = useLoad((signal) => listAll("ApiKeyService_ListApiKeys", (r) => r.apiKeys, { signal }), []);
  const [confirmEl, confirm] = useConfirm();
  const [creating, setCreating] = useState(false);
  const mine = keyPrefix(apiKey.value);
  const revoke = async (k: v1ApiKey) => {
    const self = k.prefix === mine;
    const ok = await confirm({
      title: `Revoke ${k.displayName || k.prefix}?`,
      body: (
        <p>
          Requests with this key fail from now on; this cannot be undone.
          {self && <strong> This is the key this console is signed in with: you will be signed out.</strong>}
        </p>
      ),
      confirm: "Revoke key",
      danger: true,
    });
    if (!ok) return;
    await act(async () => {
      await call("ApiKeyService_DeleteApiKey", { path: { id: k.id! } });
      notify(`Key ${k.prefix}… revoked.`);
      keys.reload();
    });
  };
  const list = keys.data ?? [];
  return (
    <>
      {confirmEl}
      <PageHeader
        title="API keys"
        subtitle="Keys of this tenant for the console, the command line and your own tools. A key is shown once, when it is created."
        actions={
          <Button variant="primary" onClick={() => setCreating(true)}>
            New key
          </Button>
        }
      />
      <ErrorBanner error={keys.error} />
      {keys.loading && !keys.data && <Loading what="keys" />}
      {keys.data && list.length === 0 && <Empty title="No keys">Create one to call the API.</Empty>}
      {list.length > 0 && (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((k) => (
                <tr key={k.id}>
                  <th scope="row">
                    {k.displayName || <span class="muted">unnamed</span>}
                    {k.prefix === mine && <span class="badge badge-info">this console</span>}
                  </th>
                  <td class="mono">{k.prefix}…</td>
                  <td>
                    <Time iso={k.createTime} />
                  </td>
                  <td>
                    <Time iso={k.lastUsedTime} />
                  </td>
                  <td>
                    <Button variant="danger" onClick={() => revoke(k)} aria-label={`Revoke ${k.displayName || k.prefix}`}>
                      Revoke
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <NewKey
        open={creating}
        onClose={() => {
          setCreating(false);
          keys.reload();
        }}
      />
    </>
  );
}

function NewKey({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState("");
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const close = () => {
    // The token leaves memory with the dialog.
    setToken("");
    setName("");
    setError(undefined);
    onClose();
  };
  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const r = await call("ApiKeyService_CreateApiKey", { body: { displayName: name } });
      setToken(r.token ?? "");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const apiErr = error instanceof ApiError ? error : undefined;
  return (
    <Modal title={token ? "Your new key" : "New API key"} open={open} onClose={close}>
      {token ? (
        <div class="dialog-body">
          <p class="banner banner-warn">Copy the key now: it is shown this once and never again. Only a hash of it is stored.</p>
          <CopyField id="new-key-token" label="API key" value={token} />
          <div class="dialog-actions">
            <Button variant="primary" onClick={close}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form onSubmit={create} class="dialog-body" autocomplete="off">
          {error && !apiErr?.forField("display_name") && <ErrorBanner error={error} />}
          <TextField id="new-key-name" label="Name" value={name} onInput={setName} error={apiErr?.forField("display_name")} hint="Who or what uses the key, for example ci." />
          <div class="dialog-actions">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" variant="primary" busy={busy}>
              Create key
            </Button>
          </div>
        </form>
      )}
    </Modal>
  );
}
