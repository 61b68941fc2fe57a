import type { OpenApiDocument } from './openapi.js';

type Json = Record<string, unknown>;

function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Escaped text with `code` spans rendered, for summaries and descriptions. */
function prose(value: unknown): string {
  return escapeHtml(value).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** A one-line type for a JSON schema: `string (1–63, pattern …)`, `array of Job`, links for $refs. */
function typeOf(schema: Json | undefined): string {
  if (!schema) return 'any';
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.split('/').pop() ?? '';
    return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  }
  const union = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (union) return union.map(typeOf).join(' | ');
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(' | ');
  if (schema.const !== undefined) return `<code>${escapeHtml(JSON.stringify(schema.const))}</code>`;
  if (schema.type === 'array') return `array of ${typeOf(schema.items as Json | undefined)}`;
  if (schema.type === 'object' && schema.properties) return propertiesTable(schema);
  if (schema.type === 'object') return schema.additionalProperties && typeof schema.additionalProperties === 'object' ? `object of ${typeOf(schema.additionalProperties as Json)}` : 'object';
  const limits = ['minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems', 'pattern', 'format', 'default']
    .filter((key) => schema[key] !== undefined)
    .map((key) => `${key} ${escapeHtml(JSON.stringify(schema[key]))}`);
  return `${escapeHtml(String(schema.type ?? 'any'))}${limits.length ? ` <small>(${limits.join(', ')})</small>` : ''}`;
}

function propertiesTable(schema: Json): string {
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries((schema.properties ?? {}) as Record<string, Json>).map(
    ([name, prop]) =>
      `<tr><td><code>${escapeHtml(name)}</code>${required.has(name) ? ' <b>*</b>' : ''}</td><td>${typeOf(prop)}</td><td>${prose(prop.description ?? '')}</td></tr>`,
  );
  return `<table><tr><th>field</th><th>type</th><th>description</th></tr>${rows.join('')}</table>`;
}

/** A self-contained HTML reference (no scripts, no CDN) rendered from the document, for /docs. */
export function renderDocsPage(document: OpenApiDocument): string {
  const sections: string[] = [];
  for (const [pathName, item] of Object.entries(document.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Json>)) {
      const scopes = (op['x-scopes'] as string[] | undefined) ?? [];
      const params = ((op.parameters as Json[] | undefined) ?? []).map(
        (p) => `<tr><td><code>${escapeHtml(p.name)}</code> <small>${escapeHtml(p.in)}</small>${p.required ? ' <b>*</b>' : ''}</td><td>${typeOf(p.schema as Json)}</td><td>${prose(p.description ?? '')}</td></tr>`,
      );
      const content = ((op.requestBody as Json | undefined)?.content ?? {}) as Record<string, Json>;
      const bodies = Object.entries(content).map(([type, media]) => `<p>Body <code>${escapeHtml(type)}</code>: ${typeOf(media.schema as Json)}</p>`);
      const responses = Object.entries((op.responses ?? {}) as Record<string, Json>).map(([status, response]) => {
        const media = Object.entries((response.content ?? {}) as Record<string, Json>).map(([type, m]) => `<code>${escapeHtml(type)}</code> ${typeOf(m.schema as Json)}`);
        return `<tr><td>${escapeHtml(status)}</td><td>${prose(response.description ?? '')}</td><td>${media.join('<br>')}</td></tr>`;
      });
      sections.push(`<section id="${escapeHtml(`${method}-${pathName}`)}">
<h3><span class="m ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(pathName)}</code></h3>
<p>${prose(op.summary ?? '')}${scopes.length ? ` — scope: <b>${scopes.map(escapeHtml).join(' or ')}</b>` : ' — no key needed'}</p>
${op.description ? `<p>${prose(op.description)}</p>` : ''}
${params.length ? `<table><tr><th>parameter</th><th>type</th><th>description</th></tr>${params.join('')}</table>` : ''}
${bodies.join('')}
<table><tr><th>status</th><th>meaning</th><th>body</th></tr>${responses.join('')}</table></section>`);
    }
  }
  const schemas = Object.entries((document.components?.schemas ?? {}) as Record<string, Json>).map(
    ([name, schema]) => `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${schema.description ? `<p>${prose(schema.description)}</p>` : ''}${typeOf({ ...schema, $ref: undefined })}</section>`,
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(document.info.title)} — API reference</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}table{border-collapse:collapse;margin:.5rem 0;width:100%}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f6f8fa}section{border-top:1px solid #d0d7de;padding:.5rem 0}.m{display:inline-block;min-width:4.5rem;padding:0 .4rem;border-radius:4px;color:#fff;font-size:.8rem;text-align:center}.get{background:#0969da}.post{background:#1a7f37}.delete{background:#cf222e}code{background:#f6f8fa;padding:0 .2rem}</style>
</head><body><h1>${escapeHtml(document.info.title)} <small>v${escapeHtml(document.info.version)}</small></h1>
<p>${prose(document.info.description ?? '')}</p><p>Machine-readable: <a href="openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(document.openapi)}). Fields marked <b>*</b> are required.</p>
<h2>Operations</h2>${sections.join('\n')}<h2>Schemas</h2>${schemas.join('\n')}</body></html>`;
}
