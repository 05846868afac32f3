#!/usr/bin/env node
// Validates Kubernetes manifests offline against the API schemas shipped in the npm packages `kubernetes-models`
// (core/apps) and `@kubernetes-models/keda` (ScaledObject, TriggerAuthentication): no API server needed, unlike
// `kubectl --dry-run=client`. Usage: node infra/validate-manifests.mjs [FILE.yaml …]   (default: infra/k8s/*.yaml)
// Exit 0 when every document validates; 1 with one line per problem otherwise.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(join(here, 'k8s')).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(here, 'k8s', f));

/** apiVersion → the module holding its models */
function modulePath(apiVersion) {
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

const problems = [];
let checked = 0;
for (const file of files) {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const [i, doc] of docs.entries()) {
    const where = `${file}#${i + 1}`;
    if (doc.errors.length) {
      problems.push(`${where}: YAML: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    const { apiVersion, kind } = obj;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      problems.push(`${where}: no apiVersion/kind`);
      continue;
    }
    let Model;
    try {
      Model = (await import(modulePath(apiVersion)))[kind];
    } catch {
      Model = undefined;
    }
    if (typeof Model !== 'function') {
      problems.push(`${where}: no schema for ${apiVersion} ${kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
      checked++;
    } catch (e) {
      problems.push(`${where} (${kind} ${obj.metadata?.name ?? '?'}): ${String(e?.message ?? e).split('\n').slice(0, 3).join(' ')}`);
    }
  }
}
for (const p of problems) console.error(p);
console.log(`${checked} manifest document(s) valid, ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
