// Erasure by pseudonym (GDPR Art. 17): a data subject's identifiers are replaced across a trail
// by one pseudonym, and the trail still verifies. Identities are commitments (pseudonym.ts):
// the chained hash covers "commit:<hash>", so replacing an opening {salt, value} with
// {pseudonym} changes no hash; dropping the salt leaves the commitment unlinkable to the value.
// The erasure is itself recorded: an erasure line, chained after the last line, lists the
// commitments it erased and the pseudonym (the verifier refuses a pseudonym no erasure names,
// so an erasure cannot be faked to hide who did something).
//
// The file and its rotated files are rewritten beside themselves and renamed over them. Erase a
// trail no authorizer is writing (with the authorizer stopped, or a copy): a writer holding the
// old file open would go on writing to the replaced copy.
//
// What erasure cannot reach, it reports: a version 1 trail holds identities in clear inside the
// chained hash, and free text (a reason, a redacted argument) may quote a value; those lines
// are listed as `residual` and the command says the subject is not fully erased.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Openings } from '../../../pkg/contracts/audit.ts';
import { newPseudonym } from './pseudonym.ts';
import { chain, checkLine, headAfter, serialize, type AuditLine } from './record.ts';
import { rotatedFileSource, trailFiles } from './rotation.ts';
import { fileLines, verifyTrail, type VerifyOptions } from './verify.ts';

export interface EraseResult {
  pseudonym: string;
  /** How many openings were replaced, and on how many lines. */
  replaced: number;
  lines: number;
  /** Lines where a subject's identifier still appears (in chained text erasure cannot change). */
  residual: number[];
  /** seq of the erasure line. */
  seq: number;
}

export class EraseError extends Error {
  override name = 'EraseError';
}

export async function eraseSubjects(file: string, subjects: readonly string[], o: { reason?: string; now?: Date; verify?: VerifyOptions } = {}): Promise<EraseResult> {
  const ids = [...new Set(subjects)].filter((s) => s !== '');
  if (ids.length === 0) throw new EraseError('no subject to erase: give --subject ID');
  // The trail is the file and the files it rotated into (FILE.<seq>): a subject's identifiers
  // are erased from all of them, or from none. Every file is rewritten beside itself, the erasure
  // line is chained once after the trail's last line (the active file), and only when the
  // rewritten set verifies as one chain are the copies renamed over the originals.
  const files = await trailFiles(file);
  if (files.length === 0) throw new EraseError(`${file} does not exist`);
  const before = await verifyTrail(rotatedFileSource(file), o.verify);
  if (!before.ok) throw new EraseError(`${file} does not verify, so it is not rewritten: ${before.summary}`);

  const pseudonym = newPseudonym();
  const erased: string[] = [];
  const residual: number[] = [];
  let lines = 0;
  let last: AuditLine | undefined;
  const copies = files.map((f) => join(dirname(f), `.${basename(f)}.erase-${randomBytes(6).toString('hex')}`));
  try {
    let n = 0;
    for (const [i, f] of files.entries()) {
      const out = await open(copies[i]!, 'wx', 0o600);
      try {
        for await (const { text } of fileLines(f)) {
          n++;
          const checked = checkLine(text);
          if (!checked.ok) throw new EraseError(`line ${n} changed while erasing: ${checked.reason}`);
          let line = checked.line;
          const personal = (line as { personal?: Openings }).personal;
          if (personal) {
            let changed = false;
            const next: Openings = {};
            for (const [c, opening] of Object.entries(personal)) {
              if ('value' in opening && ids.includes(opening.value)) {
                next[c] = { pseudonym };
                erased.push(c);
                changed = true;
              } else next[c] = opening;
            }
            if (changed) {
              line = { ...line, personal: next } as AuditLine;
              lines++;
            }
          }
          const written = serialize(line);
          // Anything of the subject left in the line (in clear), the caller must hear about.
          if (ids.some((id) => written.includes(JSON.stringify(id).slice(1, -1)))) residual.push(n);
          await out.write(written);
          last = line;
        }
        if (i === files.length - 1) {
          if (!last) throw new EraseError(`${file} is empty`);
          const head = headAfter(last);
          const erasure = chain({ body: { type: 'erasure', version: 2, time: (o.now ?? new Date()).toISOString(), pseudonym, commitments: erased, reason: (o.reason ?? 'GDPR Art. 17 erasure request').slice(0, 1024) } }, head.seq + 1, head.prev);
          await out.write(serialize(erasure));
          last = erasure;
        }
        await out.datasync();
      } finally {
        await out.close();
      }
    }
    const rewritten = { name: file, async *lines() { for (const c of copies) yield* fileLines(c); } };
    const after = await verifyTrail(rewritten, o.verify);
    if (!after.ok) throw new EraseError(`the erased copy does not verify (nothing was replaced): ${after.summary}`);
    for (const [i, f] of files.entries()) await rename(copies[i]!, f);
    return { pseudonym, replaced: erased.length, lines, residual, seq: last!.seq };
  } catch (err) {
    await Promise.all(copies.map((c) => rm(c, { force: true })));
    throw err;
  }
}
