import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AcApi } from '../../src/deliver/client.js';
import { DryRunApi } from '../../src/deliver/dry-run.js';

/** A "real" account that fails the test if a write reaches it; reads answer. */
function readOnlyAccount(): AcApi & { reads: string[] } {
  const reads: string[] = [];
  const write = () => assert.fail('a dry run must not write to ActiveCampaign');
  return {
    reads,
    bulkImport: write,
    importInfo: write,
    getList: async (id: string) => (
      reads.push(`list ${id}`),
      { status: 200, verdict: { kind: 'ok' }, body: { list: { id, name: 'L' } }, latencyMs: 0 }
    ),
    fields: async () => (
      reads.push('fields'), { status: 200, verdict: { kind: 'ok' }, body: { fields: [] }, latencyMs: 0 }
    ),
    close: async () => undefined,
  } as unknown as AcApi & { reads: string[] };
}

test('run --dry-run reports each import per list instead of sending it, and lets the pipeline settle', async () => {
  const real = readOnlyAccount();
  const lines: string[] = [];
  const api = new DryRunApi(real, (line) => lines.push(line));
  const body = JSON.stringify({
    contacts: [
      { email: 'a@example.com', subscribe: [{ listid: 1 }], unsubscribe: [{ listid: 2 }] },
      { email: 'b@example.com', subscribe: [{ listid: 1 }] },
    ],
  });
  const accepted = await api.bulkImport(body);
  assert.equal(accepted.verdict.kind, 'ok');
  assert.match(accepted.body?.batchId ?? '', /^dry-run-/);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /would import 2 contacts/);
  assert.match(lines[0]!, /list 1: \+2 -0/);
  assert.match(lines[0]!, /list 2: \+0 -1/);
  const info = await api.importInfo();
  assert.equal(info.body?.status, 'completed');
  assert.deepEqual(info.body?.failure, []);
  // Reads still go to the account, so start-up checks (lists, fields) stay real.
  await api.getList('1');
  await api.fields(0);
  assert.deepEqual(real.reads, ['list 1', 'fields']);
});
