import { useState } from "react";
import type { Page } from "../api";
import { Problem, useApi, useLoad } from "../hooks";
import type { ModelEntry } from "../types";

const TEMPLATE: ModelEntry = {
  alias: "new-model",
  description: "",
  targets: [{ provider: "openai", model: "model-id", base_url: "https://example.com/v1" }],
  capabilities: ["chat"],
  context_window: 8192,
  input_price_per_1m: 0,
  output_price_per_1m: 0,
};

/** The gateway's catalogue; entries are edited as the JSON the API validates (ModelEntry), errors shown as sent. */
export function ModelsPage() {
  const api = useApi();
  const list = useLoad((a) => a.get<Page<ModelEntry>>("/admin/models"), []);
  const [editing, setEditing] = useState<{ alias: string | null; text: string } | null>(null);
  const [error, setError] = useState<Error | null>(null);

  async function save() {
    if (!editing) return;
    setError(null);
    try {
      const entry = JSON.parse(editing.text) as ModelEntry;
      await api.put(`/admin/models/${encodeURIComponent(entry.alias)}`, entry);
      setEditing(null);
      list.reload();
    } catch (err) {
      setError(err instanceof SyntaxError ? new Error(`Not valid JSON: ${err.message}`) : (err as Error));
    }
  }

  async function remove(alias: string) {
    if (!confirm(`Delete the model ${alias}? Apps calling it get an error.`)) return;
    setError(null);
    try {
      await api.del(`/admin/models/${encodeURIComponent(alias)}`);
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  }

  return (
    <section>
      <div className="toolbar">
        <h2>Models</h2>
        <button type="button" onClick={() => setEditing({ alias: null, text: JSON.stringify(TEMPLATE, null, 2) })}>
          Add a model
        </button>
      </div>
      <Problem error={list.error} what="The model catalogue" />
      {editing && (
        <div className="card form">
          <h3>{editing.alias ? `Edit ${editing.alias}` : "New model"}</h3>
          <textarea
            aria-label="Model entry (JSON)"
            rows={18}
            spellCheck={false}
            value={editing.text}
            onChange={(e) => setEditing({ ...editing, text: e.target.value })}
          />
          <Problem error={error} what="Saving models" />
          <div className="actions">
            <button type="button" onClick={save}>
              Save
            </button>
            <button type="button" className="secondary" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {!editing && <Problem error={error} what="Models" />}
      {list.data && (
        <table data-testid="models-table">
          <thead>
            <tr>
              <th>Alias</th>
              <th>Kind</th>
              <th>Targets</th>
              <th>Context</th>
              <th>USD / 1M in · out</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((m) => (
              <tr key={m.alias}>
                <td>
                  <b>{m.alias}</b>
                  <div className="muted">{m.description}</div>
                </td>
                <td>{m.capabilities.join(", ")}</td>
                <td className="small">
                  {m.targets.map((t, i) => (
                    <div key={i}>
                      {t.provider}: <code>{t.model}</code> {t.region ?? t.base_url ?? ""}
                    </div>
                  ))}
                </td>
                <td>{m.context_window.toLocaleString()}</td>
                <td>
                  {m.input_price_per_1m ?? 0} · {m.output_price_per_1m ?? 0}
                </td>
                <td className="actions">
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => setEditing({ alias: m.alias, text: JSON.stringify(m, null, 2) })}
                  >
                    Edit
                  </button>
                  <button type="button" className="danger" onClick={() => remove(m.alias)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
