import { describe, expect, it } from 'vitest';
import { loadConfig, withoutServiceSecrets } from './config.js';

describe('reranker worker environment', () => {
  const env = {
    DATA_DIR: '/tmp/rag-config-test',
    PATH: '/usr/bin',
    HF_TOKEN: 'hf_x',
    MALLOC_ARENA_MAX: '2',
    API_KEYS: '[{"name":"app","key":"a-secret-of-24-characters","scopes":["query"]}]',
    LLM_API_KEY: 'sk-x',
    QDRANT_URL: 'http://qdrant:6333',
    QDRANT_API_KEY: 'q',
    REDIS_URL: 'redis://:password@redis:6379',
  };

  it("keeps everything but the service's own secrets (Hub variables stay: a worker may download its model)", () => {
    expect(withoutServiceSecrets(env)).toEqual({ DATA_DIR: '/tmp/rag-config-test', PATH: '/usr/bin', HF_TOKEN: 'hf_x', MALLOC_ARENA_MAX: '2' });
  });

  it('is what the parsed config hands to the reranker workers, frozen', () => {
    const config = loadConfig(env);
    expect(config.models.rerankWorkerEnv).toEqual(withoutServiceSecrets(env));
    expect(Object.isFrozen(config.models.rerankWorkerEnv)).toBe(true);
    expect(config.models.rerankWorkers).toBe(2);
  });
});
