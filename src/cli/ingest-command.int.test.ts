import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../../test/helpers/service.js';
import type { IngestSummary } from './ingest-command.js';

/**
 * `rag ingest` as users run it (`bin/rag.js` in a child process) against a real service started in this process:
 * real pages of Python's docs (python3.11-doc), a fixture runbook, a scanned PDF without a text layer (the job
 * fails) and a file named .pdf that is not one (the upload is refused).
 */

const PYTHON_DOCS = '/usr/share/doc/python3.11/html';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<CliRun> {
  const env = { ...process.env };
  delete env.RAG_API_KEY;
  delete env.RAG_URL;
  const child = spawn(process.execPath, [path.resolve('bin/rag.js'), 'ingest', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Requests the service answered so far, by the routes the CLI uses (from /metrics). */
async function requestCounts(baseUrl: string): Promise<{ uploads: number; singleJob: number; listings: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const sum = (route: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith('rag_http_requests_total{') && line.includes(`route="${route}"`))
      .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
  return { uploads: sum('/v1/collections/:collection/documents'), singleJob: sum('/v1/jobs/:jobId'), listings: sum('/v1/jobs') };
}

describe('rag ingest (CLI) against a real service', () => {
  let service: TestService;
  let root: string;
  let clean: string;
  let mixed: string;

  beforeAll(async () => {
    service = await startTestService();
    root = await mkdtemp(path.join(os.tmpdir(), 'rag-cli-test-'));
    // clean/: two real Python doc pages in a sub-folder and the runbook; mixed/: the same plus two bad files.
    clean = path.join(root, 'clean');
    mixed = path.join(root, 'mixed');
    for (const folder of [clean, mixed]) {
      await mkdir(path.join(folder, 'library'), { recursive: true });
      await copyFile(path.join(PYTHON_DOCS, 'library', 'json.html'), path.join(folder, 'library', 'json.html'));
      await copyFile(path.join(PYTHON_DOCS, 'library', 'textwrap.html'), path.join(folder, 'library', 'textwrap.html'));
      await copyFile(path.resolve('fixtures/documents/oncall-runbook.txt'), path.join(folder, 'oncall-runbook.txt'));
    }
    // Sphinx's raw copy of a page: left out with --exclude below.
    await mkdir(path.join(clean, '_sources', 'library'), { recursive: true });
    await writeFile(path.join(clean, '_sources', 'library', 'json.rst.txt'), ':mod:`json` --- JSON encoder and decoder\n');
    await copyFile(path.resolve('fixtures/documents/scanned-no-text.pdf'), path.join(mixed, 'scanned-no-text.pdf'));
    await writeFile(path.join(mixed, 'notes.pdf'), 'Meeting notes, saved as text with a .pdf name.\n');
    // Not a supported extension: never uploaded, so it is not a failure either.
    await writeFile(path.join(mixed, 'diagram.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]));
  });

  afterAll(async () => {
    await service?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('exits 1 and names every failed file with its reason when some files fail', async () => {
    const collection = `cli-mixed-${randomUUID().slice(0, 8)}`;
    const run = await runCli([mixed, '--collection', collection, '--url', service.baseUrl]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/5 documents → 3 indexed, 0 unchanged, 2 failed; \d+ chunks/);
    expect(run.stdout).toMatch(/FAILED notes\.pdf: \[UNSUPPORTED_MEDIA_TYPE\] .*no %PDF- header/);
    expect(run.stdout).toMatch(/FAILED scanned-no-text\.pdf: \[NO_EXTRACTABLE_TEXT\] .*no extractable text layer/);
    expect(run.stdout).not.toContain('diagram.png');
    // The progress bar goes to stderr and ends with every document counted.
    expect(run.stderr).toMatch(/5\/5 documents .* ETA 0s/);
  });

  it('exits 0 on a clean folder, then reports every document unchanged on a re-run that polls no job on its own', async () => {
    const collection = `cli-clean-${randomUUID().slice(0, 8)}`;
    const args = [clean, '--collection', collection, '--url', service.baseUrl, '--exclude', '_sources', '--json'];
    const first = await runCli(args);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const summary = JSON.parse(first.stdout) as IngestSummary;
    expect(summary).toMatchObject({ collection, documents: 3, excluded: 1, indexed: 3, unchanged: 0, failed: 0, failures: [] });
    expect(first.stderr).toContain(`Ingesting 3 files into '${collection}' (1 excluded by --exclude)`);
    expect(summary.chunks).toBeGreaterThan(10);
    expect(summary.indexedChunks).toBe(summary.chunks);

    // Document ids are paths relative to the folder given.
    const page = await fetch(`${service.baseUrl}/v1/collections/${collection}/documents/${encodeURIComponent('library/json.html')}`);
    expect(page.status).toBe(200);
    expect(((await page.json()) as { chunkCount: number }).chunkCount).toBeGreaterThan(0);

    const requestsBefore = await requestCounts(service.baseUrl);
    const again = await runCli(args);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    // Jobs are watched through GET /v1/jobs listings, not one GET /v1/jobs/{id} per job and poll.
    const requestsAfter = await requestCounts(service.baseUrl);
    expect(requestsAfter.uploads - requestsBefore.uploads).toBe(3);
    expect(requestsAfter.singleJob - requestsBefore.singleJob).toBe(0);
    expect(requestsAfter.listings - requestsBefore.listings).toBeGreaterThan(0);
    expect(JSON.parse(again.stdout) as IngestSummary).toMatchObject({ documents: 3, indexed: 0, unchanged: 3, failed: 0, chunks: summary.chunks, indexedChunks: 0, chunksPerSecond: 0 });
  });

  it('exits 2 with a hint when the service cannot be reached', async () => {
    const run = await runCli([clean, '--collection', 'unreachable', '--url', 'http://127.0.0.1:9']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Cannot reach the service at http://127.0.0.1:9');
  });
});
