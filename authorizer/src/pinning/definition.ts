// What of a listed tool is pinned: the parts a model reads or a client acts on — description,
// title, input and output schema, annotations. A change to any of them is what a rug pull is
// made of (a new instruction in the description, a new parameter that carries a secret away, a
// read-only hint dropped), so the hash covers all of them and nothing else: `_meta`, icons and
// other presentation fields may change freely without blocking the tool.
import { canonicalJson } from '../../../pkg/json/canonical.ts';
import { createHash } from 'node:crypto';

export const pinnedFields = ['title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

/** Definitions longer than this (canonical JSON, UTF-8 bytes) are pinned by hash only: no diff, but still a change detected. */
export const maxStoredDefinitionBytes = 32 * 1024;

export interface ToolDefinition {
  /** `sha256:<hex>` of the canonical JSON of the pinned fields. */
  hash: string;
  /** The canonical JSON itself, what a diff is made from. */
  canonical: string;
}

/** The pinned part of one tools/list entry, hashed. Fields absent in the listing are absent here. */
export function toolDefinition(tool: Readonly<Record<string, unknown>>): ToolDefinition {
  const picked: Record<string, unknown> = {};
  for (const f of pinnedFields) if (tool[f] !== undefined) picked[f] = tool[f];
  let canonical: string;
  try {
    canonical = canonicalJson(picked);
  } catch (err) {
    // A listing the SDK parsed is plain JSON; anything else is hashed as a marker that cannot
    // equal a real definition's hash, so such a tool is never taken for an accepted one.
    canonical = JSON.stringify({ unhashable: (err as Error).message });
  }
  return { hash: `sha256:${createHash('sha256').update(canonical).digest('hex')}`, canonical };
}

/** The canonical text as stored on the pin, or undefined when it is over the bound. */
export function storableDefinition(d: ToolDefinition): string | undefined {
  return Buffer.byteLength(d.canonical, 'utf8') <= maxStoredDefinitionBytes ? d.canonical : undefined;
}
