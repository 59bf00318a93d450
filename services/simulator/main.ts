import { parseArgs } from 'node:util';
import { Partitioners } from 'kafkajs';
import { z } from 'zod/v4';
import { IdSchema } from '../../schemas/events/envelope.js';
import { ConfigError, loadConfig } from '../config.js';
import { createKafka, kafkaConfigOf, prepareTopics } from '../kafka.js';
import { createLogger } from '../logger.js';
import { publishTraffic } from './publisher.js';
import { createRng } from './rng.js';
import { createTrafficGenerator, MEAN_EVENTS_PER_SESSION } from './traffic.js';

/**
 * Publishes simulated scored-session traffic to Kafka.
 *   tsx services/simulator/main.ts --rate 500 --integrations int_a,int_b --seed 42 --duration 60 --malformed 0.01
 * Content is a function of --seed, --integrations and --start-at; pacing follows the wall clock.
 */

const USAGE = `usage: tsx services/simulator/main.ts [options]
  --rate <n>            messages per second (default 500)
  --integrations <ids>  comma-separated integration ids (default int_sim_alpha,int_sim_beta)
  --seed <n>            PRNG seed (default 42)
  --duration <s>        stop after this many seconds
  --count <n>           stop after this many messages
  --malformed <share>   share of malformed messages, 0..1 (default 0)
  --bot-share <share>   share of bot sessions, 0..1 (default 0.1; the rest 7:2 human:suspicious)
  --start-at <iso>      simulated clock start (default now); fix it to make content reproducible
  --concurrency <n>     sessions interleaved at once (default 16)
  --batch-size <n>      messages per sendBatch (default rate/20, at most 1000)
  --progress <kind>     bar | log | none (default bar on a terminal, log otherwise)
Without --duration or --count it runs until SIGINT/SIGTERM. Needs KAFKA_BROKERS.`;

const share = z.coerce.number().min(0).max(1);
const ArgsSchema = z.object({
  rate: z.coerce.number().positive().max(1_000_000),
  integrations: z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)).pipe(z.array(IdSchema).min(1)),
  seed: z.coerce.number().int(),
  duration: z.coerce.number().positive().optional(),
  count: z.coerce.number().int().positive().optional(),
  malformed: share,
  botShare: share.optional(),
  startAt: z.string().datetime({ offset: true }).optional(),
  concurrency: z.coerce.number().int().min(1).max(10_000),
  batchSize: z.coerce.number().int().min(1).max(10_000).optional(),
  progress: z.enum(['bar', 'log', 'none']),
});

function parseCli(argv: string[]): z.infer<typeof ArgsSchema> | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rate: { type: 'string', default: '500' },
      integrations: { type: 'string', default: 'int_sim_alpha,int_sim_beta' },
      seed: { type: 'string', default: '42' },
      duration: { type: 'string' },
      count: { type: 'string' },
      malformed: { type: 'string', default: '0' },
      'bot-share': { type: 'string' },
      'start-at': { type: 'string' },
      concurrency: { type: 'string', default: '16' },
      'batch-size': { type: 'string' },
      progress: { type: 'string', default: process.stderr.isTTY ? 'bar' : 'log' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const parsed = ArgsSchema.safeParse({ ...values, botShare: values['bot-share'], startAt: values['start-at'], batchSize: values['batch-size'] });
  if (!parsed.success) throw new TypeError(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n'));
  return parsed.data;
}

async function main(): Promise<number> {
  let args: z.infer<typeof ArgsSchema> | 'help';
  try {
    args = parseCli(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }

  const config = loadConfig();
  const kafkaConfig = kafkaConfigOf(config.kafka);
  const logger = createLogger({ level: config.logLevel, name: 'simulator' });
  const kafka = createKafka(kafkaConfig, logger);

  await prepareTopics(kafka, kafkaConfig);

  const startAt = args.startAt === undefined ? new Date() : new Date(args.startAt);
  const generator = createTrafficGenerator({
    seed: args.seed,
    integrationIds: args.integrations,
    startAt,
    botShare: args.botShare,
    concurrency: args.concurrency,
    sessionsPerSecond: (args.rate * (1 - args.malformed)) / MEAN_EVENTS_PER_SESSION,
  });
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'stopping after the batch in flight');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // The topic may be auto-created elsewhere with the wrong settings; we just ensured it, so never create here.
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    logger.info({ rate: args.rate, integrations: args.integrations, seed: args.seed, startAt: startAt.toISOString() }, 'simulator started');
    const result = await publishTraffic(
      generator.messages(),
      {
        rate: args.rate,
        durationMs: args.duration === undefined ? undefined : args.duration * 1000,
        maxMessages: args.count,
        batchSize: args.batchSize,
        // Its own seed: turning malformed traffic on or off leaves the valid stream unchanged.
        malformed: args.malformed > 0 ? { share: args.malformed, rng: createRng(args.seed ^ 0x5bd1e995), context: { integrationId: args.integrations[0] ?? 'int_sim', now: startAt.getTime() } } : undefined,
        progress: args.progress,
        signal: controller.signal,
        topic: config.kafka.topics.sessions,
      },
      { producer, logger },
    );
    logger.info(result, 'simulator finished');
    return 0;
  } finally {
    await producer.disconnect();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exitCode = 1;
  },
);
