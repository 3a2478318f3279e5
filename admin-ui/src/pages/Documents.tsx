import { useState } from "react";
import type { Page } from "../api";
import { Problem, useLoad, when } from "../hooks";
import type { DocumentRow } from "../types";

const STATUSES = ["FAILED", "PENDING_UPLOAD", "QUEUED", "EXTRACTING", "CHUNKING", "INDEXING", "READY"];

function failureText(failure: DocumentRow["failure"]): string {
  if (!failure) return "";
  if (typeof failure === "string") return failure;
  return [failure.step && `[${failure.step}]`, failure.error, failure.message].filter(Boolean).join(" ");
}

/** Step Functions console link of an execution (in AWS); offline the ARN is shown as text. */
function executionLink(arn?: string | null) {
  if (!arn) return "—";
  const region = arn.split(":")[3];
  if (!region || arn.includes(":123456789012:")) return <code className="small">{arn}</code>;
  const href = `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(arn)}`;
  return (
    <a href={href} target="_blank" rel="noreferrer noopener">
      execution
    </a>
  );
}

export function DocumentsPage() {
  const [status, setStatus] = useState("FAILED");
  const [pages, setPages] = useState<string[]>([""]);
  const list = useLoad(async (api) => {
    const rows: DocumentRow[] = [];
    let next: string | null | undefined = null;
    for (const token of pages) {
      const page: Page<DocumentRow> = await api.get<Page<DocumentRow>>("/admin/documents", {
        status,
        limit: 50,
        next_token: token || undefined,
      });
      rows.push(...page.data);
      next = page.next_token;
    }
    return { rows, next };
  }, [status, pages]);
  return (
    <section>
      <div className="toolbar">
        <h2>Documents</h2>
        <label>
          Status{" "}
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setPages([""]);
            }}
          >
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </div>
      <Problem error={list.error} what="Documents across apps" />
      {list.data && (
        <table data-testid="documents-table">
          <thead>
            <tr>
              <th>File</th>
              <th>App</th>
              <th>Collection</th>
              <th>Status</th>
              <th>Failure</th>
              <th>Execution</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.rows.length === 0 && (
              <tr>
                <td colSpan={7} className="muted">
                  No documents with status {status}.
                </td>
              </tr>
            )}
            {list.data.rows.map((d) => (
              <tr key={`${d.app_id}/${d.document_id}`}>
                <td>
                  {d.filename}
                  <div className="muted small">{d.document_id}</div>
                </td>
                <td>
                  <code>{d.app_id}</code>
                </td>
                <td>
                  <code>{d.collection_id}</code>
                </td>
                <td>
                  <span className={`badge ${d.status === "FAILED" ? "disabled" : "active"}`}>{d.status}</span>
                </td>
                <td className="failure">{failureText(d.failure)}</td>
                <td>{executionLink(d.execution_arn)}</td>
                <td>{when(d.updated_at)}</td>
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
