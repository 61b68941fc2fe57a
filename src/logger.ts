import { pino, type Logger } from 'pino';

/** The service's structured JSON logger type. */
export type { Logger };

/** Creates the root logger; components take child loggers (`logger.child({ component })`). */
export function createLogger(params: { level: string; name?: string }): Logger {
  return pino({
    name: params.name ?? 'rag-service',
    level: params.level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
