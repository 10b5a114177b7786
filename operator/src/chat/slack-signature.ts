// Slack's signed requests (https://api.slack.com/authentication/verifying-requests-from-slack):
// `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{raw body}">` keyed
// with the app's signing secret. The raw bytes are what is signed, so verification happens
// before any parsing. A timestamp outside the window is refused (Slack's own advice: 5 minutes),
// and a signature seen within the window is refused as a replay; since anything older than the
// window fails the timestamp check, remembering signatures for the window is enough.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const slackWindowSeconds = 5 * 60;

export type SignatureVerdict = { ok: true } | { ok: false; reason: 'missing-headers' | 'bad-timestamp' | 'stale' | 'bad-signature' | 'replay' | 'replay-cache-full'; message: string };

export function slackSignature(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`;
}

/** Remembers signatures for the window; refuses (rather than forgets) when full, so no replay slips through. */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;
  private readonly max: number;
  constructor(windowMs: number, max = 100_000) {
    this.windowMs = windowMs;
    this.max = max;
  }

  /** true: first time; false: a replay; undefined: the cache is full of live entries. */
  remember(signature: string, nowMs: number): boolean | undefined {
    for (const [sig, at] of this.seen) {
      // A timestamp may lie up to a window ahead of its arrival and is accepted up to a window
      // after it, so a signature stays replayable for two windows after it arrived. Insertion
      // order is arrival order: stop at the first live entry.
      if (nowMs - at <= this.windowMs * 2) break;
      this.seen.delete(sig);
    }
    if (this.seen.has(signature)) return false;
    if (this.seen.size >= this.max) return undefined;
    this.seen.set(signature, nowMs);
    return true;
  }
}

export interface VerifyInput {
  secrets: readonly string[];
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  nowMs: number;
}

/**
 * Checks the signature against each current signing secret (two during a rotation) with a
 * constant-time compare, then the timestamp window, then the replay cache — the cache only
 * learns signatures that are genuine, so forged requests cannot fill it.
 */
export function verifySlackRequest(i: VerifyInput, replays: ReplayCache, windowSeconds = slackWindowSeconds): SignatureVerdict {
  if (!i.timestamp || !i.signature) return { ok: false, reason: 'missing-headers', message: 'X-Slack-Request-Timestamp and X-Slack-Signature are required' };
  if (!/^[0-9]{1,12}$/.test(i.timestamp)) return { ok: false, reason: 'bad-timestamp', message: 'X-Slack-Request-Timestamp is not a Unix time in seconds' };
  const given = Buffer.from(i.signature, 'utf8');
  const genuine = i.secrets.some((secret) => {
    const expected = Buffer.from(slackSignature(secret, i.timestamp!, i.rawBody), 'utf8');
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!genuine) return { ok: false, reason: 'bad-signature', message: 'X-Slack-Signature does not match the body signed with the signing secret' };
  const skew = Math.abs(i.nowMs / 1000 - Number(i.timestamp));
  if (skew > windowSeconds) return { ok: false, reason: 'stale', message: `X-Slack-Request-Timestamp is ${Math.round(skew)} s from now; at most ${windowSeconds} s are accepted` };
  const first = replays.remember(i.signature, i.nowMs);
  if (first === false) return { ok: false, reason: 'replay', message: 'this signed request was already received (replay)' };
  if (first === undefined) return { ok: false, reason: 'replay-cache-full', message: 'too many requests within the replay window; refused rather than risk a replay' };
  return { ok: true };
}
