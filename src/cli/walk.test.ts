import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectFiles, interleaveByExtension, toDocumentId } from './walk.js';

describe('collectFiles', () => {
  let root: string;
  const extensions = new Set(['.html', '.txt', '.md']);

  beforeAll(async () => {
    // A Sphinx build in miniature: pages, their raw _sources copies, a hidden folder and an unsupported file.
    root = await mkdtemp(path.join(os.tmpdir(), 'rag-walk-test-'));
    const files = ['index.html', 'library/json.html', '_sources/index.rst.txt', '_sources/library/json.rst.txt', '.doctrees/x.txt', 'library/logo.png'];
    for (const file of files) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), 'content');
    }
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('skips hidden entries and unsupported types, and keeps ids of underscore folders apart from others', async () => {
    const { files, excluded } = await collectFiles([root], { extensions });
    expect(excluded).toBe(0);
    expect(files.map((file) => file.documentId).sort()).toEqual(['index.html', 'library/json.html', 'root:_sources/index.rst.txt', 'root:_sources/library/json.rst.txt']);
  });

  it('excludes by glob on the relative path, or by a parent folder, and counts what it left out', async () => {
    for (const pattern of ['_sources/**', '_sources', '**/*.rst.txt']) {
      const { files, excluded } = await collectFiles([root], { extensions, exclude: [pattern] });
      expect(files.map((file) => file.documentId), pattern).toEqual(['index.html', 'library/json.html']);
      expect(excluded, pattern).toBe(2);
    }
    const { files, excluded } = await collectFiles([root], { extensions, exclude: ['library', '*.rst.txt'] });
    // `library` matches the top-level folder only; `*.rst.txt` has no `**/`, so it matches no nested file.
    expect(files.map((file) => file.documentId)).toEqual(['index.html', 'root:_sources/index.rst.txt', 'root:_sources/library/json.rst.txt']);
    expect(excluded).toBe(1);
  });
});

describe('toDocumentId', () => {
  it('keeps ids of ordinary paths and prefixes, rather than strips, a leading character ids cannot start with', () => {
    expect(toDocumentId('library/json.html')).toBe('library/json.html');
    expect(toDocumentId('My Notes/a b.md')).toBe('My-Notes/a-b.md');
    expect(toDocumentId('_posts/a.md')).toBe('root:_posts/a.md');
    expect(toDocumentId('_posts/a.md')).not.toBe(toDocumentId('posts/a.md'));
    expect(toDocumentId('-x.md')).toBe('root:-x.md');
  });
});

describe('interleaveByExtension', () => {
  it('takes one file of each extension in turn, each keeping its order', () => {
    const files = ['a.html', 'b.html', 'c.html', 'd.html', 'a.rst.txt', 'b.rst.txt', 'x.pdf'].map((name) => ({ path: `/docs/${name}` }));
    expect(interleaveByExtension(files).map((file) => path.basename(file.path))).toEqual(['a.html', 'a.rst.txt', 'x.pdf', 'b.html', 'b.rst.txt', 'c.html', 'd.html']);
  });
});
