// Every credential failure is a CredentialError whose message names where the credential was
// looked for (server, Secret or Vault path, key) and never what it holds. Callers may log the
// message and return it to operators as is.

export type CredentialErrorReason =
  | 'NotConfigured' // the server's credentials block names no usable source
  | 'SecretNotFound'
  | 'KeyNotFound'
  | 'Forbidden'
  | 'InvalidValue' // empty, or characters that would break or inject an HTTP header
  | 'InvalidHeader'
  | 'VaultLogin'
  | 'Unavailable'; // the source could not be reached or answered an unexpected error

export class CredentialError extends Error {
  readonly reason: CredentialErrorReason;
  constructor(reason: CredentialErrorReason, message: string) {
    super(message);
    this.name = 'CredentialError';
    this.reason = reason;
  }
}

/**
 * Removes every occurrence of the given sensitive strings (a service-account JWT, a Vault
 * token) from a message that came from elsewhere, in case a peer ever echoes them back.
 */
export function scrub(message: string, sensitive: Array<string | undefined>): string {
  let out = message;
  for (const s of sensitive) if (s && s.length >= 8) out = out.split(s).join('[REDACTED]');
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}
