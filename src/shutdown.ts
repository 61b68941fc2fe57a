import type { Logger } from './logger.js';

/**
 * Shuts the process down on SIGTERM or SIGINT: runs `close` once, then exits 0, or 1 when it fails or takes longer
 * than `timeoutMs` (+5 s for the last writes). A second signal exits at once with 1.
 */
export function exitOnSignals(params: { logger: Logger; timeoutMs: number; stopping: string; close: () => Promise<void> }): void {
  const { logger, timeoutMs, stopping, close } = params;
  let started = false;
  const stop = (signal: string) => {
    if (started) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    started = true;
    logger.info({ signal, shutdownTimeoutMs: timeoutMs }, stopping);
    const force = setTimeout(() => {
      logger.error({ shutdownTimeoutMs: timeoutMs }, 'shutdown did not finish in time: exiting');
      process.exit(1);
    }, timeoutMs + 5_000);
    force.unref();
    close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
