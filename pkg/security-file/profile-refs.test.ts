// Profile references: the shipped list is the directory's, and only the community scope maps.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { expect, it } from 'vitest';
import { profileNameOf, profileRefOf, shippedProfiles } from './profile-refs.ts';

const dir = fileURLToPath(new URL('../../profiles/', import.meta.url));

it('shippedProfiles is exactly profiles/, each named like its file and its service', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').map((f) => f.replace(/\.yaml$/, '')).sort();
  expect([...shippedProfiles].sort()).toEqual(files);
  for (const name of files) {
    const p = parse(readFileSync(`${dir}${name}.yaml`, 'utf8')) as { metadata: { name: string }; spec: { service: string } };
    expect([p.metadata.name, p.spec.service]).toEqual([name, name]);
  }
});

it('maps @openclaw/security-<name> and bare names, and nothing else', () => {
  expect(profileNameOf('@openclaw/security-gmail')).toEqual({ name: 'gmail' });
  expect(profileNameOf('my-crm')).toEqual({ name: 'my-crm' });
  for (const bad of ['@openclaw/gmail', '@OpenClaw/security-gmail', '@openclaw/security-gmail2', '@evil/security-gmail', 'Gmail', 'gmail/x', '']) {
    expect(profileNameOf(bad), bad).toHaveProperty('error');
  }
  for (const name of shippedProfiles) expect(profileNameOf(profileRefOf(name))).toEqual({ name });
  expect(profileRefOf('my-crm')).toBe('my-crm');
});
