import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/**
 * Runs the service the way users do (`npm start` = `tsx src/serve/main.ts`) as a child process. It is started as
 * `node --import tsx src/serve/main.ts`, which is what the tsx CLI does, but in one process, so the pid whose
 * memory we read is the server itself and not a wrapper.
 */

/** Memory of the service process, in MiB, from /proc/<pid>/status. */
export interface ProcessMemory {
  /** Resident set size now (VmRSS). */
  rssMb: number;
  /** Peak resident set size since start (VmHWM). */
  peakRssMb: number;
}

/** A running service. */
export interface ServiceProcess {
  baseUrl: string;
  pid: number;
  logFile: string;
  /** Current and peak RSS; null when /proc is unavailable (not Linux). */
  memory(): ProcessMemory | null;
  /** Throws when the process has exited, naming the exit code or signal and the log. */
  assertRunning(): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of `startService`. */
export interface StartServiceOptions {
  /** Complete environment of the service (the caller decides what is inherited). PORT and HOST are set here. */
  env: NodeJS.ProcessEnv;
  /** Service stdout/stderr go here (pino JSON lines). */
  logFile: string;
  /** Give up when /readyz is not 200 within this time (model load included). */
  readyTimeoutMs?: number;
  /** Repository root (where src/serve/main.ts is). */
  cwd?: string;
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts the service and waits until GET /readyz answers 200; throws with the log tail if it exits or times out. */
export async function startService(options: StartServiceOptions): Promise<ServiceProcess> {
  const cwd = options.cwd ?? process.cwd();
  const port = await freePort();
  const host = '127.0.0.1';
  const log = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('src', 'serve', 'main.ts')], {
    cwd,
    env: { ...options.env, PORT: String(port), HOST: host },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      resolve(code);
    }),
  );

  const baseUrl = `http://${host}:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the service exited with code ${exitCode} before it was ready:\n${await logTail(options.logFile)}`);
    if (Date.now() > deadline) {
      await stopChild(child, exited, 5_000);
      throw new Error(`the service was not ready after ${options.readyTimeoutMs ?? 180_000} ms:\n${await logTail(options.logFile)}`);
    }
    try {
      const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  const pid = child.pid as number;
  return {
    baseUrl,
    pid,
    logFile: options.logFile,
    memory: () => readProcessMemory(pid),
    assertRunning: () => {
      if (exitCode === undefined) return;
      throw new Error(`the service (pid ${pid}) exited unexpectedly (${exitSignal ? `signal ${exitSignal}` : `code ${exitCode}`}); see ${options.logFile}`);
    },
    stop: (graceMs = 30_000) => stopChild(child, exited, graceMs),
  };
}

/** VmRSS and VmHWM of `pid` in MiB, or null without /proc. */
export function readProcessMemory(pid: number): ProcessMemory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : Number.NaN;
  };
  return { rssMb: field('VmRSS'), peakRssMb: field('VmHWM') };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function logTail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
