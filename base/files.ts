// Every path medctc reads from the user (spec, imports, weights, adapters, data, CSVs, vocab) goes
// through here: what the path is is checked with stat before anything opens it, so a folder, a
// FIFO (whose open would block forever), a device, a link loop or a dangling link is answered with
// a sentence the caller puts in its diagnostic (exit 2), never an internal error or a hang.
import { lstatSync, openSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/** Thrown by openRegularFile / readRegularFile; `message` is the reason (see fileErrorText). */
export class NotARegularFile extends Error {
  constructor(readonly path: string, readonly why: string) { super(why); this.name = 'NotARegularFile'; }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'does not exist (a part of its path is a file, not a folder)',
  ELOOP: 'is a symbolic link loop',
  EACCES: 'cannot be read (permission denied)',
  EPERM: 'cannot be read (permission denied)',
  ENAMETOOLONG: 'has a name too long for this system',
  EISDIR: 'is a folder, not a file',
};

/** Why `path` is not a regular file medctc can read, or null when it is one (links followed). */
export function regularFileProblem(path: string): string | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT') {
      let target: string | null = null;
      try { if (lstatSync(path).isSymbolicLink()) target = readlinkSync(path); } catch { /* not there at all */ }
      if (target !== null) return `is a dangling symbolic link (to ${target}, which does not exist)`;
    }
    return ERRNO_TEXT[code] ?? `cannot be read (${code || String(e)})`;
  }
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'is a folder, not a file';
  if (st.isFIFO()) return 'is a named pipe (FIFO), not a file';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'is a device, not a file';
  if (st.isSocket()) return 'is a socket, not a file';
  return 'is not a regular file';
}

/** Opens a regular file for reading after checking what it is (throws NotARegularFile otherwise). */
export function openRegularFile(path: string): number {
  const why = regularFileProblem(path);
  if (why) throw new NotARegularFile(path, why);
  try { return openSync(path, 'r'); } catch (e) { throw new NotARegularFile(path, fileErrorText(e)); }
}

/** readFileSync for a regular file only (throws NotARegularFile otherwise). */
export function readRegularFile(path: string): Buffer;
export function readRegularFile(path: string, encoding: 'utf8'): string;
export function readRegularFile(path: string, encoding?: 'utf8'): Buffer | string {
  const why = regularFileProblem(path);
  if (why) throw new NotARegularFile(path, why);
  try { return encoding ? readFileSync(path, encoding) : readFileSync(path); } catch (e) { throw new NotARegularFile(path, fileErrorText(e)); }
}

/** The reason a read failed, as a diagnostic says it: "is a folder, not a file", "does not exist", ... */
export function fileErrorText(e: unknown): string {
  if (e instanceof NotARegularFile) return e.why;
  const code = (e as NodeJS.ErrnoException).code;
  return (code && ERRNO_TEXT[code]) ?? (code ? `cannot be read (${code})` : String((e as Error).message ?? e));
}
