import {
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  Legend,
  LinearScale,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useState } from "react";
import { Bar, Line } from "react-chartjs-2";
import { appLabel, defaultRange, fillDays, loadAppNames, usd } from "../format";
import { Problem, useLoad } from "../hooks";
import type { UsageReport, UsageRow } from "../types";

// Only the parts these charts use: Chart.js tree-shakes the rest out of the bundle.
ChartJS.register(BarElement, CategoryScale, LinearScale, LineElement, PointElement, Tooltip, Legend);

const num = (v?: number | null) => (v === null || v === undefined ? "—" : v.toLocaleString());

type TooltipItem = { dataset: { label?: string; yAxisID?: string }; parsed: { y: number | null } };

/** Chart options shared by the charts: a requests axis on the left, a currency axis on the right for cost. */
function chartOptions(left: string) {
  return {
    animation: false as const,
    responsive: true,
    interaction: { mode: "index" as const, intersect: false },
    scales: {
      y: { beginAtZero: true, title: { display: true, text: left }, ticks: { precision: 0 } },
      cost: {
        beginAtZero: true,
        position: "right" as const,
        grid: { drawOnChartArea: false },
        title: { display: true, text: "cost (USD)" },
        ticks: { callback: (value: string | number) => usd(Number(value)) },
      },
    },
    plugins: {
      tooltip: {
        callbacks: {
          label: (item: TooltipItem) => {
            const value = item.parsed.y ?? 0;
            return `${item.dataset.label}: ${item.dataset.yAxisID === "cost" ? usd(value) : value.toLocaleString()}`;
          },
        },
      },
    },
  };
}

function sum(rows: UsageRow[], key: keyof UsageRow): number {
  return rows.reduce((total, row) => total + (Number(row[key]) || 0), 0);
}

function Totals({ report }: { report: UsageReport }) {
  const t = report.totals ?? {};
  const requests = t.requests ?? sum(report.data, "requests");
  const cards: [string, string, string][] = [
    ["requests", "Requests", num(requests)],
    ["errors", "Errors", num(t.errors ?? sum(report.data, "errors"))],
    ["prompt_tokens", "Tokens in", num(t.prompt_tokens ?? sum(report.data, "prompt_tokens"))],
    ["completion_tokens", "Tokens out", num(t.completion_tokens ?? sum(report.data, "completion_tokens"))],
    ["cost_usd", "Cost", usd(t.cost_usd ?? sum(report.data, "cost_usd"))],
  ];
  return (
    <div className="cards">
      {cards.map(([key, label, value]) => (
        <div className="card stat" key={key} data-testid={`usage-total-${key}`}>
          <div className="muted">{label}</div>
          <div className="value">{value}</div>
        </div>
      ))}
    </div>
  );
}

function ByKey({
  title,
  rows,
  keyOf,
  labelOf = keyOf,
  testid,
}: {
  title: string;
  rows: UsageRow[];
  keyOf: (r: UsageRow) => string;
  labelOf?: (r: UsageRow) => string;
  testid: string;
}) {
  const keys = rows.map(keyOf);
  const labels = rows.map(labelOf);
  return (
    <section className="card chart" data-testid={testid}>
      <h3>{title}</h3>
      <Bar
        aria-label={`${title}: requests and cost`}
        role="img"
        data={{
          labels,
          datasets: [
            { label: "Requests", data: rows.map((r) => r.requests), backgroundColor: "#3b6fd1", yAxisID: "y" },
            { label: "Cost (USD)", data: rows.map((r) => r.cost_usd), backgroundColor: "#e0a030", yAxisID: "cost" },
          ],
        }}
        options={chartOptions("requests")}
      />
      <table className="small">
        <thead>
          <tr>
            <th>{title.replace("Per ", "")}</th>
            <th>Requests</th>
            <th>Errors</th>
            <th>Tokens in / out</th>
            <th>Cost</th>
            <th>p50 / p95 ms</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={keys[i]} data-key={keys[i]}>
              <td title={keys[i]}>{labels[i] === keys[i] ? <code>{keys[i]}</code> : labels[i]}</td>
              <td className="requests">{num(r.requests)}</td>
              <td>{num(r.errors)}</td>
              <td>
                {num(r.prompt_tokens)} / {num(r.completion_tokens)}
              </td>
              <td>{usd(r.cost_usd)}</td>
              <td>
                {num(r.latency_p50_ms)} / {num(r.latency_p95_ms)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function UsagePage() {
  // UTC days, as the API counts them: "today" is the UTC date, not the browser's local one.
  const [range, setRange] = useState(() => ({ ...defaultRange(Date.now(), 14), app_id: "", model: "" }));
  const query = (group_by: string) => ({ ...range, group_by });
  const report = useLoad(
    async (api) => {
      const [days, models, apps, names] = await Promise.all([
        api.get<UsageReport>("/admin/usage", query("day")),
        api.get<UsageReport>("/admin/usage", query("model")),
        api.get<UsageReport>("/admin/usage", query("app")),
        loadAppNames(api),
      ]);
      return { days, models, apps, names };
    },
    [range.from, range.to, range.app_id, range.model],
  );
  const field = (key: keyof typeof range, label: string, type = "text") => (
    <label>
      {label}{" "}
      <input name={key} type={type} value={range[key]} onChange={(e) => setRange({ ...range, [key]: e.target.value })} />
    </label>
  );
  // Every day of the range (zeros without traffic), so a single day with calls is a point among its neighbours.
  const days = report.data ? fillDays(report.data.days.from, report.data.days.to, report.data.days.data) : [];
  const names = report.data?.names ?? new Map<string, string>();
  return (
    <section>
      <div className="toolbar">
        <h2>Usage</h2>
        {field("from", "From", "date")}
        {field("to", "To", "date")}
        {field("app_id", "App id")}
        {field("model", "Model")}
        <button type="button" className="secondary" onClick={report.reload}>
          Refresh
        </button>
      </div>
      <Problem error={report.error} what="Usage" />
      {report.loading && !report.data && <p className="muted">Loading…</p>}
      {report.data && (
        <>
          <Totals report={report.data.days} />
          <section className="card chart" data-testid="usage-per-day">
            <h3>Per day</h3>
            <Line
              aria-label="Per day: requests, errors and cost"
              role="img"
              data={{
                labels: days.map((r) => r.day ?? ""),
                datasets: [
                  { label: "Requests", data: days.map((r) => r.requests), borderColor: "#3b6fd1", backgroundColor: "#3b6fd1", yAxisID: "y" },
                  { label: "Errors", data: days.map((r) => r.errors), borderColor: "#c0392b", backgroundColor: "#c0392b", yAxisID: "y" },
                  { label: "Cost (USD)", data: days.map((r) => r.cost_usd), borderColor: "#e0a030", backgroundColor: "#e0a030", yAxisID: "cost" },
                ],
              }}
              options={chartOptions("requests, errors")}
            />
          </section>
          <div className="two">
            <ByKey title="Per model" rows={report.data.models.data} keyOf={(r) => r.model ?? "?"} testid="usage-per-model" />
            <ByKey
              title="Per app"
              rows={report.data.apps.data}
              keyOf={(r) => r.app_id ?? "?"}
              labelOf={(r) => appLabel(r.app_id ?? "?", names)}
              testid="usage-per-app"
            />
          </div>
        </>
      )}
    </section>
  );
}
