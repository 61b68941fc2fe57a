import { randomUUID } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import { describe } from 'vitest';
import { vectorStoreContract } from '../../../test/contracts/vector-store.contract.js';
import { QdrantVectorStore } from './qdrant-store.js';

const url = process.env.QDRANT_URL;
const DIMENSIONS = 64;

// Runs only against a real server: QDRANT_URL=http://localhost:6333 npx vitest run src/retrieve/stores/qdrant-store.int.test.ts
describe.skipIf(!url)('QdrantVectorStore against QDRANT_URL', () => {
  vectorStoreContract('qdrant', async () => {
    const apiKey = process.env.QDRANT_API_KEY;
    const client = new QdrantClient({ url: url as string, ...(apiKey ? { apiKey } : {}), checkCompatibility: false });
    const prefix = `test_${randomUUID().slice(0, 8)}_`;
    const store = new QdrantVectorStore({ url: url as string, apiKey, collectionPrefix: prefix, dimensions: DIMENSIONS, client });
    const drop = async (name: string) => {
      if ((await client.collectionExists(name)).exists) await client.deleteCollection(name);
    };
    return {
      store,
      dimensions: DIMENSIONS,
      dropCollection: (collection) => drop(store.collectionName(collection)),
      dispose: async () => {
        const { collections } = await client.getCollections();
        for (const { name } of collections) if (name.startsWith(prefix)) await drop(name);
      },
    };
  });
});
