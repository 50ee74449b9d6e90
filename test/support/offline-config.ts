import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

/**
 * A config for unit tests that reach nothing: source topic `t` on a broker at 127.0.0.1:1, connection `main` at
 * http://127.0.0.1:1, through the real parser (defaults included). One export `vip` → list 1 unless told.
 */
export function offlineConfig(
  exports: Record<string, unknown>[] = [{ name: 'vip', segmentId: 'vip', connection: 'main', listId: '1' }],
): Config {
  return parseConfig({
    kafka: { brokers: ['127.0.0.1:1'], topics: ['t'] },
    connections: { main: { apiUrl: 'http://127.0.0.1:1', apiKey: { value: 'k' }, privacyAcknowledged: true } },
    exports,
  });
}
