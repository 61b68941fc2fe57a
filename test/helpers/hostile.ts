import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createDeflate } from 'node:zlib';

/**
 * Writes a one-page PDF whose content stream is FlateDecode-compressed and inflates to `inflatedBytes` of
 * text-showing operators (a decompression bomb): a few hundred KB on disk, hundreds of MB once decoded.
 * Returns the file size.
 */
export async function writeDeflateBombPdf(filePath: string, inflatedBytes: number): Promise<number> {
  const line = Buffer.from(`BT /F1 12 Tf 72 700 Td (${'bomb '.repeat(200)}) Tj ET\n`);
  const deflate = createDeflate({ level: 9 });
  const compressed: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => compressed.push(chunk));
  const block = Buffer.concat(Array.from({ length: Math.ceil((1 << 20) / line.length) }, () => line));
  for (let written = 0; written < inflatedBytes; written += block.length) {
    if (!deflate.write(block)) await once(deflate, 'drain');
  }
  deflate.end();
  await once(deflate, 'end');
  const stream = Buffer.concat(compressed);

  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let size = 0;
  const push = (chunk: string | Buffer) => {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    parts.push(buffer);
    size += buffer.length;
  };
  const object = (body: string | Buffer[]) => {
    offsets.push(size);
    if (typeof body === 'string') push(`${offsets.length} 0 obj\n${body}\nendobj\n`);
    else {
      push(`${offsets.length} 0 obj\n`);
      body.forEach(push);
      push('\nendobj\n');
    }
  };
  push('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n');
  object('<< /Type /Catalog /Pages 2 0 R >>');
  object('<< /Type /Pages /Kids [3 0 R] /Count 1 >>');
  object('<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>');
  object('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  object([Buffer.from(`<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`), stream, Buffer.from('\nendstream')]);
  const xref = size;
  push(`xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`);
  push(`trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);

  const out = createWriteStream(filePath);
  for (const part of parts) out.write(part);
  out.end();
  await once(out, 'finish');
  return size;
}

/**
 * Measures this process's peak RSS from now until `stop()`: Linux's high-water mark (VmHWM, reset through
 * /proc/self/clear_refs) catches peaks inside long synchronous work; elsewhere a 25 ms sampler stands in.
 */
export function peakRss(): { stop: () => number } {
  let kernel = false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    kernel = true;
  } catch {
    // Not Linux, or not permitted.
  }
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 25);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      if (kernel) {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
        if (hwm) peak = Math.max(peak, Number(hwm) * 1024);
      }
      return peak;
    },
  };
}
