export const SCOPES = [
  "genai/invoke",
  "genai/prompts.read",
  "genai/prompts.write",
  "genai/documents.read",
  "genai/documents.write",
] as const;

export interface Limits {
  requests_per_minute?: number | null;
  tokens_per_minute?: number | null;
  tokens_per_day?: number | null;
  monthly_budget_usd?: number | null;
}

export interface AppView {
  id: string;
  name: string;
  description?: string | null;
  status: "active" | "disabled";
  scopes: string[];
  limits?: Limits | null;
  allowed_models?: string[] | null;
  created_at?: string;
  updated_at?: string;
  secret_rotated_at?: string | null;
}

export interface AppWithSecret {
  app: AppView;
  client_secret: string;
}

export interface UsageRow {
  day?: string;
  app_id?: string;
  model?: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens?: number;
  cost_usd: number;
  latency_p50_ms?: number | null;
  latency_p95_ms?: number | null;
}

export interface UsageReport {
  from: string;
  to: string;
  data: UsageRow[];
  totals?: Partial<UsageRow>;
}

export interface ModelEntry {
  alias: string;
  description?: string;
  targets: { provider: string; model: string; region?: string | null; base_url?: string | null }[];
  capabilities: string[];
  context_window: number;
  max_output_tokens?: number | null;
  dimensions?: number | null;
  input_price_per_1m?: number;
  output_price_per_1m?: number;
  [key: string]: unknown;
}

export interface DocumentRow {
  app_id: string;
  document_id: string;
  collection_id: string;
  filename: string;
  status: string;
  failure?: { error?: string; step?: string; message?: string } | string | null;
  execution_arn?: string | null;
  updated_at?: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  before?: unknown;
  after?: unknown;
}

export interface PromptSummary {
  name: string;
  latest_version: number;
  labels: Record<string, number>;
  description?: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
}

export interface PromptVersion {
  name: string;
  version: number;
  type: "text" | "chat";
  template?: string | null;
  messages?: { role: string; content?: unknown; [key: string]: unknown }[] | null;
  variables: string[];
  description?: string | null;
  model?: string | null;
  parameters?: Record<string, unknown> | null;
  tags: string[];
  created_at: string;
  labels: string[];
}

export interface PromptDetail {
  name: string;
  labels: Record<string, number>;
  resolved: PromptVersion & { resolved: { by: string; label: string | null } };
  versions: PromptVersion[];
  next_token?: string | null;
}
