import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** A file to upload and the document id it gets (its path relative to the folder it was found in). */
export interface FileToIngest {
  path: string;
  documentId: string;
  size: number;
}

/**
 * Expands files and folders (recursively, skipping hidden entries) into files with one of `extensions`.
 * Document ids are paths relative to the given folder, so re-running on the same tree updates, never duplicates.
 */
export async function collectFiles(inputs: string[], extensions: Set<string>): Promise<FileToIngest[]> {
  const found = new Map<string, FileToIngest>();
  for (const input of inputs) {
    const absolute = path.resolve(input);
    const info = await stat(absolute);
    if (info.isDirectory()) {
      for await (const file of walk(absolute)) {
        if (!extensions.has(path.extname(file).toLowerCase())) continue;
        const size = (await stat(file)).size;
        found.set(file, { path: file, documentId: toDocumentId(path.relative(absolute, file)), size });
      }
    } else {
      found.set(absolute, { path: absolute, documentId: toDocumentId(path.basename(absolute)), size: info.size });
    }
  }
  return [...found.values()].sort((a, b) => a.documentId.localeCompare(b.documentId));
}

async function* walk(folder: string): AsyncGenerator<string> {
  const entries = await readdir(folder, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

/** Relative path with forward slashes and only the characters document ids allow. */
export function toDocumentId(relativePath: string): string {
  return relativePath
    .split(path.sep)
    .join('/')
    .replace(/[^A-Za-z0-9._:/@-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 256);
}
