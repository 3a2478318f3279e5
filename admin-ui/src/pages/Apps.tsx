import { useState, type FormEvent } from "react";
import type { ApiClient, Page } from "../api";
import { Problem, useApi, useLoad, when } from "../hooks";
import { SCOPES, type AppView, type AppWithSecret, type Limits, type ModelEntry } from "../types";

const LIMIT_FIELDS: [keyof Limits, string][] = [
  ["requests_per_minute", "Requests / minute"],
  ["tokens_per_minute", "Tokens / minute"],
  ["tokens_per_day", "Tokens / day"],
  ["monthly_budget_usd", "Monthly budget (USD)"],
];

interface Draft {
  name: string;
  description: string;
  scopes: string[];
  limits: Record<string, string>;
  restrictModels: boolean;
  allowedModels: string[];
}

function draftOf(app?: AppView): Draft {
  const limits: Record<string, string> = {};
  for (const [key] of LIMIT_FIELDS) {
    const value = app?.limits?.[key];
    limits[key] = value === null || value === undefined ? "" : String(value);
  }
  return {
    name: app?.name ?? "",
    description: app?.description ?? "",
    scopes: app?.scopes ?? ["genai/invoke"],
    limits,
    restrictModels: Array.isArray(app?.allowed_models),
    allowedModels: app?.allowed_models ?? [],
  };
}

function bodyOf(draft: Draft) {
  const limits: Limits = {};
  for (const [key] of LIMIT_FIELDS) {
    const text = draft.limits[key].trim();
    if (text !== "") limits[key] = Number(text);
  }
  return {
    name: draft.name.trim(),
    description: draft.description.trim() || undefined,
    scopes: draft.scopes,
    limits: Object.keys(limits).length ? limits : undefined,
    allowed_models: draft.restrictModels ? draft.allowedModels : null,
  };
}

