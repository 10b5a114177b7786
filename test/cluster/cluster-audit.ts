// The audit evidence of the cluster test: the keys (Secrets, as charts/toolgate/README.md tells
// users), a ReadWriteMany claim on a directory of this machine (the node is this machine, so the
// test reads the volume where the kubelet mounted it from), the trails read back line by line,
// and `kubectl mcp audit verify` — the real plugin, as an auditor runs it — on each file.
import { chown, mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { must, root, run, type Cluster } from './cluster-support.ts';

const binDir = process.env.TOOLGATE_BIN_DIR ?? `${root}build/bin`;
/** The image's numeric user and group (Dockerfile USER); the pods write the volume as them. */
const imageUser = 65532;

export interface AuditVolume {
  /** The host directory behind the claim: one <pod name>.jsonl per authorizer pod. */
  dir: string;
  claim: string;
  signingSecret: string;
  digestSecret: string;
  /** The signing key's public half (SPKI PEM), for verify --key. */
  publicKey: string;
  /** The chart values that turn it all on. */
  helmSet: string[];
}

/** Keys as Secrets and a hostPath PersistentVolume bound to claim toolgate-audit in `namespace`. */
export async function auditVolume(cluster: Cluster, dir: string, namespace: string): Promise<AuditVolume> {
  const audit = join(dir, 'audit');
  await mkdir(audit, { mode: 0o700 });
  await chown(audit, imageUser, imageUser);
  const key = join(dir, 'audit-signing.pem');
  const publicKey = join(dir, 'audit-signing.pub.pem');
  const digest = join(dir, 'audit-digest.key');
  await must('bash', ['-c', `set -e; umask 077
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${key}"
openssl pkey -in "${key}" -pubout -out "${publicKey}"
openssl rand 32 > "${digest}"`]);
  const v = { dir: audit, claim: 'toolgate-audit', signingSecret: 'toolgate-audit-signing', digestSecret: 'toolgate-audit-digest', publicKey };
  await cluster.kubectl(['create', 'secret', 'generic', v.signingSecret, '-n', namespace, `--from-file=key.pem=${key}`]);
  await cluster.kubectl(['create', 'secret', 'generic', v.digestSecret, '-n', namespace, `--from-file=key=${digest}`]);
  const pv = `toolgate-audit-${namespace}`;
  await cluster.apply([
    {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pv },
      spec: {
        capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: '',
        hostPath: { path: audit, type: 'Directory' },
        claimRef: { namespace, name: v.claim },
      },
    },
    {
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: v.claim, namespace },
      spec: { accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: pv, resources: { requests: { storage: '1Gi' } } },
    },
  ]);
  return {
    ...v,
    helmSet: ['--set', 'authorizer.audit.persistence.enabled=true', '--set', `authorizer.audit.persistence.existingClaim=${v.claim}`,
      '--set', `authorizer.audit.signingKey.secretName=${v.signingSecret}`, '--set', `authorizer.audit.digestKey.secretName=${v.digestSecret}`],
  };
}

export interface TrailLine { type: string; seq: number; time: string; tool?: string; action?: string; rule?: string; arguments?: Record<string, unknown>; index?: number; instance?: string }

/** Each trail file of the volume (name → its text), as the pods left it. */
export async function trails(v: AuditVolume): Promise<Map<string, string>> {
  const names = (await readdir(v.dir)).filter((n) => n.endsWith('.jsonl')).sort();
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(v.dir, n), 'utf8')] as const)));
}

export const linesOf = (text: string): TrailLine[] => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TrailLine);

export interface Verified { ok: boolean; records?: number; head?: { seq: number }; checkpoint?: { index: number; seq: number }; unsealed?: number; signaturesChecked?: boolean; kind?: string; line?: number; summary: string }

/** `kubectl mcp audit verify FILE --key PUBLIC -o json`, kubectl finding the plugin on PATH. */
export async function verifyWithPlugin(v: AuditVolume, file: string): Promise<{ code: number; result: Verified; stderr: string }> {
  const r = await run(`${binDir}/kubectl`, ['mcp', 'audit', 'verify', join(v.dir, file), '--key', v.publicKey, '-o', 'json'], {
    env: { PATH: `${binDir}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
  });
  let result: Verified;
  try {
    result = JSON.parse(r.stdout) as Verified;
  } catch {
    throw new Error(`kubectl mcp audit verify ${file} printed no JSON (exit ${r.code}): ${r.stderr || r.stdout}`);
  }
  return { code: r.code, result, stderr: r.stderr };
}
