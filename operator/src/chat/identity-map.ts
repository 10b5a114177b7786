// Which Kubernetes identity a chat user decides as: an explicit table, never a guess from a
// display name or an e-mail the chat platform reports. A ConfigMap holds one key per chat user,
// `slack.<team id>.<user id>`, whose value is `{"username": "...", "groups": [...]}`; the team id
// is part of the key because Slack user ids are only unique within a workspace. The same table
// yields the impersonator ClusterRole (resourceNames of exactly these users and groups), so the
// endpoint can impersonate no one else even if its code were subverted.
import { isJsonObject, parseStrictJson } from '../../../pkg/json/strict.ts';

export interface KubernetesIdentity {
  username: string;
  groups: string[];
}

export interface ChatUser {
  platform: 'slack';
  team: string;
  user: string;
}

export const chatUserKey = (u: ChatUser): string => `${u.platform}.${u.team}.${u.user}`;
const keyPattern = /^slack\.[A-Z0-9]{1,32}\.[A-Z0-9]{1,32}$/;
const reserved = /^system:/;

export class IdentityMapError extends Error {
  override name = 'IdentityMapError';
}

/** Parses the ConfigMap's data; any bad entry fails the whole table (fail closed, named). */
export function parseIdentityMap(data: Record<string, string> | undefined): Map<string, KubernetesIdentity> {
  const out = new Map<string, KubernetesIdentity>();
  for (const [key, raw] of Object.entries(data ?? {})) {
    if (!keyPattern.test(key)) throw new IdentityMapError(`identity map key ${JSON.stringify(key)} is not slack.<TEAM_ID>.<USER_ID> (upper-case Slack ids)`);
    let v: unknown;
    try {
      v = parseStrictJson(raw);
    } catch (e) {
      throw new IdentityMapError(`identity map entry ${key} is not JSON: ${(e as Error).message}`);
    }
    if (!isJsonObject(v)) throw new IdentityMapError(`identity map entry ${key} must be {"username": "...", "groups": [...]}`);
    const extra = Object.keys(v).filter((k) => k !== 'username' && k !== 'groups');
    if (extra.length) throw new IdentityMapError(`identity map entry ${key} has unknown fields: ${extra.join(', ')}`);
    const username = v.username;
    const groups = v.groups ?? [];
    if (typeof username !== 'string' || username === '' || username.length > 256) throw new IdentityMapError(`identity map entry ${key} needs a username`);
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string' && g !== '' && g.length <= 253)) throw new IdentityMapError(`identity map entry ${key}: groups must be a list of names`);
    // system: identities (service accounts, system:masters) are never a person's to decide as.
    if (reserved.test(username) || (groups as string[]).some((g) => reserved.test(g))) throw new IdentityMapError(`identity map entry ${key} maps to a system: identity, which no chat user may decide as`);
    out.set(key, { username, groups: [...new Set(groups as string[])] });
  }
  return out;
}

/** The ClusterRole the chat endpoint needs: impersonate exactly the mapped users and groups. */
export function impersonatorRole(name: string, map: ReadonlyMap<string, KubernetesIdentity>): Record<string, unknown> {
  const users = [...new Set([...map.values()].map((i) => i.username))].sort();
  const groups = [...new Set([...map.values()].flatMap((i) => i.groups))].sort();
  const rules: Array<Record<string, unknown>> = [];
  if (users.length) rules.push({ apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: users });
  if (groups.length) rules.push({ apiGroups: [''], resources: ['groups'], verbs: ['impersonate'], resourceNames: groups });
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole',
    metadata: { name, labels: { 'app.kubernetes.io/name': 'toolgate', 'app.kubernetes.io/component': 'chat-approvals' } },
    rules,
  };
}
