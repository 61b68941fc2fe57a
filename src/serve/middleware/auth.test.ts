import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiKeyAuthenticator, canAccessCollection } from './auth.js';

const SECRET = 'query-key-0123456789abcdef';
const HASHED = 'admin-key-0123456789abcdef';

describe('ApiKeyAuthenticator', () => {
  const auth = new ApiKeyAuthenticator({
    defaultRateLimitPerMinute: 100,
    keys: [
      { name: 'app', key: SECRET, scopes: ['query'], collections: ['handbook'] },
      { name: 'ops', sha256: createHash('sha256').update(HASHED).digest('hex'), scopes: ['admin'], rateLimitPerMinute: 5 },
    ],
  });

  it('resolves plaintext and sha256-configured keys to their principal', () => {
    const app = auth.authenticate({ authorization: `Bearer ${SECRET}`, clientAddress: '::1' });
    expect(app).toMatchObject({ name: 'app', rateLimitPerMinute: 100, limitKey: 'key:app' });
    expect([...app.scopes]).toEqual(['query']);
    expect(canAccessCollection(app, 'handbook')).toBe(true);
    expect(canAccessCollection(app, 'other')).toBe(false);
    const ops = auth.authenticate({ authorization: `bearer   ${HASHED}`, clientAddress: '::1' });
    expect(ops).toMatchObject({ name: 'ops', rateLimitPerMinute: 5 });
    expect(canAccessCollection(ops, 'anything')).toBe(true);
  });

  it('refuses missing, malformed and unknown keys with UNAUTHORIZED', () => {
    for (const authorization of [undefined, '', SECRET, `Basic ${SECRET}`, `Bearer ${SECRET}x`, 'Bearer ', `Bearer ${SECRET} extra`]) {
      expect(() => auth.authenticate({ authorization, clientAddress: '::1' }), String(authorization)).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    }
  });

  it('without keys, everyone is anonymous with every scope, limited per address', () => {
    const open = new ApiKeyAuthenticator({ keys: [], defaultRateLimitPerMinute: 10 });
    expect(open.open).toBe(true);
    const principal = open.authenticate({ authorization: 'Bearer whatever', clientAddress: '10.0.0.1' });
    expect(principal).toMatchObject({ name: 'anonymous', limitKey: 'ip:10.0.0.1', collections: undefined });
    expect([...principal.scopes].sort()).toEqual(['admin', 'ingest', 'query']);
  });
});
