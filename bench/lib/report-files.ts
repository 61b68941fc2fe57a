import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes `<base>.json` (pretty-printed), `<base>.md` and, when given, `<base>.svg` into `dir`; returns the paths. */
export async function writeReportFiles(params: { dir: string; base: string; json: unknown; markdown: string; svg?: string }): Promise<string[]> {
  await mkdir(params.dir, { recursive: true });
  const files: [string, string][] = [
    [`${params.base}.json`, `${JSON.stringify(params.json, null, 2)}\n`],
    [`${params.base}.md`, params.markdown],
  ];
  if (params.svg !== undefined) files.push([`${params.base}.svg`, params.svg]);
  const written: string[] = [];
  for (const [name, content] of files) {
    const file = path.join(params.dir, name);
    await writeFile(file, content);
    written.push(file);
  }
  return written;
}
