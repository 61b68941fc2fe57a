import type { HandlerDeps } from './deps.js';

/** Runs every readiness check; `ready` only when all pass. */
export async function readiness(deps: HandlerDeps) {
  const entries = await Promise.all(
    Object.entries(deps.readiness).map(async ([name, check]) => {
      try {
        await check();
        return [name, { ok: true }] as const;
      } catch (error) {
        return [name, { ok: false, message: error instanceof Error ? error.message : String(error) }] as const;
      }
    }),
  );
  const checks = Object.fromEntries(entries);
  return { status: entries.every(([, result]) => result.ok) ? ('ready' as const) : ('not_ready' as const), checks };
}
