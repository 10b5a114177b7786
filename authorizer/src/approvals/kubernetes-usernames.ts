// The Kubernetes usernames a caller is known by. The API server may map a person's OIDC token to
// `oidc:alice` (claimMappings.username.prefix) or `https://idp#alice` (the legacy issuer prefix)
// while the agent's token names the same person `alice`: "the requester may not approve" is
// only true if both spellings are refused. The policy states the mapping (identity.kubernetesUsernames);
// this applies it to a verified caller.
import type { CallerIdentity } from '../gate/types.ts';
import { ApprovalBuildError } from './request.ts';

const placeholder = /\{(agent|operator|subject|issuer)\}/g;
const maxUsername = 512;

/**
 * Each template rendered for the caller; a template naming an identity the caller's token does
 * not carry (no operator claim, say) yields nothing. Throws on a template this version cannot
 * render: refusing to build the request beats recording an identity list with a hole in it.
 */
export function kubernetesUsernamesOf(caller: CallerIdentity, templates: readonly string[] | undefined): string[] {
  const values: Record<string, string | undefined> = {
    agent: caller.agent || caller.subject,
    operator: caller.operator,
    subject: caller.subject,
    issuer: caller.issuer,
  };
  const out: string[] = [];
  for (const template of templates ?? []) {
    if (/[{}]/.test(template.replace(placeholder, ''))) {
      throw new ApprovalBuildError(`identity.kubernetesUsernames template ${JSON.stringify(template)} has a placeholder other than {agent}, {operator}, {subject} or {issuer}`);
    }
    let missing = false;
    const name = template.replace(placeholder, (_m, key: string) => {
      const v = values[key];
      if (!v) missing = true;
      return v ?? '';
    });
    if (missing || name === '') continue;
    if (name.length > maxUsername) throw new ApprovalBuildError(`identity.kubernetesUsernames template ${JSON.stringify(template)} gives a username of ${name.length} characters (at most ${maxUsername})`);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
