import { isIP } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import { ConfigError } from '../domain/errors.js';

/**
 * One TLS handshake and one Kafka ApiVersions round trip with a bootstrap broker, before kafkajs connects.
 * kafkajs treats every socket error as a connection error worth retrying, so an untrusted broker certificate,
 * or a client certificate the broker refuses, would be retried for about a minute and then reported as
 * "connection error". Neither mends itself: here they stop start-up at once with an error naming kafka.ssl.
 * A broker that cannot be reached says nothing about TLS and is left to kafkajs's own waiting.
 */
export async function checkTls(
  brokers: string[],
  options: ConnectionOptions,
  timeoutMs: number,
): Promise<'checked' | 'unreachable'> {
  const withCert = options.cert !== undefined;
  for (const broker of brokers) {
    const outcome = await handshake(broker, options, timeoutMs, withCert);
    if (outcome === 'ok') return 'checked';
    if (outcome !== 'unreachable') throw outcome;
  }
  return 'unreachable';
}

/** Certificate checks that failed on our side: the broker's chain or name is not what kafka.ssl trusts. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'INVALID_CA',
]);

type Outcome = 'ok' | 'unreachable' | ConfigError;

function handshake(broker: string, options: ConnectionOptions, timeoutMs: number, withCert: boolean): Promise<Outcome> {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(broker.slice(colon + 1));
  return new Promise<Outcome>((resolve) => {
    const socket = connect({ ...options, host, port, ...(isIP(host) ? {} : { servername: host }) });
    const done = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('unreachable'), timeoutMs);
    let secured = false;
    socket.once('secureConnect', () => {
      secured = true;
      // ApiVersions v0, correlation id 1, no client id. Under TLS 1.3 a broker that refuses the client
      // certificate says so only after the handshake: the answer (or the alert instead of it) settles it.
      socket.write(Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff]));
    });
    let answer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length >= 8) done('ok');
    });
    socket.once('end', () =>
      done(
        secured
          ? new ConfigError(
              'kafka.ssl',
              `${broker} closed the connection after the TLS handshake without answering: ${advice(withCert)}`,
            )
          : new ConfigError(
              'kafka.ssl',
              `${broker} closed the connection during the TLS handshake: ` +
                'it is not a TLS listener (for a plaintext one leave kafka.ssl unset)',
            ),
      ),
    );
    socket.once('error', (err: NodeJS.ErrnoException) => done(classify(broker, err, withCert)));
  });
}

function classify(broker: string, err: NodeJS.ErrnoException, withCert: boolean): Outcome {
  const code = err.code ?? '';
  if (UNTRUSTED.has(code)) {
    return new ConfigError(
      'kafka.ssl',
      `the certificate of ${broker} is not trusted (${code}: ${err.message}); ` +
        "set kafka.ssl.caFile to the CA that signed the brokers' certificates",
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(err.message)) {
    return new ConfigError(
      'kafka.ssl',
      `${broker} does not speak TLS (${err.message}); this listener needs kafka.ssl unset or false`,
    );
  }
  if (/^ERR_SSL_/.test(code) && /ALERT/.test(code))
    return new ConfigError('kafka.ssl', `${broker} refused the TLS connection (${code}): ${advice(withCert)}`);
  return 'unreachable';
}

function advice(withCert: boolean): string {
  return withCert
    ? 'it does not accept the client certificate of kafka.ssl.certFile: check kafka.ssl.certFile and kafka.ssl.keyFile'
    : 'it requires a client certificate (mutual TLS): set kafka.ssl.certFile and kafka.ssl.keyFile';
}
