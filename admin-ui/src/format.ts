/** Formatting and shaping helpers of the usage charts (pure: tested in format.test.ts). */
import type { ApiClient, Page } from "./api";
import type { AppView, UsageRow } from "./types";

export const DAY_MS = 86_400_000;

const dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const cents = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumFractionDigits: 4,
});
const tiny = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumSignificantDigits: 2 });

/** US dollars with decimals that fit the amount: $1,234.50, $0.0123, $0.000016 (never 1.6E-5); $0.00 for zero. */
export function usd(value?: number | null): string {
  const v = Number(value ?? 0);
  if (!Number.isFinite(v) || v === 0) return dollars.format(0);
  const size = Math.abs(v);
  if (size >= 1) return dollars.format(v);
  if (size >= 0.01) return cents.format(v);
  return tiny.format(v);
}

/** YYYY-MM-DD of a moment, in UTC (the API's days are UTC days). */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The default range: the `days` UTC days ending today (UTC), both ends included. */
export function defaultRange(now: number, days: number): { from: string; to: string } {
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  return { from: utcDay(today - (days - 1) * DAY_MS), to: utcDay(today) };
}

/** Every UTC day from `from` to `to` (YYYY-MM-DD, included); empty when the range is invalid or over `max` days. */
export function daysBetween(from: string, to: string, max = 400): string[] {
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(start) || Number.isNaN(end) || end < start || (end - start) / DAY_MS + 1 > max) return [];
  const days: string[] = [];
  for (let t = start; t <= end; t += DAY_MS) days.push(utcDay(t));
  return days;
}

/** Per-day rows for every day of the range, with zeros where there was no traffic (rows outside it are kept). */
export function fillDays(from: string, to: string, rows: UsageRow[]): UsageRow[] {
  const days = daysBetween(from, to);
  if (days.length === 0) return rows;
  const known = new Map(rows.map((row) => [row.day ?? "", row]));
  const filled = days.map(
    (day) =>
      known.get(day) ?? { day, requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
  );
  const extra = rows.filter((row) => !days.includes(row.day ?? ""));
  return [...filled, ...extra].sort((a, b) => (a.day ?? "").localeCompare(b.day ?? ""));
}

/** How an app is labelled: its name where the admin API knows it (and the id to tell namesakes apart), else its id. */
export function appLabel(appId: string, names: ReadonlyMap<string, string>): string {
  const name = names.get(appId);
  return name ? `${name} (${appId.slice(0, 8)}…)` : appId;
}

/** The apps the admin API knows (GET /admin/apps, a few pages), as id -> name; empty where the route is missing. */
export async function loadAppNames(api: ApiClient, maxPages = 5): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  let token: string | null | undefined = undefined;
  for (let i = 0; i < maxPages; i++) {
    let page: Page<AppView>;
    try {
      page = await api.get<Page<AppView>>("/admin/apps", { limit: 100, next_token: token || undefined });
    } catch {
      break; // names are a nicety: ids are shown instead
    }
    for (const app of page.data) names.set(app.id, app.name);
    token = page.next_token;
    if (!token) break;
  }
  return names;
}
