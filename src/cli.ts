import { Command, InvalidArgumentError, Option } from 'commander';
import { runIngestCommand } from './cli/ingest-command.js';

/** `rag` command line: bulk operations for content teams, talking to the service over HTTP. */
const program = new Command()
  .name('rag')
  .description('Command line for the RAG retrieval service')
  .showHelpAfterError();

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

program
  .command('ingest')
  .description('Upload files and folders (recursively) into a collection, wait for every job, print a summary')
  .argument('<paths...>', 'files or folders')
  .requiredOption('-c, --collection <name>', 'target collection')
  .addOption(new Option('-u, --url <url>', 'service base URL').default(process.env.RAG_URL ?? 'http://127.0.0.1:8080', '$RAG_URL, else http://127.0.0.1:8080'))
  .option('-k, --api-key <key>', 'API key with the ingest scope (default: $RAG_API_KEY)', process.env.RAG_API_KEY)
  .option('-m, --metadata <json>', 'JSON object attached to every document')
  .option('-j, --concurrency <n>', 'uploads in flight', positiveInt, 4)
  .option('--ext <list>', 'only these extensions, comma-separated (default: every supported type)')
  .addOption(
    new Option('-x, --exclude <glob>', "skip files whose path relative to the folder, or a parent folder of it, matches; repeatable (e.g. '_sources' for a Sphinx build)")
      .argParser((value: string, previous: string[]) => [...previous, value])
      .default([], 'none'),
  )
  .option('--timeout <seconds>', 'give up waiting for jobs after this long', positiveInt, 6 * 3600)
  .option('--json', 'print the summary as JSON')
  .action(async (paths: string[], options) => {
    process.exitCode = await runIngestCommand({ paths, ...options });
  });

await program.parseAsync();
