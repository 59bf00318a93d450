import { ensureKafkaJars } from './kafka-jars.js';

/** `tsx provision/fetch-kafka.ts`: fetches (once) the Kafka broker jars, so tests and the local run start without waiting on Maven. */
const started = Date.now();
const libs = await ensureKafkaJars({ log: (m) => console.log(m) });
console.log(`Kafka broker jars ready in ${libs} (${Date.now() - started} ms)`);
