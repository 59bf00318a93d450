import type { Child, MemoryMonitor } from './children.js';
import type { Preloaded } from './dataset.js';
import type { BenchEnvironment } from './environment.js';
import type { BenchOptions } from './options.js';
import { figure, type Figure, type FigureInput } from './results.js';

/** What the phases of one run share: the services, the running children, and what was measured so far. */
export interface BenchContext {
  options: BenchOptions;
  env: BenchEnvironment;
  memory: MemoryMonitor;
  /** Raw API keys by integration id. */
  keys: Record<string, string>;
  profileDir: string | undefined;
  figures: Figure[];
  method: Record<string, string>;
  details: Record<string, unknown>;
  /** The live projector (generation 1), once the ingest phase started it. */
  projector?: Child;
  /** Its /metrics (batch counters, heap gauges). */
  projectorMetricsUrl?: string;
  api?: { child: Child; url: string };
  preloaded?: Preloaded;
  /** Events/s the projector carried in the ingest run: what freshness rates are judged against. */
  projectorEventsPerSecond?: number;
}

export function addFigure(ctx: BenchContext, input: FigureInput): Figure {
  const f = figure(input);
  ctx.figures.push(f);
  return f;
}

export const authHeaders = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
