import type { Logger } from 'pino';

export interface ResolvedIntegration {
  integrationId: string;
  name: string;
  tier: string;
  region: string;
  status: string;
  keyId: string;
  /** SHA-256 of the presented key: the only form of it kept past authentication. */
  keyHash: string;
}

/** What middleware puts on ctx.state for the handlers after it. */
export interface ApiState {
  requestId: string;
  log: Logger;
  integration?: ResolvedIntegration;
  /** The route's name, for metrics and the usage meter (set by the router). */
  routeName?: string;
}
