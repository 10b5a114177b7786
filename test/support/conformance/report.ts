// The conformance comparison as data (build/test-results/conformance.json) and as a table.
import type { Check, ScenarioResult } from './runner.ts';
import { failureReason } from './runner.ts';

export interface ScenarioRow {
  scenario: string;
  direct: ScenarioResult['outcome'];
  through: ScenarioResult['outcome'];
  /** Checks that succeed directly but not through toolgate, with what toolgate's side reported. */
  lost: string[];
  /** Checks that warn or fail through toolgate but not directly: a SHOULD toolgate breaks is a difference too. */
  newWarnings: string[];
  /** Why the scenario fails through toolgate (its failed checks), when it does. */
  throughReason?: string;
  /** Why it fails directly, when it does: a fault of the reference server or the suite, not of toolgate. */
  directReason?: string;
}

export interface ConformanceReport {
  suite: string;
  versions: Record<string, ScenarioRow[]>;
}

export function compare(scenario: string, direct: ScenarioResult, through: ScenarioResult): ScenarioRow {
  const throughById = new Map(through.checks.map((c) => [c.id, c]));
  const lost = direct.checks.filter((c) => c.status === 'SUCCESS' && throughById.get(c.id)?.status !== 'SUCCESS').map((c) => {
    const t = throughById.get(c.id);
    return `${c.id}: ${t ? `${t.status}${t.errorMessage ? ` ${t.errorMessage}` : ''}` : 'not reported'}`;
  });
  const directById = new Map(direct.checks.map((c) => [c.id, c]));
  const bad = (c: Check | undefined) => c?.status === 'WARNING' || c?.status === 'FAILURE';
  const newWarnings = through.checks.filter((c) => bad(c) && !bad(directById.get(c.id)) && !lost.some((l) => l.startsWith(`${c.id}:`)))
    .map((c) => `${c.id}: ${c.status}${c.errorMessage ? ` ${c.errorMessage}` : ''}`);
  return {
    scenario,
    direct: direct.outcome,
    through: through.outcome,
    lost,
    newWarnings,
    ...(through.outcome !== 'pass' ? { throughReason: failureReason(through) || 'no checks reported' } : {}),
    ...(direct.outcome !== 'pass' ? { directReason: failureReason(direct) || 'no checks reported' } : {}),
  };
}

/** A scenario regressed when it passes directly and fails through toolgate, loses a check that succeeded, or gains a warning. */
export function regressions(report: ConformanceReport): string[] {
  return Object.entries(report.versions).flatMap(([version, rows]) => rows
    .filter((r) => r.direct === 'pass' && (r.through !== 'pass' || r.lost.length > 0 || r.newWarnings.length > 0))
    .map((r) => `${version} ${r.scenario}: ${r.throughReason ?? [...r.lost, ...r.newWarnings].join('; ')}`));
}

export function table(report: ConformanceReport): string {
  const versions = Object.keys(report.versions);
  const scenarios = [...new Set(Object.values(report.versions).flatMap((rows) => rows.map((r) => r.scenario)))];
  const width = Math.max(...scenarios.map((s) => s.length), 'scenario'.length);
  const cell = (r: ScenarioRow | undefined) => (r ? `${r.direct} / ${r.through}${r.through === 'pass' && r.newWarnings.length > 0 ? ' (warns)' : ''}` : '-').padEnd(24);
  const lines = [
    `conformance ${report.suite}: direct / through toolgate`,
    `${'scenario'.padEnd(width)}  ${versions.map((v) => v.padEnd(24)).join('  ')}`,
    ...scenarios.map((s) => `${s.padEnd(width)}  ${versions.map((v) => cell(report.versions[v]!.find((r) => r.scenario === s))).join('  ')}`),
  ];
  for (const v of versions) {
    const rows = report.versions[v]!;
    lines.push(`${v}: ${rows.filter((r) => r.direct === 'pass').length}/${rows.length} pass directly, ${rows.filter((r) => r.through === 'pass').length}/${rows.length} through toolgate`);
  }
  return lines.join('\n');
}
