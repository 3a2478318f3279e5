/** Sign-in with the authorization code grant + PKCE against the admin pool's Hosted UI (or the runtime's stand-in).
 *
 * The verifier and state live in sessionStorage only between the redirect and its return; the tokens live in
 * sessionStorage (this tab, gone when it closes), never in localStorage or a cookie. */
import type { PortalConfig } from "./config";
import { challengeFor, randomVerifier } from "./pkce";

const PENDING = "genai-admin.pending";
const TOKENS = "genai-admin.tokens";

export interface Tokens {
  accessToken: string;
  idToken?: string;
  expiresAt: number; // epoch ms
}

export async function beginSignIn(config: PortalConfig, storage: Storage = sessionStorage): Promise<string> {
  const verifier = randomVerifier();
  const state = randomVerifier();
  storage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scopes,
    state,
    code_challenge: await challengeFor(verifier),
    code_challenge_method: "S256",
  });
  return `${config.authorizeUrl}?${params}`;
}

/** Exchanges `?code=&state=` for tokens when the Hosted UI sent the browser back; null when there is nothing to do. */
export async function completeSignIn(
  config: PortalConfig,
  search: string,
  storage: Storage = sessionStorage,
  fetchImpl: typeof fetch = fetch,
): Promise<Tokens | null> {
  const query = new URLSearchParams(search);
  const error = query.get("error");
  if (error) throw new Error(`Sign-in failed: ${query.get("error_description") || error}`);
  const code = query.get("code");
  if (!code) return null;
  const pending = JSON.parse(storage.getItem(PENDING) || "null") as { verifier: string; state: string } | null;
  storage.removeItem(PENDING);
  if (!pending || pending.state !== query.get("state")) {
    throw new Error("Sign-in failed: the answer does not belong to a sign-in started here; sign in again.");
  }
  const response = await fetchImpl(config.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.clientId,
      code,
      redirect_uri: config.redirectUri,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof body.access_token !== "string") {
    throw new Error(`Sign-in failed: ${String(body.error_description || body.error || `HTTP ${response.status}`)}`);
  }
  const tokens: Tokens = {
    accessToken: body.access_token,
    idToken: typeof body.id_token === "string" ? body.id_token : undefined,
    expiresAt: Date.now() + Number(body.expires_in || 3600) * 1000,
  };
  storage.setItem(TOKENS, JSON.stringify(tokens));
  return tokens;
}

export function storedTokens(storage: Storage = sessionStorage, now: number = Date.now()): Tokens | null {
  const tokens = JSON.parse(storage.getItem(TOKENS) || "null") as Tokens | null;
  // A minute's margin: a token that expires during a request is refused by the API.
  if (!tokens || tokens.expiresAt - 60_000 <= now) return null;
  return tokens;
}

/** Forgets the tokens; returns where to send the browser (the Hosted UI's logout in AWS, else the portal). */
export function signOut(config: PortalConfig, storage: Storage = sessionStorage): string {
  storage.removeItem(TOKENS);
  storage.removeItem(PENDING);
  if (!config.logoutUrl) return config.redirectUri;
  const params = new URLSearchParams({ client_id: config.clientId, logout_uri: config.redirectUri });
  return `${config.logoutUrl}?${params}`;
}
