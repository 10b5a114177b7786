// Personal values in the trail (identities of agents, operators, approvers) are committed, not
// chained: the record holds "commit:<sha256(salt NUL value)>" and the line carries the opening
// (salt and value) outside the chained hash. The chain proves the commitment; the opening
// proves the value (a forged value needs a sha256 preimage). Erasure (erase.ts) replaces an
// opening by a pseudonym and drops its salt: without the salt the commitment says nothing
// about the value (the salt is 128 random bits), and every hash in the chain still holds.
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import type { Openings } from '../../../pkg/contracts/audit.ts';

export type { Openings };

export function commitmentOf(salt: string, value: string): string {
  return `commit:${createHash('sha256').update(salt).update('\0').update(value, 'utf8').digest('hex')}`;
}

export const newPseudonym = (): string => `pseudonym:${randomBytes(16).toString('hex')}`;

/**
 * 128 random bits per commitment, cut from a pool filled 4 KiB at a time: one randomBytes call
 * per record was ~2 % of an audited Check. The pool's bytes are as unpredictable as a call per
 * salt, each is used once, and a used slice is zeroed so the pool never holds a past salt.
 */
const SALT_BYTES = 16;
const pool = Buffer.alloc(4096);
let used = pool.length;
function nextSalt(): string {
  if (used + SALT_BYTES > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const slice = pool.subarray(used, used + SALT_BYTES);
  const salt = slice.toString('hex');
  slice.fill(0);
  used += SALT_BYTES;
  return salt;
}

/** Collects the openings of one line's commitments. */
export class Committer {
  readonly openings: Openings = {};
  readonly #byValue = new Map<string, string>();

  /** The commitment of a value; one value committed twice in one line shares its commitment. */
  commit(value: string): string {
    const known = this.#byValue.get(value);
    if (known) return known;
    const salt = nextSalt();
    const c = commitmentOf(salt, value);
    this.openings[c] = { salt, value };
    this.#byValue.set(value, c);
    return c;
  }

  get empty(): boolean {
    return this.#byValue.size === 0;
  }
}

/** What a commitment shows a reader: the value, the pseudonym it was erased to, or undefined when its opening is missing. */
export function revealed(openings: Openings | undefined, c: string): string | undefined {
  const o = openings?.[c];
  if (!o) return undefined;
  return 'value' in o ? o.value : o.pseudonym;
}
