import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../domain/errors.js';
import { registerSecret } from '../observability/logger.js';
import type { SecretRef } from './schema.js';

/**
 * Resolves a secret on every call; a file is re-read only when its modification time changes, so a rotated key
 * is picked up without a restart. The value is never logged: every value read is registered with the logger,
 * which scrubs it from any line.
 */
export function secretReader(ref: SecretRef, key: string): () => string {
  const read = rawReader(ref, key);
  return () => {
    const value = read();
    registerSecret(value);
    return value;
  };
}

function rawReader(ref: SecretRef, key: string): () => string {
  if ('value' in ref) return () => ref.value;
  if ('env' in ref) {
    return () => {
      const v = process.env[ref.env];
      if (!v) throw new ConfigError(key, `environment variable ${ref.env} is not set`);
      return v;
    };
  }
  let cached: { mtimeMs: number; value: string } | undefined;
  return () => {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(ref.file).mtimeMs;
    } catch (err) {
      throw new ConfigError(key, `cannot read ${ref.file}: ${(err as Error).message}`);
    }
    if (!cached || cached.mtimeMs !== mtimeMs) cached = { mtimeMs, value: readFileSync(ref.file, 'utf8').trim() };
    if (!cached.value) throw new ConfigError(key, `${ref.file} is empty`);
    return cached.value;
  };
}
