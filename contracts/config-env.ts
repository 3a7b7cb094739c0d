/** Env overrides win over the file: they are how containers and tests point pcpflow elsewhere. */
export function applyConfigEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  if (env.PCPFLOW_REDIS_URL) {
    const redis = out.redis && typeof out.redis === 'object' ? out.redis : {};
    out.redis = { ...redis, url: env.PCPFLOW_REDIS_URL };
  }
  if (env.PCPFLOW_HTTP_PORT) {
    const port = Number(env.PCPFLOW_HTTP_PORT);
    const http = out.http && typeof out.http === 'object' ? out.http : {};
    out.http = { ...http, port: Number.isNaN(port) ? env.PCPFLOW_HTTP_PORT : port };
  }
  if (env.PCPFLOW_OUTBOX_DIR) out.outbox = { dir: env.PCPFLOW_OUTBOX_DIR };
  return out;
}
