import { useState } from "react";
import type { Page } from "../api";
import { Problem, useLoad, when } from "../hooks";
import type { AuditEntry } from "../types";

function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="muted">—</span>;
  return <pre className="json">{JSON.stringify(value, null, 1)}</pre>;
}

export function AuditPage() {
  const [appId, setAppId] = useState("");
  const [pages, setPages] = useState<string[]>([""]);
  const list = useLoad(async (api) => {
    const rows: AuditEntry[] = [];
    let next: string | null | undefined = null;
    for (const token of pages) {
      const page: Page<AuditEntry> = await api.get<Page<AuditEntry>>("/admin/audit", {
        app_id: appId.trim(),
        limit: 50,
        next_token: token || undefined,
      });
      rows.push(...page.data);
      next = page.next_token;
    }
    return { rows, next };
  }, [appId, pages]);
  return (
    <section>
      <div className="toolbar">
        <h2>Audit trail</h2>
        <label>
          App id{" "}
          <input
            value={appId}
            onChange={(e) => {
              setAppId(e.target.value);
              setPages([""]);
            }}
          />
        </label>
      </div>
      <Problem error={list.error} what="The audit trail" />
      {list.data && (
        <table data-testid="audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>Target</th>
              <th>Before</th>
              <th>After</th>
            </tr>
          </thead>
          <tbody>
            {list.data.rows.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  No changes recorded.
                </td>
              </tr>
            )}
            {list.data.rows.map((e) => (
              <tr key={e.id}>
                <td>{when(e.at)}</td>
                <td>{e.actor}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  <code>{e.target}</code>
                </td>
                <td>
                  <Json value={e.before} />
                </td>
                <td>
                  <Json value={e.after} />
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
