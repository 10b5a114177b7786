// The compliance map's checker: it reads the control rows, and fails on a test that does not exist.
import { describe, expect, it } from 'vitest';
import { checkEvidence, holds, parseCompliance } from './check-compliance.ts';

const doc = (rows: string) => `# x\n\n| # | Control | Status | Evidence |\n|---|---|---|---|\n${rows}\n`;

describe('check-compliance', () => {
  it('parses control rows with their status and evidence', () => {
    const { controls, problems } = parseCompliance(doc('| G1 | scopes | **proven** | `a.test.ts` › "does x"<br>`cases.ts` › case "y" |\n| G2 | retention | open | sinks branch |'));
    expect(problems).toEqual([]);
    expect(controls).toMatchObject([
      { id: 'G1', status: 'proven', evidence: [{ file: 'a.test.ts', title: 'does x', kind: 'test' }, { file: 'cases.ts', title: 'y', kind: 'case' }] },
      { id: 'G2', status: 'open', evidence: [] },
    ]);
  });

  it('reads only tables whose header starts with #, not tables documenting formats', () => {
    const { controls, problems } = parseCompliance(`${doc('| G1 | x | open | - |')}\n| Field | Meaning |\n|---|---|\n| time | UTC |\n`);
    expect(problems).toEqual([]);
    expect(controls.map((c) => c.id)).toEqual(['G1']);
  });

  it('refuses a proven control without a test, an unknown status and a malformed row', () => {
    const { problems } = parseCompliance(doc('| G1 | scopes | proven | trust me |\n| G2 | x | done | - |\n| G3 | y |'));
    expect(problems).toEqual([
      'line 5: control G1 is proven but names no test',
      'line 6: control G2: status "done" is not proven, partial or open',
      'line 7: a control row has 2 cells, expected 4 (# | Control | Status | Evidence)',
    ]);
  });

  it('finds a test by its exact title, quotes escaped, and a case by its name; not a near miss', () => {
    const src = "it('says it\\'s fine', () => {});\ntest(\"other\", () => {});\nconst cases = [{ name: 'a bulk message', input: 1 }];";
    expect(holds(src, { file: 'f', title: "says it's fine", kind: 'test' })).toBe(true);
    expect(holds(src, { file: 'f', title: 'other', kind: 'test' })).toBe(true);
    expect(holds(src, { file: 'f', title: 'says it', kind: 'test' })).toBe(false);
    expect(holds(src, { file: 'f', title: 'a bulk message', kind: 'case' })).toBe(true);
    expect(holds(src, { file: 'f', title: 'a bulk message', kind: 'test' })).toBe(false);
  });

  it('reports a named test that does not exist, a missing file, and a test named in a non-test file', () => {
    const { controls } = parseCompliance(doc('| G1 | x | proven | `hack/check-compliance.test.ts` › "no such test"<br>`nope.test.ts` › "t"<br>`hack/check-compliance.ts` › "t" |'));
    expect(checkEvidence(controls, `${import.meta.dirname}/..`)).toEqual([
      'line 5: control G1: hack/check-compliance.test.ts has no test titled "no such test"',
      'line 5: control G1: nope.test.ts does not exist',
      'line 5: control G1: hack/check-compliance.ts is not a test file (name a case with › case "...")',
    ]);
  });
});
