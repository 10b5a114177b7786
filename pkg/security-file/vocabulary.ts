// The file format's keys and the CRD fields they map to, in one table per construct, so import
// and export cannot disagree and the documentation (docs/mcp-security-yaml.md) has one source.
import { classifierConditionKeys, fieldPathPattern, verbs, type ClassifierConditionKey } from '../../api/v1alpha1/index.ts';
import { durationPattern, labelPattern } from '../../api/v1alpha1/schema.ts';

export const hintKeys = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint', 'secretHint'] as const;
export type HintKey = (typeof hintKeys)[number];

/** Classifier condition: file key (snake_case, as §4.4/§4.5 write `not_contains`) → CRD key. */
export const conditionKeys: Record<string, ClassifierConditionKey> = Object.fromEntries(
  classifierConditionKeys.map((k) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), k]),
);
export const conditionFileKey = (k: ClassifierConditionKey): string => Object.entries(conditionKeys).find(([, v]) => v === k)![0];
export const numericConditions: readonly ClassifierConditionKey[] = ['greaterThan', 'lessThan', 'lengthGreaterThan', 'lengthLessThan'];

export const classifierKeys = ['field', ...Object.keys(conditionKeys), 'set_labels'] as const;
export const toolKeys = [...hintKeys, 'verb', 'labels', 'scopes'] as const;
export const packToolKeys = [...toolKeys, 'classify'] as const;

export const securityFileKeys = ['version', 'tenant', 'profiles', 'tool_overrides', 'classifiers', 'policies', 'servers', 'default_action', 'enforcement'] as const;
export const packKeys = ['service', 'description', 'tools', 'version', 'upstream'] as const;
export const policyKeys = ['name', 'description', 'when', 'match', 'action', 'approvers', 'quorum', 'timeout', 'priority'] as const;
export const whenKeys = [...hintKeys, 'verb', 'verbs', 'labels', 'servers', 'tools', 'roles'] as const;
export const profileRefKeys = ['name', 'server'] as const;

export const supportedVersions = ['1.0'] as const;

export const patterns = {
  label: new RegExp(labelPattern),
  duration: new RegExp(durationPattern),
  field: new RegExp(fieldPathPattern),
  server: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
  verb: new RegExp(`^(${verbs.join('|')})$`),
  semver: /^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$/,
  url: /^https?:\/\//,
  tenantVariable: /^[A-Za-z_][A-Za-z0-9_]*$/,
};
