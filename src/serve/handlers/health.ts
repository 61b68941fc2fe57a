import type { HandlerDeps, ReadinessCheck } from './deps.js';

/** Runs every readiness check; `ready` when all required ones pass (optional features are reported only). */
export async function readiness(deps: HandlerDeps) {
  const probes = [
    ...Object.entries(deps.readiness).map(([name, check]) => ({ name, check, required: true })),
    ...Object.entries(deps.optionalReadiness ?? {}).map(([name, check]) => ({ name, check, required: false })),
  ];
  const entries = await Promise.all(probes.map(async ({ name, check, required }) => [name, { ...(await probe(check)), required }] as const));
  const ready = entries.every(([, result]) => result.ok || !result.required);
  return { status: ready ? ('ready' as const) : ('not_ready' as const), checks: Object.fromEntries(entries) };
}

async function probe(check: ReadinessCheck): Promise<{ ok: boolean; message?: string }> {
  try {
    await check();
    return { ok: true };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}
