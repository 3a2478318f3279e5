import { describe, expect, it } from "vitest";
import { appLabel, daysBetween, defaultRange, fillDays, usd } from "./format";

describe("usd", () => {
  it("shows cents for dollars, four decimals under a dollar, two significant digits under a cent", () => {
    expect(usd(1234.5)).toBe("$1,234.50");
    expect(usd(1)).toBe("$1.00");
    expect(usd(0.5)).toBe("$0.50");
    expect(usd(0.0123)).toBe("$0.0123");
    expect(usd(0.000016)).toBe("$0.000016");
    expect(usd(1.6e-5)).not.toMatch(/E/i);
    expect(usd(0.0000123456)).toBe("$0.000012");
  });

  it("shows nothing spent as $0.00, whatever it is given", () => {
    expect([usd(0), usd(undefined), usd(null), usd(Number.NaN)]).toEqual(["$0.00", "$0.00", "$0.00", "$0.00"]);
  });
});

describe("the date range", () => {
  it("defaults to UTC days whatever the local time zone", () => {
    // 23:30 UTC on 3 March: still 3 March in UTC (already 4 March east of Greenwich)
    expect(defaultRange(Date.UTC(2026, 2, 3, 23, 30), 14)).toEqual({ from: "2026-02-18", to: "2026-03-03" });
    expect(defaultRange(Date.UTC(2026, 0, 1, 0, 5), 1)).toEqual({ from: "2026-01-01", to: "2026-01-01" });
  });

  it("lists every day of a range, across a month end, and nothing for an invalid one", () => {
    expect(daysBetween("2026-02-27", "2026-03-02")).toEqual(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
    expect(daysBetween("2026-03-02", "2026-03-01")).toEqual([]);
    expect(daysBetween("", "2026-03-01")).toEqual([]);
    expect(daysBetween("2020-01-01", "2026-03-01")).toEqual([]);
  });
});

describe("fillDays", () => {
  it("puts zeros on the days without traffic so one day shows in its range", () => {
    const row = { day: "2026-03-02", requests: 3, errors: 1, prompt_tokens: 30, completion_tokens: 9, cost_usd: 0.00002 };
    const filled = fillDays("2026-03-01", "2026-03-03", [row]);
    expect(filled.map((r) => [r.day, r.requests, r.cost_usd])).toEqual([
      ["2026-03-01", 0, 0],
      ["2026-03-02", 3, 0.00002],
      ["2026-03-03", 0, 0],
    ]);
    expect(filled[1]).toBe(row);
  });

  it("keeps the rows as they are when the range cannot be listed", () => {
    const rows = [{ day: "2026-03-02", requests: 1, errors: 0, prompt_tokens: 1, completion_tokens: 1, cost_usd: 0 }];
    expect(fillDays("bad", "2026-03-03", rows)).toBe(rows);
  });
});

describe("appLabel", () => {
  it("names an app the admin API knows, and shows the id of one it does not", () => {
    const names = new Map([["4m8n2p6q0r4s8t2u6v0w4x8y2z", "support-bot"]]);
    expect(appLabel("4m8n2p6q0r4s8t2u6v0w4x8y2z", names)).toBe("support-bot (4m8n2p6q…)");
    expect(appLabel("demo-client-id", names)).toBe("demo-client-id");
  });
});
