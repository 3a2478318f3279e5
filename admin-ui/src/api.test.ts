import { describe, expect, it, vi } from "vitest";
import { ApiError, createClient } from "./api";

function reply(status: number, body: unknown, contentType = "application/json") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return Promise.resolve(new Response(text, { status, headers: { "content-type": contentType } }));
}

describe("the admin API client", () => {
  it("sends the bearer token and the query, and returns the JSON", async () => {
    const fetchImpl = vi.fn(() => reply(200, { data: [], next_token: null }));
    const api = createClient("https://api.example/prod", () => "tok", undefined, fetchImpl as typeof fetch);
    await expect(api.get("/admin/apps", { status: "active", next_token: undefined })).resolves.toEqual({
      data: [],
      next_token: null,
    });
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("https://api.example/prod/admin/apps?status=active");
    expect((init.headers as Record<string, string>).authorization).toBe("Bearer tok");
  });

  it("turns the error envelope into an ApiError with its message and code", async () => {
    const envelope = { error: { message: "name is required", type: "invalid_request_error", param: "name", code: "invalid" } };
    const api = createClient("", () => "t", undefined, (() => reply(400, envelope)) as typeof fetch);
    const error = (await api.post("/admin/apps", {}).catch((e) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect([error.message, error.status, error.code, error.param]).toEqual(["name is required", 400, "invalid", "name"]);
    expect(error.notAvailable).toBe(false);
  });

  it("tells a route this deployment does not have from other 404s", async () => {
    const missing = { error: { message: "No route for POST /admin/apps", type: "not_found_error", code: "route_not_found" } };
    const api = createClient("", () => "t", undefined, (() => reply(404, missing)) as typeof fetch);
    expect(((await api.post("/admin/apps").catch((e) => e)) as ApiError).notAvailable).toBe(true);
    const gone = { error: { message: "app x not found", type: "not_found_error", code: "app_not_found" } };
    const api2 = createClient("", () => "t", undefined, (() => reply(404, gone)) as typeof fetch);
    expect(((await api2.get("/admin/apps/x").catch((e) => e)) as ApiError).notAvailable).toBe(false);
  });

  it("reports a body that is not the envelope by its status, and a 401 to the sign-out hook", async () => {
    const onUnauthorized = vi.fn();
    const api = createClient("", () => "t", onUnauthorized, (() => reply(401, "<html>no</html>", "text/html")) as typeof fetch);
    const error = (await api.get("/admin/whoami").catch((e) => e)) as ApiError;
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/^HTTP 401/);
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it("reports an unreachable API as such", async () => {
    const api = createClient("", () => "t", undefined, (() => Promise.reject(new TypeError("Failed to fetch"))) as typeof fetch);
    const error = (await api.get("/admin/apps").catch((e) => e)) as ApiError;
    expect([error.status, error.message]).toEqual([0, "The API could not be reached (Failed to fetch)"]);
  });
});
