// The stdout sink writes each line once, behind its prefix, a batch in one write, and reports a
// failed stream as a failed delivery (so the channel keeps the lines).
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StdoutSink } from './stdout.ts';

describe('StdoutSink', () => {
  it('writes each line behind the prefix, one write per batch', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (d: Buffer) => chunks.push(d.toString()));
    const sink = new StdoutSink({ stream: out });
    await sink.write(['{"seq":1}', '{"seq":2}']);
    await sink.write(['{"seq":3}']);
    expect(chunks).toEqual(['toolgate-audit {"seq":1}\ntoolgate-audit {"seq":2}\n', 'toolgate-audit {"seq":3}\n']);
  });

  it('writes the bare line with an empty prefix', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    await new StdoutSink({ stream: out, prefix: '' }).write(['{"seq":1}']);
    expect(text).toBe('{"seq":1}\n');
  });

  it('fails the delivery when the stream does', async () => {
    const broken = new Writable({ write: (_c, _e, cb) => cb(new Error('EPIPE')) });
    broken.on('error', () => undefined);
    await expect(new StdoutSink({ stream: broken }).write(['{"seq":1}'])).rejects.toThrow('EPIPE');
  });
});
