import { useState, type FormEvent } from "react";
import type { Page } from "../api";
import { appLabel, loadAppNames } from "../format";
import { Problem, useLoad, when } from "../hooks";
import type { PromptDetail, PromptSummary, PromptVersion } from "../types";

/** Prompts belong to apps: pick one the admin API knows, or type the id (client id) of any other (an app not
 * onboarded through the admin API, such as the offline demo app), then browse its prompts' versions and labels. */
export function PromptsPage() {
  const [appId, setAppId] = useState("");
  const [draft, setDraft] = useState("");
  const [prefix, setPrefix] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const apps = useLoad((api) => loadAppNames(api), []);
  const choose = (id: string) => {
    setAppId(id.trim());
    setDraft(id.trim());
    setOpen(null);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    choose(draft);
  };
  const names = apps.data ?? new Map<string, string>();
  return (
    <section>
      <div className="toolbar">
        <h2>Prompts</h2>
        <label>
          App{" "}
          <select
            name="app"
            value={names.has(appId) ? appId : ""}
            onChange={(e) => e.target.value && choose(e.target.value)}
            disabled={names.size === 0}
          >
            <option value="">{names.size ? "choose an app…" : "no onboarded apps"}</option>
            {[...names].map(([id, name]) => (
              <option key={id} value={id}>
                {name} ({id})
              </option>
            ))}
          </select>
        </label>
        <form className="inline" onSubmit={submit} aria-label="App id">
          <label>
            or app id{" "}
            <input name="app_id" value={draft} placeholder="client id" onChange={(e) => setDraft(e.target.value)} />
          </label>{" "}
          <button type="submit" className="secondary">
            Show
          </button>
        </form>
        <label>
          Name prefix <input name="prefix" value={prefix} onChange={(e) => setPrefix(e.target.value.trim())} />
        </label>
      </div>
      {!appId && (
        <p className="muted" data-testid="prompts-choose-app">
          Choose an app, or type its id (its client id), to browse its prompts, their versions and labels.
        </p>
      )}
      {appId && (
        <div className="two prompts">
          <PromptList appId={appId} prefix={prefix} appName={appLabel(appId, names)} open={open} onOpen={setOpen} />
          {open ? (
            <PromptDetailCard key={`${appId}/${open}`} appId={appId} name={open} />
          ) : (
            <p className="muted">Open a prompt to see its versions and labels.</p>
          )}
        </div>
      )}
    </section>
  );
}

function PromptList({
  appId,
  prefix,
  appName,
  open,
  onOpen,
}: {
  appId: string;
  prefix: string;
  appName: string;
  open: string | null;
  onOpen: (name: string) => void;
}) {
  const [pages, setPages] = useState<string[]>([""]);
  const list = useLoad(async (api) => {
    const rows: PromptSummary[] = [];
    let next: string | null | undefined = null;
    for (const token of pages) {
      const page: Page<PromptSummary> = await api.get<Page<PromptSummary>>(
        `/admin/apps/${encodeURIComponent(appId)}/prompts`,
        { prefix, limit: 50, next_token: token || undefined },
      );
      rows.push(...page.data);
      next = page.next_token;
    }
    return { rows, next };
  }, [appId, prefix, pages]);
  return (
    <section className="card" data-testid="prompts-list">
      <h3>Prompts of {appName}</h3>
      <Problem error={list.error} what="Browsing prompts" />
      {list.loading && !list.data && <p className="muted">Loading…</p>}
      {list.data && (
        <table className="small">
          <thead>
            <tr>
              <th>Name</th>
              <th>Latest</th>
              <th>Labels</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.rows.length === 0 && (
              <tr>
                <td colSpan={4} className="muted">
                  This app has no prompts{prefix ? ` starting with “${prefix}”` : ""}.
                </td>
              </tr>
            )}
            {list.data.rows.map((p) => (
              <tr key={p.name} data-prompt={p.name} aria-selected={p.name === open}>
                <td>
                  <button type="button" className="link" onClick={() => onOpen(p.name)}>
                    {p.name}
                  </button>
                  {p.description && <div className="muted">{p.description}</div>}
                </td>
                <td>v{p.latest_version}</td>
                <td>
                  <Labels labels={p.labels} />
                </td>
                <td>{when(p.updated_at)}</td>
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

function Labels({ labels }: { labels: Record<string, number> }) {
  return (
    <span className="labels">
      {Object.entries(labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([label, version]) => (
          <span key={label} className="badge label" title={`${label} → version ${version}`}>
            {label} → v{version}
          </span>
        ))}
    </span>
  );
}

function PromptDetailCard({ appId, name }: { appId: string; name: string }) {
  const [pages, setPages] = useState<string[]>([""]);
  const detail = useLoad(async (api) => {
    let first: PromptDetail | null = null;
    const versions: PromptVersion[] = [];
    let next: string | null | undefined = null;
    for (const token of pages) {
      const page: PromptDetail = await api.get<PromptDetail>(
        `/admin/apps/${encodeURIComponent(appId)}/prompts/${encodeURIComponent(name)}`,
        { limit: 20, next_token: token || undefined },
      );
      first = first ?? page;
      versions.push(...page.versions);
      next = page.next_token;
    }
    return { prompt: first!, versions, next };
  }, [appId, name, pages]);
  const data = detail.data;
  return (
    <section className="card" data-testid="prompt-detail">
      <h3>{name}</h3>
      <Problem error={detail.error} what="The prompt" />
      {detail.loading && !data && <p className="muted">Loading…</p>}
      {data && (
        <>
          <p>
            Labels: <Labels labels={data.prompt.labels} />
          </p>
          <p className="muted small">
            Callers get version {data.prompt.resolved.version} by default (
            {data.prompt.resolved.resolved.label ?? "latest"}).
          </p>
          {data.versions.map((v) => (
            <VersionCard key={v.version} version={v} />
          ))}
          {data.next && (
            <button type="button" className="secondary" onClick={() => setPages([...pages, data.next!])}>
              Older versions
            </button>
          )}
        </>
      )}
    </section>
  );
}

function content(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function VersionCard({ version: v }: { version: PromptVersion }) {
  return (
    <article className="version" data-version={v.version}>
      <header>
        <b>v{v.version}</b> <span className="muted">{v.type}</span>{" "}
        {v.labels.map((label) => (
          <span key={label} className="badge label">
            {label}
          </span>
        ))}
        <span className="muted small"> {when(v.created_at)}</span>
      </header>
      {v.description && <p className="muted">{v.description}</p>}
      {v.template != null && <pre className="prompt">{v.template}</pre>}
      {v.messages && (
        <ol className="messages">
          {v.messages.map((m, i) => (
            <li key={i}>
              <b>{m.role}</b>
              <pre className="prompt">{content(m.content)}</pre>
            </li>
          ))}
        </ol>
      )}
      <dl className="small">
        <dt>Variables</dt>
        <dd>{v.variables.length ? v.variables.map((name) => <code key={name}>{name} </code>) : "—"}</dd>
        <dt>Model</dt>
        <dd>{v.model ? <code>{v.model}</code> : "— (the caller's)"}</dd>
        <dt>Parameters</dt>
        <dd>{v.parameters && Object.keys(v.parameters).length ? <code>{JSON.stringify(v.parameters)}</code> : "—"}</dd>
        {v.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>{v.tags.join(", ")}</dd>
          </>
        )}
      </dl>
    </article>
  );
}
