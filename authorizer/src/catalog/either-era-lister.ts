// A governed server speaks MCP ≤ 2025-11-25 (initialize, sessions) or 2026-07-28 (sessionless),
// and the policy does not say which. The catalog lists it with the era that worked last; when
// that fails, the other is tried before the listing counts as failed, so a server upgraded to
// (or rolled back from) 2026-07-28 keeps its tools listed and its calls decided.
import type { ListerFactory, ToolLister } from './mcp-lister.ts';

export function eitherEraLister(first: ListerFactory, second: ListerFactory): ListerFactory {
  return (server, policy, changed) => {
    const listers: ToolLister[] = [first(server, policy, changed), second(server, policy, changed)];
    let preferred = 0;
    return {
      async list(signal) {
        try {
          return await listers[preferred]!.list(signal);
        } catch (firstErr) {
          if (signal.aborted) throw firstErr;
          const other = 1 - preferred;
          try {
            const tools = await listers[other]!.list(signal);
            preferred = other;
            return tools;
          } catch (secondErr) {
            throw new Error(`${(firstErr as Error).message}; and as the other protocol era: ${(secondErr as Error).message}`, { cause: secondErr });
          }
        }
      },
      async close() {
        await Promise.allSettled(listers.map((l) => l.close()));
      },
    };
  };
}
