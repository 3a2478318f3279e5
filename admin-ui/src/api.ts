/** The admin API client: bearer token, JSON, and the platform's one error envelope turned into ApiError. */

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
    readonly type: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** A route this deployment does not have yet (API Gateway's missing-route answer, or a plain 404 of one). */
  get notAvailable(): boolean {
    return this.status === 404 && (this.code === "route_not_found" || this.code === null);
  }
}

export interface Page<T> {
  data: T[];
  next_token?: string | null;
}

type Query = Record<string, string | number | null | undefined>;

export interface ApiClient {
  get<T>(path: string, query?: Query): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
  del<T>(path: string): Promise<T>;
}

export async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const error = (body as { error?: unknown } | null)?.error;
  if (error && typeof error === "object") {
    const e = error as { message?: unknown; type?: unknown; code?: unknown; param?: unknown };
    const message = typeof e.message === "string" && e.message ? e.message : `HTTP ${response.status}`;
    const str = (v: unknown) => (typeof v === "string" ? v : null);
    return new ApiError(message, response.status, str(e.code), str(e.type), str(e.param));
  }
  // API Gateway's own answers without the template's envelope ({"message": ...}), or a proxy's HTML page.
  const message = (body as { message?: unknown } | null)?.message;
  return new ApiError(
    typeof message === "string" ? message : `HTTP ${response.status} ${response.statusText}`.trim(),
    response.status,
  );
}

export function createClient(
  baseUrl: string,
  token: () => string | null,
  onUnauthorized: () => void = () => {},
  fetchImpl: typeof fetch = (...args) => fetch(...args),
): ApiClient {
  async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
    }
    const url = `${baseUrl}${path}${params.size ? `?${params}` : ""}`;
    const headers: Record<string, string> = { accept: "application/json" };
    const bearer = token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetchImpl(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(`The API could not be reached (${(err as Error).message})`, 0);
    }
    if (response.status === 401) onUnauthorized();
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return {
    get: (path, query) => request("GET", path, undefined, query),
    post: (path, body) => request("POST", path, body ?? {}),
    put: (path, body) => request("PUT", path, body),
    patch: (path, body) => request("PATCH", path, body),
    del: (path) => request("DELETE", path),
  };
}
