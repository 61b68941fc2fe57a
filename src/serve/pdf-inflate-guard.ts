import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { constants, inflate } from 'node:zlib';
import { PayloadTooLargeError } from '../errors/index.js';

const inflateAsync = promisify(inflate);

/** Inflated bytes always allowed, whatever the file size. */
export const MIN_INFLATE_BUDGET_BYTES = 16 * 1024 * 1024;
/** Beyond the minimum, non-image streams may inflate to this many times the file size (text compresses ~5–10×). */
export const INFLATE_RATIO_BUDGET = 40;

const STREAM_KEYWORD = /stream\r?\n/g;

/**
 * Refuses a PDF whose Flate-compressed non-image streams (page content, object streams, fonts) inflate past
 * max(16 MiB, 40 × file size): a decompression bomb that would otherwise hold the parser for minutes.
 * Images are skipped (text extraction never decodes them, and legitimate scans inflate a lot). Inflation runs
 * on libuv's thread pool, capped by `maxOutputLength`, so the check itself needs at most the budget in memory.
 * Malformed streams are left for the parser to judge. Throws PayloadTooLargeError (HTTP 413).
 */
export async function assertPdfInflatesWithinBudget(params: { filePath: string; fileName: string }): Promise<void> {
  const bytes = await readFile(params.filePath);
  const budget = Math.max(MIN_INFLATE_BUDGET_BYTES, INFLATE_RATIO_BUDGET * bytes.length);
  let inflated = 0;
  for (const match of bytes.toString('latin1').matchAll(STREAM_KEYWORD)) {
    const start = (match.index ?? 0) + match[0].length;
    if (match.index !== undefined && match.index >= 3 && bytes.toString('latin1', match.index - 3, match.index) === 'end') continue;
    const dictionary = bytes.toString('latin1', Math.max(0, (match.index ?? 0) - 2048), match.index);
    const ownDictionary = dictionary.slice(dictionary.lastIndexOf(' obj'));
    if (!/\/FlateDecode\b/.test(ownDictionary) || /\/Subtype\s*\/Image\b/.test(ownDictionary)) continue;
    const end = bytes.indexOf('endstream', start, 'latin1');
    const data = bytes.subarray(start, end === -1 ? bytes.length : end);
    const remaining = budget - inflated;
    try {
      const out = await inflateAsync(data, { maxOutputLength: remaining + 1, finishFlush: constants.Z_SYNC_FLUSH });
      inflated += out.length;
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') inflated = budget + 1;
      // Any other zlib error: a corrupt stream, the parser reports it.
    }
    if (inflated > budget) {
      throw new PayloadTooLargeError(
        `'${params.fileName}' inflates to more than ${Math.round(budget / 2 ** 20)} MiB of page content (a decompression bomb?); split it or upload a text export`,
        { details: { file: params.fileName, fileBytes: bytes.length, maxInflatedBytes: budget } },
      );
    }
  }
}
