import { createRequire } from 'node:module';

/**
 * kafkajs's Connection keeps, after each whole response it reads, the bytes that follow it as a slice of the
 * buffer the response was read into. Usually nothing follows, but an empty slice still keeps that whole buffer:
 * after a fetch, the whole response (up to `maxBytesPerPartition` per partition). While fetching is paused (an
 * account down, backpressure) no new data replaces it, so each connection keeps its last fetch response for as
 * long as the pause lasts: 3–6 MB in the benchmark's outage step. This lets the buffer go: an empty remainder
 * becomes nothing, and a short one (under half its buffer) a copy of its own bytes.
 *
 * It wraps `Connection.prototype.processData` of the pinned kafkajs (the one method that assigns the remainder);
 * it installs over no other version.
 */
const require = createRequire(import.meta.url);
const KAFKAJS_VERSION = '2.2.4';

interface ConnectionState {
  chunks: Buffer[];
}
type ProcessData = (this: ConnectionState, rawData: Buffer) => unknown;

let installed = false;

/** Installs the wrapper (idempotent); false when kafkajs is another version. */
export function installResponseRemainder(): boolean {
  if (installed) return true;
  if ((require('kafkajs/package.json') as { version: string }).version !== KAFKAJS_VERSION) return false;
  const Connection = require('kafkajs/src/network/connection.js') as { prototype: { processData: ProcessData } };
  const processData = Connection.prototype.processData;
  Connection.prototype.processData = function (this: ConnectionState, rawData: Buffer) {
    const result = processData.call(this, rawData);
    releaseRemainder(this);
    return result;
  };
  installed = true;
  return true;
}

/** The remainder of `connection.chunks`, made not to keep the buffer of the response before it. */
export function releaseRemainder(connection: ConnectionState): void {
  const { chunks } = connection;
  if (chunks.length !== 1) return;
  const rest = chunks[0]!;
  // kafkajs concatenates `chunks` when it holds more than one and reads chunks[0] when it holds one: none is the
  // same as one empty buffer to it (its byte counters are already 0 then).
  if (rest.length === 0) connection.chunks = [];
  else if (rest.length * 2 < rest.buffer.byteLength) connection.chunks = [Buffer.from(rest)];
}
