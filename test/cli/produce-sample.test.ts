import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProduceSampleArgs } from '../../src/dev/cli/produce-sample.js';

describe('produce-sample arguments', () => {
  it('takes defaults, KAFKA_BROKERS and every flag', () => {
    assert.deepEqual(parseProduceSampleArgs(['--topic', 't'], {}), {
      brokers: ['localhost:9092'],
      topic: 't',
      partitions: 3,
      events: 1000,
      profiles: 334,
      segments: ['vip-customers', 'newsletter', 'churn-risk'],
      seed: 1,
    });
    assert.deepEqual(parseProduceSampleArgs(['--topic', 't'], { KAFKA_BROKERS: 'a:1,b:2' }).brokers, ['a:1', 'b:2']);
    const all = parseProduceSampleArgs(
      [
        '--topic',
        'x',
        '--brokers',
        'kafka:9092',
        '--partitions',
        '6',
        '--events',
        '10',
        '--profiles',
        '4',
        '--segments',
        's1, s2',
        '--seed',
        '0',
      ],
      { KAFKA_BROKERS: 'ignored:1' },
    );
    assert.deepEqual(all, {
      brokers: ['kafka:9092'],
      topic: 'x',
      partitions: 6,
      events: 10,
      profiles: 4,
      segments: ['s1', 's2'],
      seed: 0,
    });
  });

  it('names the flag that is wrong', () => {
    const cases: [string[], RegExp][] = [
      [[], /--topic is required/],
      [['--topic', 't', '--events', '0'], /--events must be a whole number of at least 1, got "0"/],
      [['--topic', 't', '--partitions', '2.5'], /--partitions must be a whole number/],
      [['--topic', 't', '--seed', ''], /--seed must be a whole number/],
      [['--topic', 't', '--segments', ' , '], /--segments must name at least one segment id/],
      [['--topic', 't', '--brokers', ','], /--brokers must name at least one host:port/],
      [['--topic', 't', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) assert.throws(() => parseProduceSampleArgs(args, {}), message, args.join(' '));
  });
});
