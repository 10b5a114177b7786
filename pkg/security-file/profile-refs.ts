// How the strategy document's profile references (`@openclaw/security-gmail`) name McpProfiles.
// `@openclaw/security-<name>` is the community pack published as McpProfile `<name>` in
// profiles/ (the shipped set is fixed here, so a reference to a pack we do not ship is an
// error instead of a profile that silently matches nothing); a bare DNS name refers to an
// McpProfile the cluster has (one the deployment wrote itself). No other scope maps: a
// look-alike `@0penclaw/security-gmail` must not pick up the community gmail profile.
export const communityScope = '@openclaw';

/** The McpProfiles shipped in profiles/ (kept equal to the directory by profile-refs.test.ts). */
export const shippedProfiles = [
  'business-automation', 'everything', 'filesystem', 'github', 'gmail', 'kubernetes', 'postgres', 'slack', 'stripe',
] as const;

export const profileNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const scoped = /^@([a-z0-9][a-z0-9._-]*)\/([a-z0-9][a-z0-9._-]*)$/;

/** The McpProfile name a reference means, or why it means none. */
export function profileNameOf(ref: string): { name: string } | { error: string } {
  const m = scoped.exec(ref);
  if (m) {
    const [, scope, pkg] = m as unknown as [string, string, string];
    if (`@${scope}` !== communityScope) return { error: `unknown profile scope "@${scope}": only ${communityScope}/security-<name> refers to a shipped community profile; write the McpProfile's name without a scope for your own` };
    const name = pkg.startsWith('security-') ? pkg.slice('security-'.length) : '';
    if (!(shippedProfiles as readonly string[]).includes(name)) return { error: `"${ref}" is not a shipped community profile (shipped: ${shippedProfiles.map((p) => `${communityScope}/security-${p}`).join(', ')})` };
    return { name };
  }
  if (profileNamePattern.test(ref) && ref.length <= 63) return { name: ref };
  return { error: `"${ref}" is neither ${communityScope}/security-<name> nor an McpProfile name (lower-case letters, digits and '-')` };
}

/** The reference `export` writes for an McpProfile name: the community form for shipped profiles. */
export function profileRefOf(name: string): string {
  return (shippedProfiles as readonly string[]).includes(name) ? `${communityScope}/security-${name}` : name;
}
