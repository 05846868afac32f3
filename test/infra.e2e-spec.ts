import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { QUEUES } from '@vid2live/jobs';

/**
 * The deployment manifests, checked offline: every document of infra/k8s validates against the Kubernetes and
 * KEDA schemas (npm `kubernetes-models`, `@kubernetes-models/keda`, through infra/validate-manifests.mjs), and the
 * KEDA ScaledObject wakes a worker for every queue the worker serves, delayed jobs included.
 */
const ROOT = path.resolve(__dirname, '..');
const VALIDATOR = path.join(ROOT, 'infra', 'validate-manifests.mjs');

describe('Kubernetes manifests', () => {
  it('all of infra/k8s validate against the API schemas', () => {
    const out = execFileSync(process.execPath, [VALIDATOR], { encoding: 'utf8' });
    expect(out).toMatch(/^\d+ manifest document\(s\) valid, 0 problem\(s\)/m);
    expect(Number(/^(\d+) manifest/m.exec(out)![1])).toBeGreaterThanOrEqual(7);
  });

  it('the validator fails a broken manifest, naming the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vid2live-k8s-'));
    try {
      const bad = path.join(dir, 'bad.yaml');
      fs.writeFileSync(bad, 'apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec:\n  scaleTargetRef: {name: w}\n  minReplicaCount: "zero"\n  triggers: []\n');
      const r = spawnSync(process.execPath, [VALIDATOR, bad], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/minReplicaCount must be integer/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scale-from-zero covers every queue the worker serves and delayed jobs', () => {
    const docs = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'infra', 'k8s', 'keda-scaledobject.yaml'), 'utf8')).map((d) => d.toJS());
    const scaled = docs.find((d) => d?.kind === 'ScaledObject');
    const triggers: { type: string; metadata: Record<string, string> }[] = scaled.spec.triggers;
    const text = JSON.stringify(triggers);
    for (const queue of Object.values(QUEUES)) {
      expect(triggers.some((t) => t.type === 'redis' && t.metadata.listName.endsWith(`:${queue}:wait`))).toBe(true);
      expect(text).toContain(queue);
    }
    const delayed = triggers.find((t) => t.type === 'prometheus' && /delayed/.test(t.metadata.query));
    expect(delayed).toBeDefined();
    expect(delayed!.metadata.activationThreshold).toBe('0');
    expect(scaled.spec.minReplicaCount).toBe(0);
  });
});
