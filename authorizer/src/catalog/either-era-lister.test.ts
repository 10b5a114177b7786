import { describe, expect, it } from 'vitest';
import { eitherEraLister } from './either-era-lister.ts';
import type { ListerFactory } from './mcp-lister.ts';
import type { GatewayServer } from '../gate/index.ts';

function fake(name: string, works: () => boolean, calls: string[]): ListerFactory {
  return () => ({
    async list() {
      calls.push(name);
      if (!works()) throw new Error(`${name} refused`);
      return [{ name: `${name}-tool`, inputSchema: { type: 'object' } }];
    },
    async close() { calls.push(`${name}:close`); },
  });
}

const server = { name: 's', url: 'http://127.0.0.1:1/mcp' } as GatewayServer;
const policy = { namespace: 'n', name: 'p' } as never;

describe('eitherEraLister', () => {
  it('falls back to the other era, then keeps using the one that worked until it fails', async () => {
    const calls: string[] = [];
    let legacyWorks = false;
    const lister = eitherEraLister(fake('legacy', () => legacyWorks, calls), fake('modern', () => !legacyWorks, calls))(server, policy, () => undefined);
    const signal = new AbortController().signal;
    expect((await lister.list(signal)).map((t) => t.name)).toEqual(['modern-tool']);
    expect((await lister.list(signal)).map((t) => t.name)).toEqual(['modern-tool']);
    expect(calls).toEqual(['legacy', 'modern', 'modern']);
    legacyWorks = true;
    expect((await lister.list(signal)).map((t) => t.name)).toEqual(['legacy-tool']);
    await lister.close();
    expect(calls.slice(-2).sort()).toEqual(['legacy:close', 'modern:close']);
  });

  it('fails naming both errors when neither era lists the server', async () => {
    const calls: string[] = [];
    const lister = eitherEraLister(fake('legacy', () => false, calls), fake('modern', () => false, calls))(server, policy, () => undefined);
    await expect(lister.list(new AbortController().signal)).rejects.toThrow(/legacy refused; and as the other protocol era: modern refused/);
  });
});
