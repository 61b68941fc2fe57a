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
  /**
   * The service's own child processes (the reranker's RERANK_WORKERS), summed: they are part of what the service
   * costs. Absent when it has none or outside Linux.
   */
  children?: { count: number; rssMb: number; peakRssMb: number };
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

/** The port handed out last: a service started on it may not be listening yet, so the next call skips it. */
let lastPort: number | undefined;

/**
 * A TCP port that was free a moment ago: the first free one of BENCH_PORT_RANGE (`18500-18599`) when that is set
 * (machines shared by several runs give each its own range), else one the kernel picks.
 */
export async function freePort(range = process.env.BENCH_PORT_RANGE): Promise<number> {
  if (range === undefined || range === '') return listenOn(0);
  const match = /^(\d+)-(\d+)$/.exec(range.trim());
  if (!match) throw new Error(`BENCH_PORT_RANGE must look like 18500-18599, got '${range}'`);
  for (let port = Number(match[1]); port <= Number(match[2]); port++) {
    if (port === lastPort) continue;
    const free = await listenOn(port).catch(() => undefined);
    if (free !== undefined) {
      lastPort = free;
      return free;
    }
  }
  throw new Error(`no free port in BENCH_PORT_RANGE ${range}`);
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A TypeScript entry point running as a child process. */
export interface ScriptProcess {
  pid: number;
  /** Undefined while it runs; then how it ended (`code 1`, `signal SIGKILL`). */
  exitReason(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `script` with node, a `.ts` one as `node --import tsx <script>` (what the tsx CLI runs, but in one process, so
 * `pid` is the script's own), with stdout and stderr appended to `logFile`.
 */
export function startScript(params: { script: string; env: NodeJS.ProcessEnv; logFile: string; cwd?: string }): ScriptProcess {
  const log = openSync(params.logFile, 'a');
  const args = params.script.endsWith('.ts') ? ['--import', 'tsx', params.script] : [params.script];
  const child = spawn(process.execPath, args, { cwd: params.cwd ?? process.cwd(), env: params.env, stdio: ['ignore', log, log] });
  closeSync(log);
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitReason = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    }),
  );
  return {
    pid: child.pid as number,
    exitReason: () => exitReason,
    stop: (graceMs = 30_000) => stopChild(child, exited, graceMs),
  };
}

/** Starts the service and waits until GET /readyz answers 200; throws with the log tail if it exits or times out. */
export async function startService(options: StartServiceOptions): Promise<ServiceProcess> {
  const port = await freePort();
  const host = '127.0.0.1';
  const child = startScript({ script: path.join('src', 'serve', 'main.ts'), env: { ...options.env, PORT: String(port), HOST: host }, logFile: options.logFile, cwd: options.cwd });

  const baseUrl = `http://${host}:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
  for (;;) {
    const exitReason = child.exitReason();
    if (exitReason !== undefined) throw new Error(`the service exited (${exitReason}) before it was ready:\n${await logTail(options.logFile)}`);
    if (Date.now() > deadline) {
      await child.stop(5_000);
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
  const { pid } = child;
  return {
    baseUrl,
    pid,
    logFile: options.logFile,
    memory: () => readServiceMemory(pid),
    assertRunning: () => {
      const exitReason = child.exitReason();
      if (exitReason === undefined) return;
      throw new Error(`the service (pid ${pid}) exited unexpectedly (${exitReason}); see ${options.logFile}`);
    },
    stop: (graceMs) => child.stop(graceMs),
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

/** VmRSS and VmHWM of `pid`, with those of its child processes summed in `children`. */
export function readServiceMemory(pid: number): ProcessMemory | null {
  const own = readProcessMemory(pid);
  if (!own) return null;
  let childPids: number[] = [];
  try {
    childPids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return own;
  }
  const children = childPids.map(readProcessMemory).filter((memory): memory is ProcessMemory => memory !== null);
  if (children.length === 0) return own;
  const sum = (pick: (memory: ProcessMemory) => number) => Math.round(children.reduce((total, memory) => total + pick(memory), 0) * 10) / 10;
  return { ...own, children: { count: children.length, rssMb: sum((memory) => memory.rssMb), peakRssMb: sum((memory) => memory.peakRssMb) } };
}

async function stopChild(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The last `lines` lines of `file` (empty when it cannot be read). */
export async function logTail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
