import { createRequire } from 'node:module';

/**
 * One of kafkajs's internal modules, replaced in Node's module cache by a function of ours that does the same
 * work (src/kafka/produce-encoding.ts, record-decoding.ts). kafkajs is pinned; a replacement is written against
 * that version and installs over no other. Modules that capture it when they load (`capturedBy`) must not have
 * loaded yet, or they would keep kafkajs's own: kafkajs loads its protocol modules on first use, so installing
 * before the first fetch or produce is in time.
 */
const require = createRequire(import.meta.url);

/** The kafkajs version the replacements reproduce (package.json pins it). */
const KAFKAJS_VERSION = '2.2.4';

export class KafkajsModule<F> {
  private readonly path: string;
  private readonly capturedBy: string[];
  private original: F | undefined;

  /** `path` and `capturedBy` as kafkajs's own paths, e.g. 'kafkajs/src/protocol/encoder.js'. */
  constructor(
    path: string,
    capturedBy: string[],
    private readonly replacement: F,
  ) {
    this.path = require.resolve(path);
    this.capturedBy = capturedBy.map((p) => require.resolve(p));
  }

  /** Installs the replacement (idempotent); false when kafkajs is another version or a capturer loaded first. */
  install(): boolean {
    if ((require('kafkajs/package.json') as { version: string }).version !== KAFKAJS_VERSION) return false;
    require(this.path); // loaded (and cached) if it was not yet
    const cached = require.cache[this.path];
    if (!cached) return false;
    if (cached.exports === this.replacement) return true;
    if (this.capturedBy.some((p) => require.cache[p] !== undefined)) return false;
    this.original = cached.exports as F;
    cached.exports = this.replacement;
    return true;
  }

  /** kafkajs's own function, installed or not (the tests compare with it, and a replacement may fall back to it). */
  kafkajs(): F {
    return this.original ?? (require(this.path) as F);
  }
}
