import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deadLetterCodes } from '../../src/domain/dead-letter-codes.js';

const root = new URL('../../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'simulator' ? [] : sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

describe('dead-letter codes: one typed list', () => {
  it('schemas/dead-letter-headers.json holds the same codes as its enum', () => {
    const schema = JSON.parse(readFileSync(join(root, 'schemas/dead-letter-headers.json'), 'utf8')) as {
      properties: Record<string, { enum?: string[] }>;
    };
    assert.deepEqual([...(schema.properties['dlq.error.code']!.enum ?? [])].sort(), [...deadLetterCodes].sort());
  });

  it('every code a RecordError or a delivery outcome names in src/ is in the list', () => {
    const used = new Set<string>();
    for (const file of sources(join(root, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/RecordError\(\s*'[a-z]+',\s*'([A-Z0-9_]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(
        /(?:fail|dead|reject)\([^)]*?'(?:decode|validate|map|deliver|confirm)',\s*'([A-Z0-9_]+)'/g,
      ))
        used.add(m[1]!);
      for (const m of text.matchAll(/code:\s*'([A-Z0-9_]+)'/g))
        if (file.includes('/deliver/') && /^(CONSENT|CONTACT|INVALID|NO_|IMPORT|RESUB)/.test(m[1]!)) used.add(m[1]!);
    }
    assert.ok(used.size >= 12, `found the codes in src (${[...used].join(', ')})`);
    for (const code of used) assert.ok((deadLetterCodes as string[]).includes(code), `${code} is in the list`);
  });
});