function AppForm(props: {
  initial?: AppView;
  models: string[];
  submitLabel: string;
  onSubmit: (body: ReturnType<typeof bodyOf>) => Promise<void>;
  onCancel?: () => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(props.initial));
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const toggle = (list: string[], item: string) =>
    list.includes(item) ? list.filter((x) => x !== item) : [...list, item];

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.onSubmit(bodyOf(draft));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card form" onSubmit={submit} aria-label={props.submitLabel}>
      <label>
        Name
        <input
          name="name"
          required
          maxLength={128}
          value={draft.name}
          disabled={Boolean(props.initial)}
          onChange={(e) => setDraft({ ...draft, name: e.target.value })}
        />
      </label>
      <label>
        Description
        <input
          name="description"
          value={draft.description}
          onChange={(e) => setDraft({ ...draft, description: e.target.value })}
        />
      </label>
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope} className="check">
            <input
              type="checkbox"
              name="scope"
              value={scope}
              checked={draft.scopes.includes(scope)}
              onChange={() => setDraft({ ...draft, scopes: toggle(draft.scopes, scope) })}
            />
            {scope}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Limits (empty = the platform's default)</legend>
        <div className="grid4">
          {LIMIT_FIELDS.map(([key, label]) => (
            <label key={key}>
              {label}
              <input
                name={key}
                type="number"
                min={0}
                step={key === "monthly_budget_usd" ? "0.01" : "1"}
                value={draft.limits[key]}
                onChange={(e) => setDraft({ ...draft, limits: { ...draft.limits, [key]: e.target.value } })}
              />
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Models</legend>
        <label className="check">
          <input
            type="checkbox"
            name="restrict-models"
            checked={draft.restrictModels}
            onChange={(e) => setDraft({ ...draft, restrictModels: e.target.checked })}
          />
          Only these models (otherwise every model in the catalogue)
        </label>
        {draft.restrictModels &&
          (props.models.length ? (
            props.models.map((alias) => (
              <label key={alias} className="check">
                <input
                  type="checkbox"
                  name="model"
                  value={alias}
                  checked={draft.allowedModels.includes(alias)}
                  onChange={() => setDraft({ ...draft, allowedModels: toggle(draft.allowedModels, alias) })}
                />
                {alias}
              </label>
            ))
          ) : (
            <p className="muted">The model catalogue could not be listed.</p>
          ))}
      </fieldset>
      <Problem error={error} what="Saving apps" />
      <div className="actions">
        <button type="submit" disabled={busy || !draft.name.trim() || !draft.scopes.length}>
          {busy ? "Saving…" : props.submitLabel}
        </button>
        {props.onCancel && (
          <button type="button" className="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

/** The client secret, shown once: the API never returns it again. */
function SecretBox({ result, onDone }: { result: AppWithSecret; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(result.client_secret);
    } catch {
      const field = document.getElementById("client-secret") as HTMLInputElement | null;
      field?.select();
      document.execCommand("copy");
    }
    setCopied(true);
  }
  return (
    <section className="card secret" aria-label="New credentials" data-testid="secret-box">
      <h3>Credentials of {result.app.name}</h3>
      <p className="warning" role="alert">
        Copy the client secret now: it is shown only this once and cannot be read again. If it is lost, rotate it.
      </p>
      <label>
        Client id
        <input id="client-id" readOnly value={result.app.id} onFocus={(e) => e.target.select()} />
      </label>
      <label>
        Client secret
        <input id="client-secret" readOnly value={result.client_secret} onFocus={(e) => e.target.select()} />
      </label>
      <div className="actions">
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy secret"}
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          I have stored it
        </button>
      </div>
    </section>
  );
}

async function loadModels(api: ApiClient): Promise<string[]> {
  try {
    const page = await api.get<Page<ModelEntry>>("/admin/models");
    return page.data.map((m) => m.alias);
  } catch {
    return [];
  }
}

export function AppsPage() {
  const api = useApi();
  const [status, setStatus] = useState("");
  const [pages, setPages] = useState<string[]>([""]); // next tokens of the pages loaded so far
  const list = useLoad(async (a) => {
    const rows: AppView[] = [];
    let next: string | null | undefined = null;
    for (const token of pages) {
      const page: Page<AppView> = await a.get<Page<AppView>>("/admin/apps", {
        status,
        limit: 50,
        next_token: token || undefined,
      });
      rows.push(...page.data);
      next = page.next_token;
    }
    return { rows, next };
  }, [status, pages]);
  const models = useLoad(loadModels, []);
  const [onboarding, setOnboarding] = useState(false);
  const [editing, setEditing] = useState<string | null>(null);
  const [secret, setSecret] = useState<AppWithSecret | null>(null);
  const [actionError, setActionError] = useState<Error | null>(null);

  async function act(run: () => Promise<unknown>) {
    setActionError(null);
    try {
      await run();
      list.reload();
    } catch (err) {
      setActionError(err as Error);
    }
  }

  return (
    <section>
      <div className="toolbar">
        <h2>Apps</h2>
        <label>
          Status{" "}
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setPages([""]);
            }}
          >
            <option value="">all</option>
            <option value="active">active</option>
            <option value="disabled">disabled</option>
          </select>
        </label>
        <button type="button" onClick={() => setOnboarding(true)} disabled={onboarding}>
          Onboard an app
        </button>
      </div>
      {secret && <SecretBox result={secret} onDone={() => setSecret(null)} />}
      {onboarding && (
        <AppForm
          models={models.data ?? []}
          submitLabel="Onboard"
          onCancel={() => setOnboarding(false)}
          onSubmit={async (body) => {
            const created = await api.post<AppWithSecret>("/admin/apps", body);
            setSecret(created);
            setOnboarding(false);
            list.reload();
          }}
        />
      )}
      <Problem error={actionError} what="This action" />
      <Problem error={list.error} what="The list of apps" />
      {list.loading && !list.data && <p className="muted">Loading…</p>}
      {list.data && (
        <table data-testid="apps-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Client id</th>
              <th>Status</th>
              <th>Scopes</th>
              <th>Limits</th>
              <th>Models</th>
              <th>Secret rotated</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.rows.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">
                  No apps yet.
                </td>
              </tr>
            )}
            {list.data.rows.map((app) => (
              <tr key={app.id} data-app={app.name}>
                <td>
                  <b>{app.name}</b>
                  <div className="muted">{app.description}</div>
                  {editing === app.id && (
                    <AppForm
                      initial={app}
                      models={models.data ?? []}
                      submitLabel="Save"
                      onCancel={() => setEditing(null)}
                      onSubmit={async (body) => {
                        await api.patch(`/admin/apps/${app.id}`, {
                          description: body.description ?? "",
                          scopes: body.scopes,
                          limits: body.limits ?? {},
                          allowed_models: body.allowed_models,
                        });
                        setEditing(null);
                        list.reload();
                      }}
                    />
                  )}
                </td>
                <td>
                  <code>{app.id}</code>
                </td>
                <td>
                  <span className={`badge ${app.status}`}>{app.status}</span>
                </td>
                <td>{app.scopes.join(" ")}</td>
                <td className="small">
                  {LIMIT_FIELDS.filter(([k]) => app.limits?.[k] != null)
                    .map(([k, label]) => `${label}: ${app.limits?.[k]}`)
                    .join(", ") || "defaults"}
                </td>
                <td>{app.allowed_models ? app.allowed_models.join(", ") || "none" : "all"}</td>
                <td>{when(app.secret_rotated_at)}</td>
                <td className="actions">
                  <button type="button" className="secondary" onClick={() => setEditing(app.id)}>
                    Edit
                  </button>
                  {app.status === "active" ? (
                    <button type="button" onClick={() => act(() => api.post(`/admin/apps/${app.id}/disable`))}>
                      Disable
                    </button>
                  ) : (
                    <button type="button" onClick={() => act(() => api.post(`/admin/apps/${app.id}/enable`))}>
                      Enable
                    </button>
                  )}
                  <button
                    type="button"
                    onClick={() =>
                      confirm(`Rotate the secret of ${app.name}? Its current secret stops working.`) &&
                      act(async () => setSecret(await api.post<AppWithSecret>(`/admin/apps/${app.id}/rotate-secret`)))
                    }
                  >
                    Rotate secret
                  </button>
                  <button
                    type="button"
                    className="danger"
                    onClick={() =>
                      confirm(`Delete ${app.name}? Its client and secret are deleted; this cannot be undone.`) &&
                      act(() => api.del(`/admin/apps/${app.id}`))
                    }
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data?.next && (
        <button type="button" className="secondary" onClick={() => setPages([...pages, list.data!.next!])}>
          Load more
        </button>
      )}
    </section>
  );
}
