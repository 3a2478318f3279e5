/** What `config.json` (next to index.html) tells the portal: written by the stack in AWS, by the runtime offline. */
export interface PortalConfig {
  apiUrl: string;
  authorizeUrl: string;
  tokenUrl: string;
  logoutUrl: string | null;
  clientId: string;
  redirectUri: string;
  scopes: string;
}

export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<PortalConfig> {
  const response = await fetchImpl(new URL("config.json", document.baseURI).toString(), { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status})`);
  const config = (await response.json()) as PortalConfig;
  for (const key of ["apiUrl", "authorizeUrl", "tokenUrl", "clientId", "redirectUri"] as const) {
    if (typeof config[key] !== "string") throw new Error(`config.json has no ${key}`);
  }
  return { ...config, apiUrl: config.apiUrl.replace(/\/+$/, ""), scopes: config.scopes || "openid email genai/admin" };
}
