import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { ApiError, type ApiClient } from "./api";

export const ApiContext = createContext<ApiClient | null>(null);

export function useApi(): ApiClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside the signed-in portal");
  return api;
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  reload: () => void;
}

/** Loads once per change of `deps`, and again on reload(). */
export function useLoad<T>(load: (api: ApiClient) => Promise<T>, deps: unknown[]): Loaded<T> {
  const api = useApi();
  const [state, setState] = useState<{ data: T | null; error: ApiError | Error | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load(api).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: Error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, tick, ...deps]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function Problem({ error, what }: { error: Error | null; what: string }) {
  if (!error) return null;
  if (error instanceof ApiError && error.notAvailable) {
    return (
      <div className="notice" role="status" data-testid="not-available">
        {what} is not available on this deployment yet: the admin API route it needs is not deployed.
      </div>
    );
  }
  return (
    <div className="error" role="alert">
      {error.message}
    </div>
  );
}

export function when(value?: string | null): string {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}
