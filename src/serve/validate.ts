import type { z } from 'zod';
import { ValidationError } from '../errors/index.js';

/** Parses `value` with `schema`, or throws a ValidationError whose message names each bad field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.join('.') || where,
    message: issue.message,
  }));
  const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  throw new ValidationError(`Invalid ${where}: ${summary}`, { details: { issues } });
}
