import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import { expect } from 'vitest';

/** The parts of an OpenAPI document the contract tests read. */
export interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
  components?: Record<string, unknown>;
}

/** Every (method, path) Express serves, with `:param` written as `{param}` like OpenAPI. */
export function expressRoutes(app: Express): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, enabled] of Object.entries(layer.route.methods)) {
          if (enabled && method !== '_all') out.push({ method, path: layer.route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}') });
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

/**
 * Validates real responses against the document: the status must be documented for the operation, the
 * Content-Type must be one it lists, and a JSON body must match that response's schema (JSON Schema 2020-12).
 */
export class ResponseValidator {
  private readonly ajv: Ajv2020;

  constructor(private readonly doc: OpenApiDoc) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(this.ajv);
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema(doc as object, 'openapi.json');
  }

  /** Asserts `response` (body already read as `body`) conforms to `method path`; returns the body parsed. */
  check(params: { method: string; path: string; response: Response; body: string }): unknown {
    const { method, path, response, body } = params;
    const operation = this.doc.paths[path]?.[method.toLowerCase()];
    expect(operation, `${method} ${path} is not in the document`).toBeDefined();
    const documented = operation?.responses[String(response.status)];
    expect(documented, `${method} ${path} answered ${response.status}, which the document does not list`).toBeDefined();
    const contentType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    const content = documented?.content;
    if (!content) return body;
    expect(Object.keys(content), `${method} ${path} ${response.status} answered ${contentType}`).toContain(contentType);
    if (contentType !== 'application/json') return body;
    const parsed: unknown = JSON.parse(body);
    const statusKey = String(response.status);
    const pointer = `openapi.json#/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method.toLowerCase()}/responses/${statusKey}/content/application~1json/schema`;
    const validate = this.ajv.getSchema(pointer);
    expect(validate, `no schema at ${pointer}`).toBeDefined();
    const ok = validate?.(parsed);
    expect(ok, `${method} ${path} ${statusKey} body does not match the document: ${JSON.stringify(validate?.errors)}\n${body.slice(0, 500)}`).toBe(true);
    return parsed;
  }
}
