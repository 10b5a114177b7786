// pino redaction for credential headers. The proxy logs the headers it sends upstream only
// under `upstreamHeaders`, whose every value is censored whatever the header is called
// (credentials.header is free-form, so no fixed list of names would do).
export const credentialRedactPaths = [
  'upstreamHeaders.*', '*.upstreamHeaders.*',
  'headers.authorization', '*.headers.authorization', 'req.headers.authorization',
  'authorization', '*.authorization', 'token', '*.token', 'credentials', '*.credentials',
];

export const redactCensor = '[REDACTED]';
