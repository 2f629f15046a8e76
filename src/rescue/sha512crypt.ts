import { createHash, randomBytes } from 'node:crypto';
import { RdError, EXIT } from '../errors.js';

/**
 * SHA-512-crypt (`$6$`), Ulrich Drepper's "Unix crypt using SHA-256 and
 * SHA-512" (2008). We write `$6$` rather than yescrypt because no trustworthy
 * yescrypt exists in JS and every libxcrypt system still verifies `$6$`.
 */
const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const SHA512_DEFAULT_ROUNDS = 5000;
const ROUNDS_MIN = 1000; // libxcrypt refuses fewer (glibc clamps); we refuse too
const ROUNDS_MAX = 999_999_999;

/** The byte permutation of the final 64-byte digest into 86 base-64 characters. */
const ORDER: Array<[number, number, number]> = [];
for (let i = 0; i < 21; i++) {
  const t: [number, number, number] = [i, i + 21, i + 42];
  const k = i % 3; // each triple is rotated by one more place than the last
  ORDER.push([t[k], t[(k + 1) % 3], t[(k + 2) % 3]]);
}

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `len` bytes of `digest` repeated, as the algorithm's steps 11 and 16/20 need. */
function repeat(digest: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += 64) digest.copy(out, i, 0, Math.min(64, len - i));
  return out;
}

function b64(b: number, m: number, l: number, n: number): string {
  let w = (b << 16) | (m << 8) | l;
  let s = '';
  for (let i = 0; i < n; i++) {
    s += ALPHABET[w & 63];
    w >>>= 6;
  }
  return s;
}

/** A random 16-character salt from the crypt alphabet (6 random bits per character, uniform). */
export function randomSalt(): string {
  return [...randomBytes(16)].map((b) => ALPHABET[b & 63]).join('');
}

/**
 * Hashes `password` (UTF-8) with `salt` (at most 16 characters are used) and
 * `rounds` (undefined: the implicit default 5000, written without `rounds=`).
 */
export function sha512crypt(password: string | Buffer, salt: string, rounds?: number): string {
  if (rounds !== undefined && (!Number.isInteger(rounds) || rounds < ROUNDS_MIN || rounds > ROUNDS_MAX)) {
    throw new RdError(`rounds must be a whole number from ${ROUNDS_MIN} to ${ROUNDS_MAX}`, {}, EXIT.usage);
  }
  const key = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  const saltStr = salt.slice(0, 16);
  if (/[$:\n]/.test(saltStr)) throw new RdError('a crypt salt cannot contain "$", ":" or a newline', {}, EXIT.usage);
  const s = Buffer.from(saltStr, 'utf8');
  const r = rounds ?? SHA512_DEFAULT_ROUNDS;

  const b = sha512(key, s, key);
  const a = createHash('sha512').update(key).update(s).update(repeat(b, key.length));
  for (let n = key.length; n > 0; n >>= 1) a.update(n & 1 ? b : key);
  let c = a.digest();

  const dp = repeat(sha512(...Array<Buffer>(key.length).fill(key)), key.length);
  const ds = repeat(sha512(...Array<Buffer>(16 + c[0]).fill(s)), s.length);

  for (let i = 0; i < r; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? dp : c);
    if (i % 3) h.update(ds);
    if (i % 7) h.update(dp);
    h.update(i & 1 ? c : dp);
    c = h.digest();
  }

  let out = '';
  for (const [x, y, z] of ORDER) out += b64(c[x], c[y], c[z], 4);
  out += b64(0, 0, c[63], 2);
  const prefix = rounds === undefined ? '$6$' : `$6$rounds=${r}$`;
  return `${prefix}${saltStr}$${out}`;
}

/** A new `$6$` hash with a fresh random salt. */
export function hashPassword(password: string | Buffer, rounds?: number): string {
  return sha512crypt(password, randomSalt(), rounds);
}

/**
 * Verifies `password` against a `$6$` string (used by tests and `--dry-run`
 * sanity checks); other schemes are not ours to judge and return undefined.
 */
export function verifySha512crypt(password: string | Buffer, hash: string): boolean | undefined {
  const m = /^\$6\$(?:rounds=(\d+)\$)?([^$]*)\$/.exec(hash);
  if (!m) return undefined;
  const rounds = m[1] === undefined ? undefined : Math.min(Math.max(Number(m[1]), ROUNDS_MIN), ROUNDS_MAX);
  return sha512crypt(password, m[2], rounds) === hash;
}
