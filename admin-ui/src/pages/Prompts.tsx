/** Prompts belong to apps and are read with an app's token (`/v1/prompts`, scope genai/prompts.read); the admin
 * API has no route across apps yet, so this page says so instead of borrowing an app's credentials. */
export function PromptsPage() {
  return (
    <section>
      <h2>Prompts</h2>
      <div className="notice" role="status" data-testid="prompts-placeholder">
        Browsing prompts, their versions and labels arrives with the admin prompts API. Until then an app reads its own
        prompts with its token: <code>GET /v1/prompts</code>, <code>GET /v1/prompts/&#123;name&#125;/versions</code>{" "}
        (scope <code>genai/prompts.read</code>).
      </div>
    </section>
  );
}
