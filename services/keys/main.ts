import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Partitioners, type Kafka } from 'kafkajs';
import { destination, pino } from 'pino';
import { z } from 'zod/v4';
import { eventKey, type ContractEvent } from '../../schemas/events/decode.js';
import { IdSchema } from '../../schemas/events/envelope.js';
import { KeyHashSchema, RegionSchema, TierSchema, type IntegrationStatus } from '../../schemas/events/integration-events.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createKafka, kafkaConfigOf, prepareTopics } from '../kafka.js';
import { buildApiKeyIssued, buildApiKeyRevoked, buildIntegrationUpserted, hashApiKey, isWellFormedApiKey, mintApiKey, type EventDeps } from './api-keys.js';
import { readLatestUpsert } from './integration-state.js';

/**
 * The development key tool: publishes the same integration-topic events the
 * dashboard does. stdout carries exactly one thing, the raw key printed by
 * `mint` (so `KEY=$(... mint ...)` works); everything else goes to stderr.
 */

const USAGE = `usage: npm run keys -- <command> [options]
       (in the image: dist/services/keys/main.js <command> [options])
  mint     --integration <id> [--name <name>] [--tier free|starter|pro|enterprise] [--region us|eu]
           upserts the integration and issues a key; prints the raw key once on stdout
  revoke   --integration <id> --key-id <key_...> (--key-hash <sha256 hex> | --key <aik_v1_...> | --key -)
           "--key -" reads the raw key from stdin, keeping it out of shell history
  suspend  --integration <id> [--name ...] [--tier ...] [--region ...]
  activate --integration <id> [--name ...] [--tier ...] [--region ...]
Fields not given are read from the integrations topic. Needs KAFKA_BROKERS.`;

const ArgsSchema = z.object({
  command: z.enum(['mint', 'revoke', 'suspend', 'activate']),
  integration: IdSchema,
  name: z.string().min(1).max(200).optional(),
  tier: TierSchema.optional(),
  region: RegionSchema.optional(),
  keyId: IdSchema.optional(),
  keyHash: KeyHashSchema.optional(),
  key: z.string().optional(),
});
type Args = z.infer<typeof ArgsSchema>;

class UsageError extends Error {}

function parseCli(argv: string[]): Args | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      integration: { type: 'string' },
      name: { type: 'string' },
      tier: { type: 'string' },
      region: { type: 'string' },
      'key-id': { type: 'string' },
      'key-hash': { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) return 'help';
  const parsed = ArgsSchema.safeParse({ ...values, command: positionals[0], keyId: values['key-id'], keyHash: values['key-hash'] });
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  return parsed.data;
}

/** The key's hash, from --key-hash or by hashing --key locally; the raw key goes no further than this function. */
function revokedKeyHash(args: Args): string {
  if (args.key === undefined) {
    if (args.keyHash === undefined) throw new UsageError('revoke needs --key-hash or --key');
    return args.keyHash;
  }
  const raw = args.key === '-' ? readFileSync(0, 'utf8').trim() : args.key;
  if (!isWellFormedApiKey(raw)) throw new UsageError('--key is not a well-formed aik_v1_ key');
  const hash = hashApiKey(raw);
  if (args.keyHash !== undefined && args.keyHash !== hash) throw new UsageError('--key and --key-hash disagree');
  return hash;
}

async function publish(kafka: Kafka, topic: string, events: readonly ContractEvent[]): Promise<void> {
  // Not an idempotent producer: a retry may duplicate an event, which projections drop by eventId anyway.
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: eventKey(e), value: JSON.stringify(e) })) });
  } finally {
    await producer.disconnect();
  }
}

async function integrationEvent(kafka: Kafka, args: Args, config: Config, status: IntegrationStatus | 'keep', deps: EventDeps) {
  const complete = args.name !== undefined && args.tier !== undefined && args.region !== undefined;
  const current = complete ? null : (await readLatestUpsert(kafka, args.integration, { timeoutMs: 30_000, topic: config.kafka.topics.integrations }))?.data;
  const name = args.name ?? current?.name;
  if (name === undefined) throw new UsageError(`integration ${args.integration} is not on ${config.kafka.topics.integrations}; pass --name (and --tier, --region)`);
  return buildIntegrationUpserted(
    {
      integrationId: args.integration,
      name,
      tier: args.tier ?? current?.tier ?? 'free',
      region: args.region ?? current?.region ?? config.region,
      status: status === 'keep' ? (current?.status ?? 'active') : status,
    },
    deps,
  );
}

async function run(args: Args, config: Config, kafka: Kafka): Promise<void> {
  const deps: EventDeps = { now: Date.now };
  if (args.command === 'revoke') {
    if (args.keyId === undefined) throw new UsageError('revoke needs --key-id');
    const event = buildApiKeyRevoked(args.integration, { keyId: args.keyId, keyHash: revokedKeyHash(args) }, deps);
    await publish(kafka, config.kafka.topics.integrations, [event]);
    console.error(`revoked ${args.keyId} of ${args.integration}`);
    return;
  }
  if (args.command === 'mint') {
    // Minting keeps a suspended integration suspended; `activate` is the explicit way back.
    const upsert = await integrationEvent(kafka, args, config, 'keep', deps);
    const key = mintApiKey();
    await publish(kafka, config.kafka.topics.integrations, [upsert, buildApiKeyIssued(args.integration, key, deps)]);
    if (upsert.data.region !== config.region) console.error(`note: ${args.integration} is in region ${upsert.data.region}, this stack is ${config.region}`);
    console.error(`issued ${key.keyId} (${key.displayPrefix}...) for ${args.integration} [${upsert.data.tier}, ${upsert.data.status}]`);
    process.stdout.write(`${key.rawKey}\n`);
    return;
  }
  const upsert = await integrationEvent(kafka, args, config, args.command === 'suspend' ? 'suspended' : 'active', deps);
  await publish(kafka, config.kafka.topics.integrations, [upsert]);
  console.error(`${args.integration} is now ${upsert.data.status}`);
}

async function main(): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseCli(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    console.error(USAGE);
    return 0;
  }
  const config = loadConfig();
  const kafkaConfig = kafkaConfigOf(config.kafka);
  // kafkajs' own warnings must not land on stdout, where the raw key goes.
  const logger = pino({ name: 'keys', level: config.logLevel }, destination(2));
  const kafka = createKafka(kafkaConfig, logger);
  // Created here, not auto-created by the first send, so the topic is compacted from the start.
  await prepareTopics(kafka, kafkaConfig);
  try {
    await run(args, config, kafka);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof z.ZodError) {
      console.error(error.message);
      return 2;
    }
    throw error;
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
