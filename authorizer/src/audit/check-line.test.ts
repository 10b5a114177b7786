// checkLine: the one check of an audit line read back (by the verifier, and by the trail when
// it continues a chain): strict JSON at any depth, the shape of its kind, its hash, its form.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonNumber } from '../../../pkg/json/number.ts';
import type { AuditDecisionBodyV2 } from '../../../pkg/contracts/audit.ts';
import { Committer } from './pseudonym.ts';
import { chain, checkLine, hashOf, openLine, serialize, type AuditLine } from './record.ts';
import { verifyAuditFile } from './verify.ts';

const digest = `hmac-sha256:${'a'.repeat(64)}`;
const committer = new Committer();
const subject = committer.commit('alice');
function body(args: unknown = { id: '1' }): AuditDecisionBodyV2 {
  return {
    type: 'decision', version: 2, time: '2026-01-01T00:00:00.000Z', decisionId: 'd-1', frontEnd: 'proxy', enforcement: 'enforce', policy: 'ns/p', revision: 'rev-1',
    server: 'gmail', tool: 'read_email', method: 'tools/call', classification: { verb: 'get', labels: [], annotations: {}, sources: [] }, action: 'allow', rule: 'r', reasons: ['why'],
    approval: 'bypassed', agent: { roles: [] }, caller: { subject, issuer: 'https://issuer.test' }, argumentsDigest: digest, arguments: args, redactions: {},
  };
}

const open = openLine('test', new Date(0));
const first = (args?: unknown) => chain({ body: body(args), personal: committer.openings }, 1, open.genesis);
/** A line with one field replaced and the hash recomputed, so only the shape is wrong. */
function reshaped(edit: (o: Record<string, unknown>) => void): string {
  const o = { ...first() } as Record<string, unknown>;
  edit(o);
  return serialize({ ...o, hash: hashOf(o) } as unknown as AuditLine).trimEnd();
}

function deep(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

describe('checkLine', () => {
  it('accepts what the writer writes, open line and records', () => {
    expect(checkLine(serialize(open).trimEnd())).toMatchObject({ ok: true, line: { type: 'open', seq: 0 } });
    expect(checkLine(serialize(first()).trimEnd())).toMatchObject({ ok: true, line: { type: 'decision', seq: 1, prev: open.genesis } });
  });

  it('hashes and checks arguments nested 3 000 and 100 000 deep without a RangeError', async () => {
    for (const depth of [3_000, 100_000]) {
      const line = first(deep(depth));
      expect(checkLine(serialize(line).trimEnd()).ok, String(depth)).toBe(true);
      const file = join(mkdtempSync(join(tmpdir(), 'toolgate-check-line-')), 'audit.jsonl');
      writeFileSync(file, serialize(open) + serialize(line));
      expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 1 });
    }
  }, 60_000);

  it('keeps numbers as written: 1.0 in the arguments verifies, and editing it to 1 breaks the hash', () => {
    const text = serialize(first({ amount: new JsonNumber('1.0'), big: new JsonNumber('1234567890123456789') })).trimEnd();
    expect(text).toContain('"amount":1.0');
    expect(checkLine(text)).toMatchObject({ ok: true, line: { arguments: { amount: 1, big: '1234567890123456789' } } });
    expect(checkLine(text.replace('"amount":1.0', '"amount":1'))).toMatchObject({ ok: false, reason: expect.stringContaining('hash mismatch') });
    expect(checkLine(text.replace('1234567890123456789', '1234567890123456700'))).toMatchObject({ ok: false, reason: expect.stringContaining('hash mismatch') });
  });

  it.each<[string, string, string]>([
    ['a truncated line', serialize(first()).slice(0, 40), 'not valid JSON (a truncated or edited line)'],
    ['a repeated key', serialize(first()).trimEnd().replace('"action":"allow"', '"action":"allow","action":"deny"'), 'duplicate key "action"'],
    ['a lone surrogate', serialize(first()).trimEnd().replace('"tool":"read_email"', '"tool":"read\\ud800"'), 'lone surrogate'],
    ['an array', '[1]', 'not a JSON object'],
    ['an unknown kind', reshaped((o) => { o.type = 'note'; }), 'field "type" is "note", expected one of "open", "decision", "approval"'],
    ['a missing field', reshaped((o) => { delete o.rule; }), 'decision record.rule: is required'],
    ['an unknown field', reshaped((o) => { o.approvedByMallory = true; }), 'decision record.approvedByMallory: is not a known field'],
    ['a caller without subject', reshaped((o) => { o.caller = { issuer: 'x' }; }), 'decision record.caller.subject: is required'],
    ['an identity in clear instead of committed', reshaped((o) => { o.caller = { subject: 'alice', issuer: 'x' }; }), 'decision record.caller.subject: must match pattern'],
    ['an unknown version', reshaped((o) => { o.version = 3; }), 'field "version" is 3, expected one of 1, 2'],
    ['a record at seq 0', reshaped((o) => { o.seq = 0; }), 'decision record.seq: must be >= 1'],
    ['a seq no double holds', reshaped((o) => { o.seq = new JsonNumber('9007199254740993'); }), 'decision record.seq: must be integer, got string'],
    ['a prev that is no hash', reshaped((o) => { o.prev = 'x'; }), 'decision record.prev: must match pattern'],
    ['a bad digest', reshaped((o) => { o.argumentsDigest = 'md5:1'; }), 'decision record.argumentsDigest: must match pattern'],
    ['a hash that is not hex', serialize(first()).trimEnd().replace(/"hash":"[0-9a-f]{64}"/, '"hash":"nope"'), 'decision record.hash: must match pattern'],
    ['an edited value', serialize(first()).trimEnd().replace('"rule":"r"', '"rule":"s"'), 'hash mismatch'],
    ['added whitespace', serialize(first()).trimEnd().replace('"rule":"r"', '"rule": "r"'), 'not in the canonical form the trail writes'],
    ['reordered keys', (() => {
      const t = serialize(first()).trimEnd();
      return `{"type":"decision",${t.slice(1).replace(',"type":"decision"', '')}`;
    })(), 'not in the canonical form the trail writes'],
    ['an open line with a record\'s seq', serialize({ ...open, seq: 1 } as unknown as AuditLine).trimEnd(), 'open line.seq: must be 0'],
  ])('refuses %s, saying why', (_name, text, reason) => {
    const r = checkLine(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });
});
