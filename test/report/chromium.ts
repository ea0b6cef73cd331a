// Loads a page from disk in Debian's headless chromium and reports what a reviewer's browser would
// see: console errors and uncaught exceptions, every network request, what an expression evaluates
// to, and a full-page screenshot. It speaks the DevTools protocol over --remote-debugging-pipe
// (fd 3: commands to chromium, fd 4: its replies, NUL-terminated JSON), in plain Node: no
// puppeteer, nothing downloaded.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.MEDCTC_CHROMIUM ?? 'chromium';

export function chromiumVersion(): string | null {
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export interface PageVisit {
  /** Console messages of level error (console.error, failed loads, CSP violations) and uncaught exceptions. */
  errors: string[];
  /** Every request the page made, the document itself excluded. */
  requests: string[];
  value: unknown;
  screenshot: Buffer;
}

type Msg = { id?: number; method?: string; params?: Record<string, any>; result?: Record<string, any>; error?: { message: string }; sessionId?: string };

export async function visit(file: string, expression: string, opts: { width?: number; timeoutMs?: number } = {}): Promise<PageVisit> {
  const profile = mkdtempSync(join(tmpdir(), 'medctc-chromium-'));
  // Its own process group: the renderer, network and utility processes outlive the browser process
  // for a moment and keep writing into the profile, so cleanup waits for the whole group (an
  // ENOTEMPTY from rmSync on <profile>/Default failed CI once when only the browser was awaited).
  const proc = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
    `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  proc.stderr!.on('data', (d) => { stderr += String(d); });
  const toBrowser = proc.stdio[3] as Writable, fromBrowser = proc.stdio[4] as Readable;
  // A browser that died (or never started) is reported by `exited` below, not by a broken pipe.
  toBrowser.on('error', () => undefined);
  fromBrowser.on('error', () => undefined);
  const pending = new Map<number, { resolve: (m: Msg) => void; reject: (e: Error) => void }>();
  const listeners: ((m: Msg) => void)[] = [];
  let buf = '';
  fromBrowser.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let z: number;
    while ((z = buf.indexOf('\0')) >= 0) {
      const m = JSON.parse(buf.slice(0, z)) as Msg;
      buf = buf.slice(z + 1);
      if (m.id !== undefined && pending.has(m.id)) {
        const p = pending.get(m.id)!;
        pending.delete(m.id);
        if (m.error) p.reject(new Error(`chromium: ${m.error.message}`)); else p.resolve(m);
      } else for (const l of listeners) l(m);
    }
  });
  let next = 1;
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, any>> => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve: (m) => resolve(m.result ?? {}), reject });
    toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
  });
  const exited = new Promise<never>((_, reject) => {
    proc.on('exit', (code) => reject(new Error(`chromium exited (${code}) before the page was checked:\n${stderr.slice(-2000)}`)));
    proc.on('error', (e) => reject(new Error(`cannot start ${CHROMIUM}: ${e.message}`)));
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`chromium: no answer in ${opts.timeoutMs ?? 60_000} ms:\n${stderr.slice(-2000)}`)), opts.timeoutMs ?? 60_000).unref());
  exited.catch(() => undefined);
  timeout.catch(() => undefined);
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, exited, timeout]);
  try {
    const { targetId } = await guard(send('Target.createTarget', { url: 'about:blank' }));
    const { sessionId } = await guard(send('Target.attachToTarget', { targetId, flatten: true }));
    const s = (method: string, params: Record<string, unknown> = {}) => guard(send(method, params, sessionId));
    const url = pathToFileURL(file).href;
    const errors: string[] = [], requests: string[] = [];
    let loaded!: () => void;
    const load = new Promise<void>((r) => { loaded = r; });
    listeners.push((m) => {
      if (m.sessionId !== sessionId || !m.params) return;
      const p = m.params;
      if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) errors.push(`console.${p.type}: ${JSON.stringify(p.args?.map((a: { value?: unknown; description?: string }) => a.value ?? a.description))}`);
      if (m.method === 'Runtime.exceptionThrown') errors.push(`exception: ${p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text}`);
      if (m.method === 'Log.entryAdded' && p.entry?.level === 'error') errors.push(`log: ${p.entry.text} ${p.entry.url ?? ''}`.trim());
      if (m.method === 'Network.requestWillBeSent' && p.request?.url !== url) requests.push(p.request?.url);
      if (m.method === 'Page.loadEventFired') loaded();
    });
    await s('Page.enable');
    await s('Runtime.enable');
    await s('Log.enable');
    await s('Network.enable');
    await s('Emulation.setDeviceMetricsOverride', { width: opts.width ?? 1360, height: 900, deviceScaleFactor: 1, mobile: false });
    await s('Page.navigate', { url });
    await guard(load);
    const ev = await s('Runtime.evaluate', { expression, returnByValue: true });
    if (ev.exceptionDetails) errors.push(`evaluate: ${ev.exceptionDetails.exception?.description ?? ev.exceptionDetails.text}`);
    const metrics = await s('Page.getLayoutMetrics');
    const size = metrics.cssContentSize ?? metrics.contentSize;
    const shot = await s('Page.captureScreenshot', {
      format: 'png', captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: Math.ceil(size.width), height: Math.min(Math.ceil(size.height), 16_000), scale: 1 },
    });
    await guard(send('Browser.close')).catch(() => undefined);
    return { errors, requests, value: ev.result?.value, screenshot: Buffer.from(shot.data as string, 'base64') };
  } finally {
    if (proc.pid !== undefined) await killGroup(proc.pid);
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** SIGKILL every process of the group and wait until none is left (at most 10 s). */
async function killGroup(pgid: number): Promise<void> {
  const alive = (): boolean => {
    try { process.kill(-pgid, 0); return true; } catch { return false; }
  };
  try { process.kill(-pgid, 'SIGKILL'); } catch { return; }
  for (let waited = 0; alive() && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
}
