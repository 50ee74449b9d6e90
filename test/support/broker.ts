import { startLocalBroker, stopLocalBroker } from '../../src/dev/local-broker.js';

/**
 * Finds a real Kafka broker for the tests, in this order: KAFKA_BROKERS if set → testcontainers if a container
 * runtime answers → the project's local broker script (Apache Kafka from Maven Central jars).
 */
export async function ensureBroker(
  log: (line: string) => void,
): Promise<{ brokers: string; stop: () => Promise<void> }> {
  if (process.env.KAFKA_BROKERS) {
    log(`Kafka: using KAFKA_BROKERS=${process.env.KAFKA_BROKERS}`);
    return { brokers: process.env.KAFKA_BROKERS, stop: async () => undefined };
  }
  const container = await fromTestcontainers(log);
  if (container) return container;
  log('Kafka: no container runtime answers; starting the local broker script');
  const local = await startLocalBroker();
  log(`Kafka: local broker at ${local.brokers}${local.startedHere ? '' : ' (already running)'}`);
  return { brokers: local.brokers, stop: local.startedHere ? stopLocalBroker : async () => undefined };
}

async function fromTestcontainers(
  log: (line: string) => void,
): Promise<{ brokers: string; stop: () => Promise<void> } | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref(),
    );
    await Promise.race([getContainerRuntimeClient(), timeout]);
  } catch (err) {
    log(`Kafka: testcontainers unavailable (${String((err as Error).message).split('\n')[0]})`);
    return undefined;
  }
  const { KafkaContainer } = await import('@testcontainers/kafka');
  log('Kafka: starting a container with testcontainers');
  const started = await new KafkaContainer('confluentinc/cp-kafka:8.1.0').withKraft().start();
  return {
    brokers: `${started.getHost()}:${started.getMappedPort(9093)}`,
    stop: async () => void (await started.stop()),
  };
}
