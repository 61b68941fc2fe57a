/**
 * `npm run bench:isolation`: search and /healthz latency idle and while Python doc pages are bulk-uploaded, side by
 * side from the same run. Writes bench/results/isolation[-short].{json,md}; with --budgets, exits 1 when a check of
 * the `isolation` section fails (2 when the run itself failed). See bench/README.md.
 */
import { parseIsolationOptions } from './lib/isolation-options.js';
import { runIsolationBench } from './lib/isolation-run.js';

// Exit explicitly: keep-alive sockets must not keep the process alive.
runIsolationBench(parseIsolationOptions(process.argv.slice(2)), process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(2);
  },
);
