// The one form of resource URI the gate decides on. A URI is decided on exactly the string the
// upstream receives (the gate never rewrites it), so two parsers reading one URI differently
// must be impossible by construction: every URI that some common reader (WHATWG URL, RFC 3986
// normalisation, a percent-decoder, a path normaliser, Unicode NFKC folding) would read as
// another string is refused, and what is left reads the same to all of them. The rules, each
// closing a way a pattern could be escaped:
//
//   1. at most maxUriLength characters, all printable ASCII (0x21-0x7E): no spaces, controls
//      or raw Unicode (which readers trim, fold or encode differently);
//   2. a lower-case scheme `[a-z][a-z0-9+.-]*:`;
//   3. no fragment (`#`) and no backslash (WHATWG reads `\` as `/`);
//   4. a `%` starts an escape of two UPPER-case hex digits that encodes neither an unreserved
//      character (A-Z a-z 0-9 - . _ ~, which normalisers decode), nor `/`, `\` or a control
//      character, nor `%` followed by two hex digits (a double encoding); escaped bytes decode
//      as UTF-8 to text that NFKC leaves unchanged (so no full-width dot or slash);
//   5. an authority (`//host`) has no userinfo (`@`), no upper case, no escapes, no trailing dot,
//      and a port of 1-5 digits without leading zeros that is not the scheme's default;
//   6. the path has no `.` or `..` segment and no empty segment except a final one (`a//b`);
//   7. the WHATWG URL parser reads it as itself (`new URL(uri).href === uri`), which rules out
//      file:/x, file://localhost/x, https:host/x, https:///host/x and every other spelling it
//      would rewrite.
// Escaped text must also contain no whitespace, control or format character (rule 4).
//
// Paths are compared case-sensitively, as RFC 3986 says; an upstream that folds case (a
// case-insensitive file system) needs patterns that say so (`file:///[Ss]ecret/*`).
//
// A query (`?`) is allowed. Patterns are globs over the whole string, so `*` crosses `?` too:
// a deny pattern for one resource should end in `*` (`file:///etc/passwd*`) to cover its
// queried and trailing-slash variants.

export const maxUriLength = 8192;

const unreserved = /[A-Za-z0-9\-._~]/;
const defaultPorts: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

/**
 * Why the URI is not in canonical form, or undefined when it is. A URI template (the ref of a
 * completion/complete, RFC 6570) is held to every rule but the WHATWG one, whose parser would
 * escape its braces; the upstream looks templates up by their exact string.
 */
export function uriProblem(uri: string, o: { template?: boolean } = {}): string | undefined {
  if (uri.length === 0) return 'is empty';
  if (uri.length > maxUriLength) return `is longer than ${maxUriLength} characters`;
   
  const odd = /[^\x21-\x7E]/.exec(uri);
  if (odd) return `contains ${describeChar(odd[0])} at offset ${odd.index}; only printable ASCII is accepted (percent-encode other characters as UTF-8)`;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  if (!scheme) return 'has no scheme (a URI starts with a scheme such as file: or https:)';
  if (scheme[1] !== scheme[1]!.toLowerCase()) return `has an upper-case scheme; write "${scheme[1]!.toLowerCase()}:"`;
  if (uri.includes('#')) return 'has a fragment (#); fragments are not part of a resource\'s identity';
  if (uri.includes('\\')) return 'contains a backslash, which some parsers read as /';
  const escapes = escapeProblem(uri);
  if (escapes) return escapes;
  let rest = uri.slice(scheme[0].length);
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  if (rest.startsWith('//')) {
    const end = rest.indexOf('/', 2);
    const authority = end < 0 ? rest.slice(2) : rest.slice(2, end);
    const bad = authorityProblem(authority, scheme[1]!);
    if (bad) return bad;
    rest = end < 0 ? '' : rest.slice(end);
  }
  const bad = pathProblem(rest);
  if (bad || o.template) return bad;
  // Last, the reader most servers use: a URI the WHATWG parser would rewrite (file:/x,
  // file://localhost/x, https:host/x, https:///host/x, ...) reads as another string there.
  let href: string;
  try {
    href = new URL(uri).href;
  } catch {
    return 'is not a URL the WHATWG URL parser accepts';
  }
  return href === uri ? undefined : `is not in WHATWG canonical form (it reads as ${JSON.stringify(href.length > 200 ? `${href.slice(0, 200)}…` : href)})`;
}

function escapeProblem(uri: string): string | undefined {
  const bytes: number[] = [];
  for (let i = uri.indexOf('%'); i >= 0; i = uri.indexOf('%', i + 1)) {
    const hex = uri.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return `has a "%" at offset ${i} that does not start an escape of two hex digits`;
    if (hex !== hex.toUpperCase()) return `has a lower-case escape %${hex} at offset ${i}; write %${hex.toUpperCase()}`;
    const b = parseInt(hex, 16);
    const c = String.fromCharCode(b);
    if (b < 0x80 && unreserved.test(c)) return `escapes the unreserved character "${c}" (%${hex}) at offset ${i}; write it unescaped`;
    if (b === 0x2f || b === 0x5c) return `escapes "${c}" (%${hex}) at offset ${i}, which some servers decode into a path separator`;
    if (b < 0x20 || b === 0x7f) return `escapes a control character (%${hex}) at offset ${i}`;
    if (b === 0x25 && /^[0-9A-Fa-f]{2}/.test(uri.slice(i + 3))) return `is double-encoded at offset ${i} (%25 followed by two hex digits decodes to another escape)`;
    if (b >= 0x80) bytes.push(b);
  }
  if (bytes.length === 0) return undefined;
  let text: string;
  try {
    // Every % starts a checked escape, so the whole string decodes (or is not UTF-8).
    text = decodeURIComponent(uri);
  } catch {
    return 'has escaped bytes that are not valid UTF-8';
  }
  if (/[\p{C}\p{Z}]/u.test(text)) return 'has escaped whitespace, control or format characters (which readers trim or drop)';
  return text === text.normalize('NFKC') ? undefined : 'has escaped characters that Unicode NFKC normalisation changes (for example a full-width dot or slash)';
}

function authorityProblem(authority: string, scheme: string): string | undefined {
  if (authority.includes('@')) return 'has user information (@) in its authority';
  if (authority.includes('%')) return 'has an escape in its authority';
  if (authority !== authority.toLowerCase()) return 'has upper case in its host';
  const m = /^(.*?)(?::([^:\]]*))?$/.exec(authority.startsWith('[') ? authority.replace(/^\[[^\]]*\]/, '[]') : authority)!;
  const host = m[1]!;
  const port = m[2];
  if (host.endsWith('.')) return 'has a host ending in a dot';
  if (port !== undefined) {
    if (!/^[1-9][0-9]{0,4}$/.test(port)) return `has a port "${port}" that is not 1-5 digits without leading zeros`;
    if (defaultPorts[scheme] === port) return `names the default port ${port} of ${scheme}; leave it out`;
  }
  return undefined;
}

function pathProblem(path: string): string | undefined {
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '.' || s === '..') return `has a "${s}" path segment`;
    if (s === '' && i > 0 && i < segments.length - 1) return 'has an empty path segment (//)';
  }
  return undefined;
}

function describeChar(c: string): string {
  const code = c.codePointAt(0)!;
  return code === 0x20 ? 'a space' : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}
