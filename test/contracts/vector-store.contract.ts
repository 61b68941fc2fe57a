/**
 * The behaviour every `VectorStore` adapter must show, exercised through the port only.
 * Each adapter's integration test calls {@link vectorStoreContract} with a factory for a fresh store.
 * Vectors are a hashed bag of words (deterministic, L2-normalised): the suite tests store semantics, not model quality.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/index.js';
import { fuseHybrid, hybridCandidateCount } from '../../src/retrieve/fusion.js';
import type { ChunkRecord, Metadata, ScoredChunk, SearchMode, SearchParams, VectorStore } from '../../src/retrieve/types.js';

/** What a factory hands the suite. */
export interface VectorStoreContractSubject {
  store: VectorStore;
  /** Dimensions the store was built with. */
  dimensions: number;
  /** Drops a collection after a test (outside the port); optional. */
  dropCollection?: (collection: string) => Promise<void>;
  /** Called once after the suite, e.g. to remove a temporary directory. */
  dispose?: () => Promise<void>;
}

/** Deterministic chunk id in UUID format, as the ingestion pipeline derives them. */
export function chunkId(documentId: string, chunkIndex: number): string {
  const hex = createHash('sha256').update(`${documentId}:${chunkIndex}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Hashed bag-of-words embedding, L2-normalised. */
export function embedText(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const hash = createHash('md5').update(word).digest();
    vector[hash.readUInt32LE(0) % dimensions]! += hash[4]! & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}

/** Runs the shared contract against the adapter built by `factory`. */
export function vectorStoreContract(name: string, factory: () => Promise<VectorStoreContractSubject>): void {
  describe(`VectorStore contract: ${name}`, () => {
    let subject: VectorStoreContractSubject;
    let store: VectorStore;
    let dims = 0;
    const runId = randomUUID().slice(0, 8);
    let used: string[] = [];
    let counter = 0;

    const collection = () => {
      const unique = `contract_${runId}_${++counter}`;
      used.push(unique);
      return unique;
    };
    const chunks = (documentId: string, texts: string[], metadata: Metadata = {}, extra: Partial<ChunkRecord> = {}): ChunkRecord[] => {
      let offset = 0;
      return texts.map((text, chunkIndex) => {
        const charStart = offset;
        offset += text.length + 1;
        return {
          id: chunkId(documentId, chunkIndex), documentId, source: `${documentId}.txt`, chunkIndex, text, charStart, charEnd: charStart + text.length,
          contentHash: `hash-${documentId}`, metadata, vector: embedText(text, dims), ...extra,
        };
      });
    };
    const put = (name: string, documentId: string, texts: string[], metadata: Metadata = {}, extra: Partial<ChunkRecord> = {}) =>
      store.replaceDocument({ collection: name, documentId, chunks: chunks(documentId, texts, metadata, extra) });
    const search = (name: string, mode: SearchMode, query: string, rest: Partial<SearchParams> = {}) =>
      store.search({ collection: name, mode, text: query, vector: embedText(query, dims), topK: 10, ...rest });
    const errorOf = async (promise: Promise<unknown>): Promise<AppError> => {
      try {
        await promise;
      } catch (error) {
        expect(error).toBeInstanceOf(AppError);
        return error as AppError;
      }
      throw new Error('expected the call to throw');
    };
    const docIds = (hits: ScoredChunk[]) => [...new Set(hits.map((hit) => hit.documentId))].sort();

    beforeAll(async () => {
      subject = await factory();
      store = subject.store;
      dims = subject.dimensions;
    });
    afterEach(async () => {
      if (subject.dropCollection) for (const name of used) await subject.dropCollection(name);
      used = [];
    });
    afterAll(async () => {
      await store?.close();
      await subject?.dispose?.();
    });

    it('is healthy', async () => {
      await expect(store.health()).resolves.toBeUndefined();
      expect(store.name).toMatch(/\S/);
    });

    it('replaces, describes and deletes a document', async () => {
      const c = collection();
      await put(c, 'doc-1', ['alpha bravo', 'charlie delta', 'echo foxtrot'], { team: 'core', tags: ['x'], nested: { a: 1 } }, { page: 2, headingPath: ['Intro', 'Scope'] });
      expect(await store.getDocument({ collection: c, documentId: 'doc-1' })).toEqual({
        documentId: 'doc-1', source: 'doc-1.txt', contentHash: 'hash-doc-1', metadata: { team: 'core', tags: ['x'], nested: { a: 1 } }, chunkCount: 3,
      });
      const [hit] = await search(c, 'dense', 'charlie delta', { topK: 1 });
      expect(hit).toMatchObject({ id: chunkId('doc-1', 1), chunkIndex: 1, text: 'charlie delta', page: 2, headingPath: ['Intro', 'Scope'], source: 'doc-1.txt' });
      expect(hit?.charEnd).toBe((hit?.charStart ?? 0) + 'charlie delta'.length);
      expect(await store.deleteDocument({ collection: c, documentId: 'doc-1' })).toBe(3);
      expect(await store.getDocument({ collection: c, documentId: 'doc-1' })).toBeNull();
      expect(await store.deleteDocument({ collection: c, documentId: 'doc-1' })).toBe(0);
      expect(await search(c, 'keyword', 'alpha')).toEqual([]);
    });

    it('re-replacing with fewer, equal or more chunks leaves no stale chunks', async () => {
      const c = collection();
      await put(c, 'doc', ['one oldterm', 'two oldterm', 'three oldterm', 'four oldterm', 'five staleonly']);
      await put(c, 'other', ['other document oldterm']);
      await put(c, 'doc', ['one newterm', 'two newterm']);
      expect((await store.getDocument({ collection: c, documentId: 'doc' }))?.chunkCount).toBe(2);
      expect(await search(c, 'keyword', 'staleonly')).toEqual([]);
      expect((await search(c, 'keyword', 'oldterm')).map((hit) => hit.documentId)).toEqual(['other']);
      expect((await search(c, 'keyword', 'newterm')).map((hit) => hit.chunkIndex).sort()).toEqual([0, 1]);
      const dense = await search(c, 'dense', 'one', { topK: 20, filter: { documentId: 'doc' } });
      expect(dense.map((hit) => hit.text).sort()).toEqual(['one newterm', 'two newterm']);
      await put(c, 'doc', ['one third', 'two third']);
      await put(c, 'doc', ['one fourth', 'two fourth', 'three fourth']);
      const all = await search(c, 'hybrid', 'one two three third fourth newterm', { topK: 50, filter: { documentId: 'doc' } });
      expect(all.map((hit) => hit.text).sort()).toEqual(['one fourth', 'three fourth', 'two fourth']);
      expect((await store.getDocument({ collection: c, documentId: 'other' }))?.chunkCount).toBe(1);
    });

    it('never shows old and new chunks of a document together while it is replaced', async () => {
      const c = collection();
      const version = (v: number) => Array.from({ length: v % 2 === 0 ? 4 : 6 }, (_, i) => `shared words part ${i} marker v${v}`);
      await put(c, 'doc', version(0), { version: 0 });
      let writing = true;
      let reads = 0;
      const modes: SearchMode[] = ['hybrid', 'keyword', 'dense'];
      const reader = async () => {
        while (writing) {
          const mode = modes[reads % modes.length]!;
          const hits = await search(c, mode, 'shared words part marker', { topK: 20 });
          reads++;
          const versions = new Set(hits.map((hit) => hit.metadata.version));
          expect(versions.size, `mixed versions in a ${mode} search: ${[...versions].join(',')}`).toBeLessThanOrEqual(1);
          const [only] = [...versions];
          // Fewer chunks than the version has is allowed mid-write (Qdrant may briefly show none); more would mean stale ones.
          if (only !== undefined) expect(hits.length).toBeLessThanOrEqual((only as number) % 2 === 0 ? 4 : 6);
        }
      };
      const readers = [reader(), reader()];
      try {
        for (let v = 1; v <= 16; v++) {
          await put(c, 'doc', version(v), { version: v });
          const after = await search(c, 'keyword', 'marker', { topK: 20 });
          expect(after.map((hit) => hit.metadata.version)).toEqual(Array(v % 2 === 0 ? 4 : 6).fill(v));
        }
      } finally {
        writing = false;
        await Promise.all(readers);
      }
      expect(reads).toBeGreaterThan(5);
    });

    it('applies every filter kind inside the store', async () => {
      const c = collection();
      const quoted = `O'Brien's "quoted" \\ value; DROP TABLE x; --`;
      await put(c, 'a', ['filter corpus alpha'], { year: 2021, team: 'core', draft: false, published: '2021-03-01T00:00:00Z', owner: quoted });
      await put(c, 'b', ['filter corpus bravo'], { year: 2022, team: 'edge', draft: true, published: '2022-06-15T12:00:00Z', owner: 'plain' });
      await put(c, 'c', ['filter corpus charlie'], { year: 2023, team: 'core', draft: false, published: '2023-01-10T08:30:00Z' });
      await put(c, 'd', ['filter corpus delta'], { score: 0.5 });
      const cases: [Record<string, unknown>, string[]][] = [
        [{ team: 'core' }, ['a', 'c']],
        [{ year: 2022 }, ['b']],
        [{ draft: true }, ['b']],
        [{ draft: false, team: 'core' }, ['a', 'c']],
        [{ team: { in: ['edge', 'none'] } }, ['b']],
        [{ year: { in: [2021, 2023] } }, ['a', 'c']],
        [{ year: { gt: 2021 } }, ['b', 'c']],
        [{ year: { gte: 2021, lt: 2023 } }, ['a', 'b']],
        [{ year: { lte: 2021 } }, ['a']],
        [{ published: { gte: '2022-01-01T00:00:00Z' } }, ['b', 'c']],
        [{ published: { gte: '2021-01-01T00:00:00Z', lt: '2022-12-31T00:00:00Z' } }, ['a', 'b']],
        [{ owner: quoted }, ['a']],
        [{ owner: { in: [quoted, 'nobody'] } }, ['a']],
        [{ owner: "x' OR '1'='1" }, []],
        [{ documentId: 'c' }, ['c']],
        [{ documentId: { in: ['a', 'd'] } }, ['a', 'd']],
        [{ source: 'b.txt' }, ['b']],
        [{ score: { gt: 0.25 } }, ['d']],
      ];
      for (const [filter, expected] of cases) {
        for (const mode of ['dense', 'keyword', 'hybrid'] as const) {
          const hits = await search(c, mode, 'filter corpus', { filter: filter as SearchParams['filter'] });
          expect(docIds(hits), `${mode} ${JSON.stringify(filter)}`).toEqual(expected);
        }
      }
    });

    it('filters before ranking, so a low-ranked match is still found', async () => {
      const c = collection();
      for (let i = 0; i < 12; i++) await put(c, `strong-${i}`, [`needle needle needle text ${i}`], { group: 'strong' });
      await put(c, 'weak', ['a long passage that mentions needle once among many other words here'], { group: 'weak' });
      for (const mode of ['dense', 'keyword', 'hybrid'] as const) {
        const hits = await search(c, mode, 'needle', { topK: 3, filter: { group: 'weak' } });
        expect(docIds(hits), mode).toEqual(['weak']);
      }
    });

    it('rejects unknown filter fields and ranges on booleans', async () => {
      const c = collection();
      await put(c, 'a', ['some text'], { year: 2024, draft: true, 'not-filterable': 'x' });
      const unknown = await errorOf(search(c, 'dense', 'text', { filter: { nope: 1 } }));
      expect(unknown.code).toBe('UNKNOWN_FILTER_FIELD');
      expect(unknown.category).toBe('user');
      for (const field of ['documentId', 'source', 'year', 'draft']) expect(unknown.message).toContain(field);
      expect((await errorOf(search(c, 'keyword', 'text', { filter: { 'not-filterable': 'x' } }))).code).toBe('UNKNOWN_FILTER_FIELD');
      expect((await errorOf(search(c, 'keyword', 'text', { filter: { draft: { gt: 0 } } }))).code).toBe('INVALID_FILTER');
      expect((await errorOf(search(c, 'hybrid', 'text', { filter: { year: 'recent' } }))).code).toBe('INVALID_FILTER');
    });

    it('rejects a metadata field whose type conflicts with the collection and keeps the old chunks', async () => {
      const c = collection();
      await put(c, 'a', ['typed field text'], { year: 2024 });
      await put(c, 'b', ['typed field orchid'], { year: 2023 });
      const conflict = await errorOf(put(c, 'b', ['typed field replaced'], { year: 'twenty' }));
      expect(conflict.code).toBe('METADATA_TYPE_CONFLICT');
      expect(conflict.message).toContain('year');
      expect(conflict.message).toContain('number');
      expect(conflict.message).toContain('string');
      expect((await search(c, 'keyword', 'orchid')).map((hit) => hit.documentId)).toEqual(['b']);
      expect(await search(c, 'keyword', 'replaced')).toEqual([]);
    });

    it('isolates collections holding near-identical text', async () => {
      const [a, b] = [collection(), collection()];
      await put(a, 'same-doc', ['quarterly revenue policy text collection-a'], { tenant: 'a' });
      await put(b, 'same-doc', ['quarterly revenue policy text collection-b'], { tenant: 'b' });
      for (const mode of ['dense', 'keyword', 'hybrid'] as const) {
        const hitsA = await search(a, mode, 'quarterly revenue policy text collection-b', { topK: 50 });
        expect(hitsA.map((hit) => hit.metadata.tenant), mode).toEqual(['a']);
        const hitsB = await search(b, mode, 'quarterly revenue policy text collection-a', { topK: 50 });
        expect(hitsB.map((hit) => hit.metadata.tenant), mode).toEqual(['b']);
      }
      expect(await store.deleteDocument({ collection: a, documentId: 'same-doc' })).toBe(1);
      expect((await store.getDocument({ collection: b, documentId: 'same-doc' }))?.chunkCount).toBe(1);
    });

    it('finds a rare exact term by keyword, the nearest vector by dense, and fuses both in hybrid', async () => {
      const c = collection();
      const texts = Array.from({ length: 20 }, (_, i) => `ordinary filler sentence number ${i} about travel expenses`);
      texts[13] = 'the access code is zyxquartz42 for the vault';
      await put(c, 'corpus', texts);
      const keyword = await search(c, 'keyword', 'zyxquartz42');
      expect(keyword.map((hit) => hit.chunkIndex)).toEqual([13]);
      expect(keyword[0]!.score).toBeGreaterThan(0);

      const dense = await store.search({ collection: c, mode: 'dense', vector: embedText(texts[7]!, dims), topK: 5 });
      expect(dense[0]?.chunkIndex).toBe(7);
      expect(dense[0]!.score).toBeCloseTo(1, 3);
      for (let i = 1; i < dense.length; i++) expect(dense[i - 1]!.score).toBeGreaterThanOrEqual(dense[i]!.score);

      const query = { collection: c, vector: embedText(texts[7]!, dims), text: 'zyxquartz42' };
      const hybrid = await store.search({ ...query, mode: 'hybrid', topK: 5 });
      expect(hybrid).toHaveLength(5);
      for (let i = 1; i < hybrid.length; i++) expect(hybrid[i - 1]!.score).toBeGreaterThanOrEqual(hybrid[i]!.score);
      // Every adapter fuses the same way: hybrid equals fuseHybrid over its own dense and keyword legs.
      const legs = hybridCandidateCount(5);
      const expected = fuseHybrid(
        await store.search({ ...query, mode: 'dense', topK: legs }),
        await store.search({ ...query, mode: 'keyword', topK: legs }),
        5,
      );
      expect(hybrid.map((hit) => hit.id)).toEqual(expected.map(({ item }) => item.id));
      hybrid.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i]!.score, 9));
      expect(hybrid.map((hit) => hit.chunkIndex)).toContain(13);
      expect(hybrid.map((hit) => hit.chunkIndex)).toContain(7);
    });

    it('ranks keyword hits by score right after a write, before any index maintenance', async () => {
      const c = collection();
      // The strongest match is stored last; a store that cuts an unranked scan at topK would miss it.
      const texts = Array.from({ length: 40 }, (_, i) => `weak mention of refund once in chunk ${i} among other words`);
      texts[39] = 'refund refund refund: the refund period and every refund rule';
      await put(c, 'refunds', texts);
      const [top] = await search(c, 'keyword', 'refund', { topK: 1 });
      expect(top?.chunkIndex).toBe(39);
      const ranked = await search(c, 'keyword', 'refund', { topK: 10 });
      for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1]!.score).toBeGreaterThanOrEqual(ranked[i]!.score);
    });

    it('respects topK in every mode', async () => {
      const c = collection();
      await put(c, 'many', Array.from({ length: 30 }, (_, i) => `repeated topic words chunk ${i}`));
      for (const mode of ['dense', 'keyword', 'hybrid'] as const) {
        expect(await search(c, mode, 'repeated topic words', { topK: 5 }), mode).toHaveLength(5);
        expect(await search(c, mode, 'repeated topic words', { topK: 1 }), mode).toHaveLength(1);
      }
    });

    it('treats a collection that does not exist as empty', async () => {
      const c = `missing_${runId}`;
      for (const mode of ['dense', 'keyword', 'hybrid'] as const) expect(await search(c, mode, 'anything'), mode).toEqual([]);
      expect(await store.getDocument({ collection: c, documentId: 'x' })).toBeNull();
      expect(await store.deleteDocument({ collection: c, documentId: 'x' })).toBe(0);
    });

    it('rejects malformed writes and searches', async () => {
      const c = collection();
      const wrongDims = chunks('d', ['text']).map((chunk) => ({ ...chunk, vector: new Float32Array(dims + 1) }));
      expect((await errorOf(store.replaceDocument({ collection: c, documentId: 'd', chunks: wrongDims }))).category).toBe('user');
      expect((await errorOf(store.replaceDocument({ collection: c, documentId: 'other', chunks: chunks('d', ['text']) }))).category).toBe('user');
      expect((await errorOf(search(c, 'dense', 'x', { topK: 0 }))).category).toBe('user');
      expect((await errorOf(store.search({ collection: c, mode: 'keyword', topK: 5 }))).category).toBe('user');
    });
  });
}
