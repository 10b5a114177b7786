import { describe, expect, it } from 'vitest';
import { Duration } from '../api/v1alpha1/schema.ts';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it('parses the durations the CRDs admit', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1m30s500ms')).toBe(90_500);
    expect(parseDuration('0s')).toBe(0);
  });

  it('refuses anything else, naming the value, what it is for and the expected form', () => {
    for (const bad of ['', '10', '0', '1d', '-5s', 's', '1 h', ' 5s', '1h ', '1.h', '.5s', '5S', '1e3s']) {
      expect(() => parseDuration(bad), bad).toThrow(new RegExp(`invalid duration ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected numbers with units \\(ms, s, m, h\\), for example 30s, 15m, 1h or 1h30m`));
    }
    expect(() => parseDuration('1d', '--wait')).toThrow('invalid duration "1d" for --wait: expected');
    expect(() => parseDuration('1s'.repeat(20), 'spec.timeout')).toThrow(/for spec.timeout: "1s1s.*… is longer than 32 characters/);
  });

  it('accepts exactly what the CRD schema pattern admits', () => {
    const schema = Duration('x');
    const admits = (v: string) => v.length <= (schema.maxLength ?? 0) && new RegExp(schema.pattern ?? '$^').test(v);
    for (const v of ['30s', '1h30m', '1.5h', '10', '1d', '-1s', '', '90m', '1h1h', '0.25s', `${'9'.repeat(31)}s`, `${'9'.repeat(32)}s`]) {
      let parsed = true;
      try { parseDuration(v); } catch { parsed = false; }
      expect(parsed, v).toBe(admits(v));
    }
  });
});
