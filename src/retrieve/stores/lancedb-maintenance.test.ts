import { describe, expect, it } from 'vitest';
import { planVersionCleanup } from './lancedb-maintenance.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
type Versions = { version: number; timestamp: Date }[];
/** Versions committed `agesMs` before NOW, oldest first. */
const versionsAged = (...agesMs: number[]): Versions => agesMs.map((age, index) => ({ version: index + 1, timestamp: new Date(NOW - age) }));
/** A plan with a one-minute grace, a 10-minute orphan age and a 1 s last refresh (so a 5 s compaction allowance). */
const plan = (versions: Versions, overrides: Partial<Parameters<typeof planVersionCleanup>[0]> = {}) =>
  planVersionCleanup({ versions, now: NOW, retainVersionsMs: MINUTE, orphanFileAgeMs: 10 * MINUTE, lastRefreshMs: SECOND, ...overrides });
/** Versions LanceDB keeps under a cutoff: those not older, plus the latest. */
const kept = (versions: Versions, cutoff: Date) =>
  versions.filter((version, index) => version.timestamp >= cutoff || index === versions.length - 1).map((version) => version.version);
const keptBy = (versions: Versions, overrides: Partial<Parameters<typeof planVersionCleanup>[0]> = {}) =>
  kept(versions, plan(versions, overrides).options.cleanupOlderThan);

describe('planVersionCleanup', () => {
  it('keeps the version that was current a grace period ago, however old its commit, and every newer one', () => {
    // v2 was committed an hour ago but stayed the latest until v3, 5 s ago: a search may still be reading it.
    expect(keptBy(versionsAged(120 * MINUTE, 60 * MINUTE, 5 * SECOND, 1 * SECOND))).toEqual([2, 3, 4]);
  });

  it('drops every version replaced more than the grace period ago', () => {
    const versions = versionsAged(10 * MINUTE, 5 * MINUTE, 3 * MINUTE, 2 * MINUTE, 30 * SECOND);
    expect(keptBy(versions)).toEqual([4, 5]);
    expect(keptBy(versions, { retainVersionsMs: 0 })).toEqual([5]);
  });

  it('keeps everything while no version is older than the grace period', () => {
    const versions = versionsAged(50 * SECOND, 20 * SECOND, 1 * SECOND);
    expect(plan(versions).options.deleteUnverified).toBe(false);
    expect(keptBy(versions)).toEqual([1, 2, 3]);
  });

  it('lowers the cutoff by more than the compaction LanceDB runs before it prunes', () => {
    const versions = versionsAged(10 * MINUTE, 90 * SECOND, 70 * SECOND, 10 * SECOND);
    const { options, allowanceMs } = plan(versions, { lastRefreshMs: 15 * SECOND });
    expect(allowanceMs).toBe(30 * SECOND);
    expect(kept(versions, options.cleanupOlderThan)).toEqual([2, 3, 4]);
    // LanceDB measures the cutoff's age only after compacting: 30 s later, v3 (current 60 s before then) still stays.
    expect(kept(versions, new Date(options.cleanupOlderThan.getTime() + 30 * SECOND))).toEqual([3, 4]);
    // Without a last refresh to go by, the allowance is the grace period itself.
    expect(plan(versions, { lastRefreshMs: 0 }).allowanceMs).toBe(MINUTE);
  });

  it('deletes unreferenced files only when the oldest kept version is older than orphanFileAgeMs', () => {
    // LanceDB deletes an unreferenced file only if it was last written before the oldest version it keeps.
    expect(plan(versionsAged(20 * MINUTE, 5 * MINUTE, 10 * SECOND)).options.deleteUnverified).toBe(false);
    expect(plan(versionsAged(20 * MINUTE, 5 * MINUTE, 10 * SECOND), { orphanFileAgeMs: 4 * MINUTE }).options.deleteUnverified).toBe(true);
    const sweep = plan(versionsAged(20 * MINUTE, 11 * MINUTE, 10 * SECOND));
    expect(sweep.options.deleteUnverified).toBe(true);
    // An early prune would let LanceDB delete younger orphans: such a refresh never allows less than the grace period.
    expect(sweep.allowanceMs).toBe(MINUTE);
  });

  it('picks the current version by version number, not by a clock that went backwards', () => {
    const versions = [
      { version: 1, timestamp: new Date(NOW - 10 * MINUTE) },
      { version: 2, timestamp: new Date(NOW - 2 * MINUTE) },
      { version: 3, timestamp: new Date(NOW - 3 * MINUTE) },
      { version: 4, timestamp: new Date(NOW - 1 * SECOND) },
    ];
    expect(keptBy(versions)).toEqual([2, 3, 4]);
  });
});
