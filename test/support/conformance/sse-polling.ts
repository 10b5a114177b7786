// SSE polling (SEP-1699) as a 2025-11-25 client meets it: the server primes the POST stream with
// an event id and a retry interval, closes the stream before answering, and the client resumes
// with GET + Last-Event-ID to receive the answer. The conformance suite's own scenario sends
// MCP-Protocol-Version 2025-03-26 on its raw requests (0.1.16), and the SDK server (rightly) only
// primes and closes streams for ≥ 2025-11-25, so that scenario never exercises resume; this
// drives the same tool with the version the behaviour belongs to.
import { createParser } from 'eventsource-parser';

export interface PollingObservation {
  /** The POST stream's first event carried an id and no data. */
  primed: boolean;
  retryMs: number | undefined;
  answeredOnPost: boolean;
  /** The GET with Last-Event-ID answered the call (within the time allowed). */
  answeredOnResume: boolean;
  /** The result text, from wherever it came, or the JSON-RPC error that came instead. */
  text: string | undefined;
}

const version = '2025-11-25';
const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Event { id: string | undefined; data: string }

async function readEvents(res: Response, until: (e: Event) => boolean, timeoutMs: number): Promise<{ events: Event[]; retryMs: number | undefined }> {
  const events: Event[] = [];
  let retryMs: number | undefined;
  let done = false;
  const parser = createParser({
    onEvent: (e) => {
      events.push({ id: e.id, data: e.data });
      if (until({ id: e.id, data: e.data })) done = true;
    },
    onRetry: (ms) => { retryMs = ms; },
  });
  const reader = res.body!.getReader();
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  const decoder = new TextDecoder();
  try {
    while (!done) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    clearTimeout(timer);
    if (done) await reader.cancel();
  }
  return { events, retryMs };
}

function resultText(e: Event | undefined): string | undefined {
  if (!e) return undefined;
  const msg = JSON.parse(e.data) as { result?: { content?: Array<{ text?: string }> }; error?: { code: number; message: string } };
  return msg.error ? `error ${msg.error.code}: ${msg.error.message}` : msg.result?.content?.[0]?.text;
}

export async function observePolling(url: string, headers: Readonly<Record<string, string>> = {}): Promise<PollingObservation> {
  const init = await fetch(url, {
    method: 'POST', headers: { ...base, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'sse-polling', version: '1.0.0' } } }),
  });
  const session = init.headers.get('mcp-session-id');
  await init.arrayBuffer();
  if (!init.ok || !session) throw new Error(`initialize at ${url} answered ${init.status} without a session`);
  const inSession = { ...base, ...headers, 'mcp-session-id': session, 'mcp-protocol-version': version };
  await (await fetch(url, { method: 'POST', headers: inSession, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).arrayBuffer();
  try {
    const isAnswer = (e: Event) => e.data !== '' && (JSON.parse(e.data) as { id?: unknown }).id === 7;
    const post = await fetch(url, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'test_reconnection', arguments: {} } }) });
    if (!(post.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      const body = await post.text();
      const answer = { id: undefined, data: body };
      return { primed: false, retryMs: undefined, answeredOnPost: post.ok, answeredOnResume: false, text: post.ok ? resultText(answer) : `HTTP ${post.status}: ${body}` };
    }
    const onPost = await readEvents(post, isAnswer, 5_000);
    const postAnswer = onPost.events.find(isAnswer);
    const first = onPost.events[0];
    const observed = { primed: first !== undefined && first.id !== undefined && first.data === '', retryMs: onPost.retryMs, answeredOnPost: postAnswer !== undefined };
    const lastId = onPost.events.findLast((e) => e.id !== undefined)?.id;
    if (postAnswer || lastId === undefined) return { ...observed, answeredOnResume: false, text: resultText(postAnswer) };
    const get = await fetch(url, { method: 'GET', headers: { ...inSession, accept: 'text/event-stream', 'last-event-id': lastId } });
    if (!get.ok) return { ...observed, answeredOnResume: false, text: `resume answered HTTP ${get.status}: ${await get.text()}` };
    const resumed = await readEvents(get, isAnswer, 5_000);
    const answer = resumed.events.find(isAnswer);
    return { ...observed, answeredOnResume: answer !== undefined, text: resultText(answer) };
  } finally {
    await fetch(url, { method: 'DELETE', headers: inSession }).then((r) => r.arrayBuffer(), () => undefined);
  }
}
