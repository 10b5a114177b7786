// The shipped impersonator role grants exactly the identities of the shipped identity map: the
// two are edited together, and this keeps them from drifting apart.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { expect, it } from 'vitest';
import { impersonatorRole, parseIdentityMap } from './identity-map.ts';

const docs = parseAllDocuments(readFileSync(fileURLToPath(new URL('../../../config/rbac/chat_impersonator_role.yaml', import.meta.url)), 'utf8'))
  .map((d) => d.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string>; rules?: unknown[] });

it('config/rbac/chat_impersonator_role.yaml impersonates exactly the mapped users and groups', () => {
  const map = parseIdentityMap(docs.find((d) => d.kind === 'ConfigMap')?.data);
  expect(map.size).toBeGreaterThan(0);
  const role = docs.find((d) => d.kind === 'ClusterRole')!;
  expect(role.rules).toEqual(impersonatorRole(role.metadata.name, map).rules);
});
