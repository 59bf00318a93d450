import { Presets, SingleBar } from 'cli-progress';

/**
 * Progress on stderr, so stdout stays the result table. On a terminal a
 * cli-progress bar; elsewhere (CI, the test suite's log) one line every few
 * seconds, which a log keeps and a bar's carriage returns would garble.
 */
export interface Task {
  update(value: number, note?: string): void;
  done(note?: string): void;
}

const started = performance.now();
const LINE_EVERY_MS = 3_000;

const clock = (): string => {
  const s = Math.floor((performance.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

export function log(message: string): void {
  process.stderr.write(`[bench ${clock()}] ${message}\n`);
}

export function task(label: string, total: number, unit = ''): Task {
  if (process.stderr.isTTY && process.env.CI === undefined) {
    const bar = new SingleBar(
      { format: `[bench] ${label.padEnd(28)} {bar} {percentage}% | {value}/{total}${unit ? ` ${unit}` : ''} | {note}`, hideCursor: true, stream: process.stderr },
      Presets.shades_classic,
    );
    bar.start(Math.max(1, total), 0, { note: '' });
    return {
      update: (value, note = '') => bar.update(Math.min(value, total), { note }),
      done: (note = '') => {
        bar.update(total, { note });
        bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(value, note) {
      const now = performance.now();
      if (now - last < LINE_EVERY_MS) return;
      last = now;
      log(`${label}: ${Math.round(value).toLocaleString('en-US')}/${total.toLocaleString('en-US')}${unit ? ` ${unit}` : ''}${note ? ` (${note})` : ''}`);
    },
    done(note) {
      log(`${label}: done${note ? ` (${note})` : ''}`);
    },
  };
}
