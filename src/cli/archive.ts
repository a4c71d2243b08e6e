/**
 * The backup file: a gzip-compressed tar (POSIX ustar) of a few regular files, so `tar -tzf`
 * lists it and `tar -xzf` unpacks it without Census. Written streaming to a private temp file
 * that is renamed into place, so a failed backup never leaves a half-written file under the
 * final name. Reading accepts only regular files with the names the caller expects.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

const BLOCK = 512;
const OCTAL_SIZE_MAX = 8 ** 11; // sizes from here on use tar's base-256 form

export interface ArchiveEntry {
  /** Path inside the archive (`tls/cert.pem`). */
  name: string;
  /** The file on disk, or the content itself. */
  from: string | Buffer;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width, '0');
}

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100) throw new Error(`archive entry name too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write('0000600\0', 100); // mode: every file in a backup is private
  h.write('0000000\0', 108); // uid
  h.write('0000000\0', 116); // gid
  if (size < OCTAL_SIZE_MAX) h.write(`${octal(size, 11)}\0`, 124);
  else {
    h[124] = 0x80;
    h.writeUIntBE(size, 130, 6);
  }
  h.write(`${octal(Math.floor(mtime / 1000), 11)}\0`, 136);
  h.fill(' ', 148, 156); // the checksum counts its own field as spaces
  h.write('0', 156); // a regular file
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('census', 265);
  h.write('census', 297);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${octal(sum, 6)}\0 `, 148);
  return h;
}

interface Parsed {
  name: string;
  size: number;
}

function parseHeader(h: Buffer): Parsed {
  const text = (from: number, len: number) => h.toString('utf8', from, from + len).replace(/\0.*$/s, '');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  const stored = parseInt(text(148, 8).trim(), 8);
  if (text(257, 5) !== 'ustar' || stored !== sum) throw new Error('a tar header is damaged');
  const type = String.fromCharCode(h[156]!);
  if (type !== '0' && type !== '\0') throw new Error(`the archive holds something that is not a regular file (${text(0, 100)})`);
  const size = h[124]! & 0x80 ? h.readUIntBE(130, 6) : parseInt(text(124, 12).trim(), 8);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error('a tar header is damaged');
  const prefix = text(345, 155);
  return { name: prefix ? `${prefix}/${text(0, 100)}` : text(0, 100), size };
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

async function* tarStream(entries: ArchiveEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    const size = typeof e.from === 'string' ? statSync(e.from).size : e.from.length;
    yield header(e.name, size, Date.now());
    if (typeof e.from === 'string') {
      let sent = 0;
      for await (const chunk of createReadStream(e.from)) {
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      // The copies put in here are private temp files; one changing under us is a bug, not a race.
      if (sent !== size) throw new Error(`${e.from} changed while it was archived`);
    } else yield e.from;
    yield Buffer.alloc(padding(size));
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Writes `entries` as a .tar.gz to `dest` (mode 0600), replacing any file there only when complete. */
export async function writeArchive(dest: string, entries: ArchiveEntry[]): Promise<void> {
  const tmp = `${dest}.${process.pid}.tmp`;
  try {
    await pipeline(Readable.from(tarStream(entries)), createGzip(), createWriteStream(tmp, { mode: 0o600, flags: 'wx' }));
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Unpacks the .tar.gz at `src` into `dir` (which should be new and private), one file per entry
 * named by its position, so no name in the archive can point outside `dir`. `accept` decides which
 * names may appear; anything else, a name twice, or an archive cut short is an error.
 * Returns name → unpacked path, in archive order.
 */
export async function extractArchive(src: string, dir: string, accept: (name: string) => boolean): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const gunzip = createGunzip();
  const file = createReadStream(src);
  file.on('error', (err) => gunzip.destroy(err));
  file.pipe(gunzip);

  let pending: Buffer = Buffer.alloc(0);
  let current: { fd: number; left: number; pad: number } | undefined;
  let ended = false;
  try {
    for await (const chunk of gunzip) {
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      while (!ended) {
        if (current) {
          const n = Math.min(current.left, pending.length);
          if (n > 0) writeSync(current.fd, pending, 0, n);
          current.left -= n;
          pending = pending.subarray(n);
          if (current.left > 0 || pending.length < current.pad) break;
          pending = pending.subarray(current.pad);
          closeSync(current.fd);
          current = undefined;
          continue;
        }
        if (pending.length < BLOCK) break;
        const h = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        if (h.every((b) => b === 0)) {
          ended = true;
          break;
        }
        const { name, size } = parseHeader(h);
        if (!accept(name)) throw new Error(`the archive holds an unexpected file ${JSON.stringify(name)}`);
        if (out.has(name)) throw new Error(`the archive holds ${JSON.stringify(name)} twice`);
        const path = join(dir, String(out.size));
        out.set(name, path);
        current = { fd: openSync(path, 'wx', 0o600), left: size, pad: padding(size) };
      }
    }
    if (!ended || current) throw new Error('the archive is cut short');
  } finally {
    if (current) closeSync(current.fd);
    file.destroy();
  }
  return out;
}

/** SHA-256 (hex) of a file, read in chunks. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
