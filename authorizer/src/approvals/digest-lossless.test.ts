// Regression (issue 10): the approval digest covered JSON.parse's reading of the arguments, so
// {"a":1234567890123456789} and {"a":1234567890123456700}, or 1 and 1.0, shared a digest and an
// approval for one released the other. With the gate's lossless parse they differ. Fails on the
// code before (parseJsonRpc used JSON.parse: both bodies gave equal arguments).
import { describe, expect, it } from 'vitest';
import { parseJsonRpc } from '../gate/jsonrpc.ts';
import { JsonNumber } from '../../../pkg/json/strict.ts';
import { argumentsDigest, redactArguments } from './request.ts';

const argsOf = (args: string): Record<string, unknown> => {
  const m = parseJsonRpc(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":${args}}}`);
  if (m.kind !== 'request') throw new Error(m.kind);
  return m.message.params?.arguments as Record<string, unknown>;
};

describe('the approval digest over losslessly parsed arguments', () => {
  it('tells apart every pair of numbers an upstream can tell apart', () => {
    for (const [a, b] of [['{"a":1234567890123456789}', '{"a":1234567890123456700}'], ['{"a":1}', '{"a":1.0}'], ['{"a":1e2}', '{"a":100}'], ['{"a":0.30000000000000001}', '{"a":0.3}']]) {
      expect(argumentsDigest(argsOf(a as string)), `${a} vs ${b}`).not.toBe(argumentsDigest(argsOf(b as string)));
    }
    expect(argumentsDigest(argsOf('{"b":[1.0],"a":"x"}'))).toBe(argumentsDigest(argsOf('{ "a" : "x", "b" : [ 1.0 ] }')));
  });

  it('redacts to plain JSON values without recursing: numbers exact or as their text, any depth', () => {
    expect(redactArguments(argsOf('{"big":1234567890123456789,"one":1.0,"token":5,"__proto__":{"x":1}}'))).toEqual(JSON.parse('{"big":"1234567890123456789","one":1,"token":"[REDACTED:secret-key]","__proto__":{"x":1}}'));
    let deep: Record<string, unknown> = { v: new JsonNumber('2') };
    for (let i = 0; i < 20_000; i++) deep = { a: deep };
    let out = redactArguments(deep) as Record<string, unknown>;
    for (let i = 0; i < 20_000; i++) out = out.a as Record<string, unknown>;
    expect(out).toEqual({ v: 2 });
  });
});
