import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { ApiKeyConfig, ApiKeyScope } from '../../config.js';
import { ForbiddenError, UnauthorizedError } from '../../errors/index.js';
import type { TokenBucketRateLimiter } from './rate-limit.js';

/** Who is calling: a configured key, or `anonymous` when the service runs without keys. */
export interface Principal {
  name: string;
  scopes: ReadonlySet<ApiKeyScope>;
  /** Collections the key may use; undefined means all. */
  collections: ReadonlySet<string> | undefined;
  rateLimitPerMinute: number;
  /** Bucket key for rate limiting: the key name, or the client address when open. */
  limitKey: string;
}

interface StoredKey {
  digest: Buffer;
  principal: Omit<Principal, 'limitKey'>;
}

const ALL_SCOPES: ReadonlySet<ApiKeyScope> = new Set(['query', 'ingest', 'admin']);
const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Resolves `Authorization: Bearer <key>` to a Principal. Keys are held only as sha256 digests (plaintext keys from
 * API_KEYS are hashed at startup) and compared with timingSafeEqual against every configured key, so neither the
 * match nor its position leaks through timing. With no keys configured every caller is `anonymous` with all scopes.
 */
export class ApiKeyAuthenticator {
  private readonly keys: StoredKey[];
  private readonly defaultRateLimitPerMinute: number;

  constructor(params: { keys: readonly ApiKeyConfig[]; defaultRateLimitPerMinute: number }) {
    this.keys = params.keys.map((key) => ({
      digest: key.sha256 !== undefined ? Buffer.from(key.sha256, 'hex') : sha256(key.key as string),
      principal: {
        name: key.name,
        scopes: new Set(key.scopes),
        collections: key.collections === undefined ? undefined : new Set(key.collections),
        rateLimitPerMinute: key.rateLimitPerMinute ?? params.defaultRateLimitPerMinute,
      },
    }));
    this.defaultRateLimitPerMinute = params.defaultRateLimitPerMinute;
  }

  /** True when no keys are configured and the service is open to anyone who can reach it. */
  get open(): boolean {
    return this.keys.length === 0;
  }

  /** The caller behind an Authorization header; throws UnauthorizedError when keys are configured and none matches. */
  authenticate(params: { authorization: string | undefined; clientAddress: string }): Principal {
    if (this.open) {
      return { name: 'anonymous', scopes: ALL_SCOPES, collections: undefined, rateLimitPerMinute: this.defaultRateLimitPerMinute, limitKey: `ip:${params.clientAddress}` };
    }
    if (params.authorization === undefined || params.authorization === '') throw new UnauthorizedError();
    const token = BEARER.exec(params.authorization)?.[1];
    if (token === undefined) throw new UnauthorizedError('Malformed Authorization header: send "Authorization: Bearer <key>"');
    const presented = sha256(token);
    let found: StoredKey | undefined;
    for (const key of this.keys) {
      // No early exit: every key is compared on every request.
      if (timingSafeEqual(presented, key.digest) && found === undefined) found = key;
    }
    if (!found) throw new UnauthorizedError('Invalid API key');
    return { ...found.principal, limitKey: `key:${found.principal.name}` };
  }
}

/** Whether the principal may use the collection. */
export function canAccessCollection(principal: Principal, collection: string): boolean {
  return principal.collections === undefined || principal.collections.has(collection);
}

/** The principal set by `requireAccess` for this request. */
export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/** Options of one protected route. */
export interface AccessRule {
  /** Any one of these scopes grants access. */
  scopes: readonly ApiKeyScope[];
  /** Route parameter naming a collection the key must be granted (e.g. `collection`). */
  collectionParam?: string;
}

/**
 * Builds the per-route guard: authenticate (401), check scope and collection (403), then take a rate-limit token (429).
 * It runs before any body is parsed, so an unauthenticated upload never reaches the disk.
 */
export function createAccessGuard(params: {
  authenticator: ApiKeyAuthenticator;
  rateLimiter: TokenBucketRateLimiter;
}): (rule: AccessRule) => RequestHandler {
  const { authenticator, rateLimiter } = params;
  return (rule) => (req: Request, res: Response, next) => {
    try {
      let principal: Principal;
      try {
        principal = authenticator.authenticate({ authorization: req.header('authorization'), clientAddress: req.socket.remoteAddress ?? 'unknown' });
      } catch (error) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="rag-service"');
        throw error;
      }
      res.locals.principal = principal;
      if (!rule.scopes.some((scope) => principal.scopes.has(scope))) {
        throw new ForbiddenError(`API key '${principal.name}' lacks the scope this route needs (${rule.scopes.join(' or ')})`, {
          details: { required: [...rule.scopes] },
        });
      }
      const collection = rule.collectionParam === undefined ? undefined : req.params[rule.collectionParam];
      if (typeof collection === 'string' && !canAccessCollection(principal, collection)) {
        throw new ForbiddenError(`API key '${principal.name}' is not granted collection '${collection}'`, { details: { collection } });
      }
      const decision = rateLimiter.take({ key: principal.limitKey, perMinute: principal.rateLimitPerMinute });
      if (decision.limit !== undefined) {
        res.setHeader('RateLimit-Limit', String(decision.limit));
        res.setHeader('RateLimit-Remaining', String(decision.remaining));
      }
      if (!decision.allowed) throw decision.error;
      next();
    } catch (error) {
      next(error);
    }
  };
}
