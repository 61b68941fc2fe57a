import path from 'node:path';
import { parseArgs } from 'node:util';
import { integerOption } from './cli-options.js';

/** Flags of `npm run bench:isolation` (also passed on by `npm run bench`). */
export const ISOLATION_USAGE = `npm run bench:isolation -- [options]
  --short                 CI size: --pages 24 --idle-requests 150 --max-ingest-seconds 75
  --pages N               Python doc pages uploaded during the busy phase (subset first, then every other content page;
                          default: all 497 content pages)
  --uploads-in-flight 4   uploads submitted and not yet finished at any time (default 4)
  --idle-requests 300     searches of the idle phase (default 300)
  --max-ingest-seconds 1200   time cap of the busy phase; later pages are not submitted (default 1200)
  --top-k 10              topK of every search (default 10)
  --seed 42               seed of the searched corpus and the query pool
  --budgets FILE          check the 'isolation' section of a bench/budgets.json-style file; exit 1 when a check fails
  --enforce-targets       also fail on the issue's targets (reported only by default)
  --rebuild-cache         re-ingest the searched corpus even when it is cached
  --out DIR               report directory (default bench/results)`;

/** Parsed flags of the isolation bench. */
export interface IsolationOptions {
  short: boolean;
  /** Pages to upload; undefined: every content page. */
  pages: number | undefined;
  uploadsInFlight: number;
  idleRequests: number;
  maxIngestSeconds: number;
  topK: number;
  seed: number;
  budgets: string | undefined;
  enforceTargets: boolean;
  rebuildCache: boolean;
  out: string;
}

/** Parses the flags; `--help` prints the usage and exits. Throws naming a bad flag. */
export function parseIsolationOptions(argv: string[]): IsolationOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      short: { type: 'boolean', default: false },
      pages: { type: 'string' },
      'uploads-in-flight': { type: 'string' },
      'idle-requests': { type: 'string' },
      'max-ingest-seconds': { type: 'string' },
      'top-k': { type: 'string' },
      seed: { type: 'string' },
      budgets: { type: 'string' },
      'enforce-targets': { type: 'boolean', default: false },
      'rebuild-cache': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(ISOLATION_USAGE);
    process.exit(0);
  }
  const short = values.short ?? false;
  return {
    short,
    pages: values.pages === undefined && !short ? undefined : integerOption(values.pages, 'pages', 24),
    uploadsInFlight: integerOption(values['uploads-in-flight'], 'uploads-in-flight', 4, { max: 64 }),
    idleRequests: integerOption(values['idle-requests'], 'idle-requests', short ? 150 : 300),
    maxIngestSeconds: integerOption(values['max-ingest-seconds'], 'max-ingest-seconds', short ? 75 : 1200),
    topK: integerOption(values['top-k'], 'top-k', 10, { max: 100 }),
    seed: integerOption(values.seed, 'seed', 42),
    budgets: values.budgets,
    enforceTargets: values['enforce-targets'] ?? false,
    rebuildCache: values['rebuild-cache'] ?? false,
    out: values.out ?? path.join('bench', 'results'),
  };
}
