import { useEffect, useMemo, useState } from "react";
import { createClient } from "./api";
import { beginSignIn, completeSignIn, signOut, storedTokens, type Tokens } from "./auth";
import { loadConfig, type PortalConfig } from "./config";
import { ApiContext, Problem, useLoad } from "./hooks";
import { AppsPage } from "./pages/Apps";
import { AuditPage } from "./pages/Audit";
import { DocumentsPage } from "./pages/Documents";
import { ModelsPage } from "./pages/Models";
import { PromptsPage } from "./pages/Prompts";
import { UsagePage } from "./pages/Usage";

const PAGES = {
  apps: ["Apps", AppsPage],
  usage: ["Usage", UsagePage],
  models: ["Models", ModelsPage],
  prompts: ["Prompts", PromptsPage],
  documents: ["Documents", DocumentsPage],
  audit: ["Audit", AuditPage],
} as const;
type PageName = keyof typeof PAGES;

function pageFromHash(): PageName {
  const name = window.location.hash.replace(/^#\/?/, "");
  return name in PAGES ? (name as PageName) : "apps";
}

/** The ID token's claims, for display only (the API checks the access token; nothing here trusts these). */
function idClaims(idToken?: string): Record<string, unknown> {
  try {
    const payload = idToken!.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(payload)))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Who is signed in, as the admin API sees it (GET /admin/whoami), named by the ID token's email. */
function WhoAmI({ idToken }: { idToken?: string }) {
  const me = useLoad((api) => api.get<{ username?: string | null; admin?: boolean }>("/admin/whoami"), []);
  const email = idClaims(idToken).email;
  if (me.error) return <span className="error small" data-testid="whoami">{me.error.message}</span>;
  if (!me.data) return <span data-testid="whoami">…</span>;
  return (
    <span data-testid="whoami" title={me.data.username ?? undefined}>
      {String(email || me.data.username || "signed in")}
      {me.data.admin === false && " (not in the admins group)"}
    </span>
  );
}

function Shell({ config, tokens, onSignedOut }: { config: PortalConfig; tokens: Tokens; onSignedOut: () => void }) {
  const [page, setPage] = useState<PageName>(pageFromHash);
  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const api = useMemo(
    () => createClient(config.apiUrl, () => tokens.accessToken, onSignedOut),
    [config.apiUrl, tokens.accessToken, onSignedOut],
  );
  const Current = PAGES[page][1];
  return (
    <ApiContext.Provider value={api}>
      <header>
        <b>GenAI platform admin</b>
        <nav>
          {(Object.keys(PAGES) as PageName[]).map((name) => (
            <a key={name} href={`#/${name}`} aria-current={name === page ? "page" : undefined}>
              {PAGES[name][0]}
            </a>
          ))}
        </nav>
        <span className="who">
          <WhoAmI idToken={tokens.idToken} />{" "}
          <button type="button" className="secondary" onClick={() => window.location.assign(signOut(config))}>
            Sign out
          </button>
        </span>
      </header>
      <main>
        <Current />
      </main>
    </ApiContext.Provider>
  );
}

export function App() {
  const [config, setConfig] = useState<PortalConfig | null>(null);
  const [tokens, setTokens] = useState<Tokens | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    (async () => {
      const cfg = await loadConfig();
      // The PKCE verifier is kept per origin: sign in on the origin the Hosted UI sends the browser back to.
      const home = new URL(cfg.redirectUri);
      if (window.location.origin !== home.origin) {
        window.location.replace(cfg.redirectUri + window.location.hash);
        return;
      }
      setConfig(cfg);
      const fresh = await completeSignIn(cfg, window.location.search);
      if (fresh || window.location.search) window.history.replaceState(null, "", home.pathname + "#/apps");
      setTokens(fresh ?? storedTokens());
    })()
      .catch((err: Error) => setError(err))
      .finally(() => setReady(true));
  }, []);

  const onSignedOut = useMemo(() => () => setTokens(null), []);
  if (!ready) return <p className="muted center">Loading…</p>;
  if (config && tokens) return <Shell config={config} tokens={tokens} onSignedOut={onSignedOut} />;
  return (
    <main className="signin">
      <h1>GenAI platform admin</h1>
      <p>Sign in with your administrator account (the admin user pool; members of the admins group).</p>
      <Problem error={error} what="Sign-in" />
      {config && (
        <button type="button" onClick={async () => window.location.assign(await beginSignIn(config))}>
          Sign in
        </button>
      )}
    </main>
  );
}
