// `kubectl mcp audit verify|show|erase`: an audit trail read from a file (its rotated files with it) or the
// S3 sink: audit-source.ts). verify checks the chain, the signed checkpoints and the openings
// and says where it broke; show prints the records as a table or JSON; erase replaces a data
// subject's identifiers by a pseudonym (GDPR Art. 17) and records the erasure.
import { readFile } from 'node:fs/promises';
import { trustedKeysFromPem, type TrustedKeys } from '../authorizer/src/audit/checkpoint.ts';
import { EraseError, eraseSubjects } from '../authorizer/src/audit/erase.ts';
import { checkLine } from '../authorizer/src/audit/record.ts';
import { verifyTrail, type VerifyOptions } from '../authorizer/src/audit/verify.ts';
import { auditTable, rowOf, type AuditRow } from './audit-table.ts';
import { trailSource } from './audit-source.ts';
import { CliError, oneOf, parse, UsageError } from './cli.ts';

const command = 'audit';

export const auditHelp = `Verify, read and erase toolgate audit trails (the authorizer's AUDIT_FILE).

Usage:
  kubectl mcp audit verify FILE [--key PUBLIC.pem]... [--expect-seq N] [-o json]
  kubectl mcp audit show FILE [--type decision|approval|refusal|response|checkpoint|erasure]... [-o json]
  kubectl mcp audit erase --subject ID [--subject ID]... [--reason TEXT] [--key PUBLIC.pem]... FILE

verify   checks every line's hash and place in the chain, every personal value against its
         commitment, and, with --key, every checkpoint's signature; prints "intact to
         checkpoint N (seq S)" or the first line that was edited, deleted, inserted,
         reordered, truncated or forged. --expect-seq is the head seq an independent copy
         names (the authorizer logs it on close): a shorter trail was cut. Exit 1 when broken.
show     the records as a table (seq, time, agent, operator, server/tool, action, approval,
         outcome) or -o json; exit 1 (after printing) when the trail does not verify.
erase    replaces every identifier equal to an ID (give each one the person is known by: token
         subject, e-mail, approver name) by one pseudonym, appends an erasure line, and
         rewrites the file. Run it on a trail no authorizer is writing (rotated, or with the
         authorizer stopped). Exit 1 if a value remains that erasure cannot reach.

Flags:
      --key=FILE          a trusted checkpoint public key (PEM, SPKI); repeat for several
      --expect-seq=N      the seq the trail must reach
      --subject=ID        an identifier of the data subject (erase)
      --reason=TEXT       why (recorded in the erasure line; no personal data)
      --type=KIND         show only these line kinds
      --s3=URI            read s3://BUCKET/PREFIX/INSTANCE (the S3 sink) instead of a FILE
  -o, --output=FORMAT     json (default: text)
  -h, --help              show this help
`;

const options = {
  help: { type: 'boolean', short: 'h' },
  output: { type: 'string', short: 'o' },
  key: { type: 'string', multiple: true },
  'expect-seq': { type: 'string' },
  subject: { type: 'string', multiple: true },
  reason: { type: 'string' },
  type: { type: 'string', multiple: true },
  s3: { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
} as const;

async function keysFrom(files: string[] | undefined): Promise<TrustedKeys | undefined> {
  if (!files || files.length === 0) return undefined;
  const pems = await Promise.all(files.map(async (f) => {
    try {
      return { pem: await readFile(f, 'utf8'), what: `--key ${f}` };
    } catch (err) {
      throw new CliError(`cannot read --key ${f}: ${(err as Error).message}`);
    }
  }));
  try {
    return await trustedKeysFromPem(pems);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

function expectSeq(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new UsageError(`--expect-seq must be a whole number; got "${v}"`, command);
  return Number(v);
}

export async function audit(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    out.write(auditHelp);
    return 0;
  }
  const { values, positionals } = parse(`${command} ${sub}`, rest, options, 1);
  if (values.help) {
    out.write(auditHelp);
    return 0;
  }
  const output = oneOf(`${command} ${sub}`, 'output', values.output, ['json'] as const);
  const file = positionals[0];
  const s3 = { ...(values.s3 !== undefined ? { uri: values.s3 } : {}), ...(values['s3-endpoint'] ? { endpoint: values['s3-endpoint'] } : {}), ...(values['s3-region'] ? { region: values['s3-region'] } : {}) };
  const keys = await keysFrom(values.key);
  const verifyOptions: VerifyOptions = { ...(keys ? { keys } : {}), ...(values['expect-seq'] !== undefined ? { expectSeq: expectSeq(values['expect-seq']) as number } : {}) };
  switch (sub) {
    case 'verify': {
      const source = await trailSource(file, s3, `${command} verify`);
      const r = await verifyTrail(source, verifyOptions);
      if (output === 'json') out.write(`${JSON.stringify(r, null, 2)}\n`);
      else if (r.ok) out.write(`${source.name}: ok: ${r.summary}; ${r.records} records, head seq ${r.head.seq} hash ${r.head.hash}${r.erasures ? `, ${r.erasures} erasures` : ''}\n`);
      else err.write(`${source.name}: ${r.summary}\n`);
      return r.ok ? 0 : 1;
    }
    case 'show': {
      const source = await trailSource(file, s3, `${command} show`);
      const kinds = values.type;
      const rows: AuditRow[] = [];
      let n = 0;
      for await (const { text } of source.lines()) {
        n++;
        const checked = checkLine(text);
        if (!checked.ok) {
          err.write(`${source.name}: line ${n} is not shown: ${checked.reason}\n`);
          continue;
        }
        const row = rowOf(checked.line);
        if (row && (!kinds || kinds.includes(row.type))) rows.push(row);
      }
      out.write(output === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : auditTable(rows));
      const r = await verifyTrail(source, verifyOptions);
      if (!r.ok) {
        err.write(`warning: ${source.name} does not verify: ${r.summary}\n`);
        return 1;
      }
      return 0;
    }
    case 'erase': {
      if (values.s3 !== undefined) throw new UsageError('erase rewrites a file; an Object Lock store cannot be rewritten (erase the copy you restore from)', `${command} erase`);
      if (file === undefined) throw new UsageError('which trail? give a FILE', `${command} erase`);
      const subjects = values.subject ?? [];
      if (subjects.length === 0) throw new UsageError('give --subject ID (each identifier of the data subject)', `${command} erase`);
      try {
        const r = await eraseSubjects(file, subjects, { ...(values.reason ? { reason: values.reason } : {}), verify: verifyOptions });
        if (output === 'json') out.write(`${JSON.stringify(r, null, 2)}\n`);
        else out.write(`${file}: ${r.replaced} values on ${r.lines} lines replaced by ${r.pseudonym}; the erasure is recorded at seq ${r.seq}\n`);
        if (r.residual.length > 0) {
          err.write(`error: the subject still appears on line${r.residual.length > 1 ? 's' : ''} ${r.residual.join(', ')} (in chained text erasure cannot change without breaking the chain: a version 1 record, or free text quoting the value); the trail is NOT fully erased\n`);
          return 1;
        }
        return 0;
      } catch (e) {
        if (e instanceof EraseError) throw new CliError(e.message);
        throw e;
      }
    }
    default:
      throw new UsageError(`unknown audit command "${sub}" (verify, show, erase)`, command);
  }
}
