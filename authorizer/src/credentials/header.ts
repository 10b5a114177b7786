// Turns a credential value into the one upstream header, refusing anything that could split or
// smuggle a header. Pure: unit-tested beside.
import { CredentialError } from './errors.ts';

/** Node's own rule for header values (lib/_http_common.js checkInvalidHeaderChar). */
const invalidValueChar = /[^\t\x20-\x7e\x80-\xff]/;
const headerName = /^[A-Za-z0-9-]+$/;

/**
 * Headers a credential may not occupy: they frame the request (hop-by-hop, length, host) or
 * belong to the MCP session, so setting them from a Secret would break or hijack the call.
 */
const reservedHeaders = new Set([
  'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'proxy-connection', 'accept',
]);

export interface HeaderSpec {
  header?: string;
  scheme?: string;
}

/** Where the value came from, for messages: for example `Secret ns/name key "token"`. */
export function checkHeaderValue(value: string, origin: string): void {
  if (value.length === 0) throw new CredentialError('InvalidValue', `${origin} is empty`);
  if (/[\r\n]/.test(value)) {
    throw new CredentialError('InvalidValue',
      `${origin} contains a line break, which would inject a header; refused (a trailing newline often comes from \`echo\`: use \`echo -n\` or --from-file)`);
  }
  if (invalidValueChar.test(value)) {
    throw new CredentialError('InvalidValue', `${origin} contains a control or non-Latin-1 character, which an HTTP header value cannot carry; refused`);
  }
}

/** `{ <header>: "<scheme> <value>" }`, header defaulting to Authorization and scheme to Bearer. */
export function credentialHeader(spec: HeaderSpec, value: string, origin: string): Record<string, string> {
  const name = spec.header ?? 'Authorization';
  if (!headerName.test(name) || name.length > 128) {
    throw new CredentialError('InvalidHeader', `credentials.header ${JSON.stringify(name)} is not a valid header name (letters, digits and '-')`);
  }
  const lower = name.toLowerCase();
  if (reservedHeaders.has(lower) || lower.startsWith('mcp-') || lower.startsWith('proxy-')) {
    throw new CredentialError('InvalidHeader', `credentials.header ${JSON.stringify(name)} is reserved for the transport or the MCP session; choose another header`);
  }
  const scheme = spec.scheme ?? 'Bearer';
  if (scheme !== '' && (invalidValueChar.test(scheme) || /\s/.test(scheme))) {
    throw new CredentialError('InvalidHeader', `credentials.scheme ${JSON.stringify(scheme)} must be one token without whitespace or control characters`);
  }
  checkHeaderValue(value, origin);
  return { [name]: scheme === '' ? value : `${scheme} ${value}` };
}
