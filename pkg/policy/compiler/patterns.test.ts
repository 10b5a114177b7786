import { describe, expect, it } from 'vitest';
import { defaultPatterns, nameWords, patternRowFor, patternRows, patternWordIndex } from './patterns.ts';

const patterns = defaultPatterns();
const rowFor = (tool: string) => patternRowFor(tool, patterns)?.name;

describe('tool-name patterns', () => {
  it.each([
    ['delete_file', 'delete'],
    ['batchDelete', 'delete'],
    ['DELETE_USER', 'delete'],
    ['kubectl_delete', 'delete'],
    ['delete-many', 'delete'],
    ['drop_database', 'delete'],
    ['removeMember', 'delete'],
    ['execute_sql', 'execute'],
    ['puppeteer_evaluate', 'execute'],
    ['run_workflow', 'execute'],
    ['merge_pull_request', 'irreversible'],
    ['kubectl_apply', 'irreversible'],
    ['send_email', 'send'],
    ['post_message', 'send'],
    ['share_file', 'share'],
    ['edit_file', 'update'],
    ['move_card', 'update'],
    ['write_file', 'create'],
    ['push_files', 'create'],
    ['list_channels', 'list'],
    ['search_emails', 'list'],
    ['get_issue', 'read'],
    ['getFileContents', 'read'],
    ['read_text_file', 'read'],
    ['fetch', 'read'],
    // The riskiest word decides.
    ['read_and_delete', 'delete'],
    ['get_or_create', 'create'],
    ['list_then_send', 'send'],
    // Suffixes.
    ['sendsMessage', 'send'],
    ['posted_items', 'send'],
    ['adding_rows', 'create'],
    ['get_updates', 'update'],
  ])('%s → %s', (tool, row) => {
    expect(rowFor(tool)).toBe(row);
  });

  it.each([['undelete'], ['address_book'], ['longRunningOperation'], ['directory_tree'], ['echo'], ['getter'], ['postal_code_lookup'], ['ads_budget']])('%s matches no row', (tool) => {
    expect(rowFor(tool)).toBeUndefined();
  });

  it('mutating rows never leave readOnlyHint to the server', () => {
    for (const row of patternRows.filter((r) => r.verb !== 'get' && r.verb !== 'list')) expect(row.annotations.readOnlyHint, row.name).toBe(false);
  });

  it('splits names in every casing into lower-case words', () => {
    expect(nameWords('batchDelete_USER-files.v2')).toEqual(['batch', 'delete', 'user', 'files', 'v']);
  });

  it('indexes every word once, to the most dangerous row', () => {
    const index = patternWordIndex(patterns);
    const all = patterns.flatMap((p) => p.words);
    expect(new Set(all).size).toBe(all.length);
    expect(Object.keys(index).sort()).toEqual([...all].sort());
    expect(index.delete).toBe(0);
    expect(index.fetch).toBe(patterns.length - 1);
  });
});
