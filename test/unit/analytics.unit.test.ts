import { describe, expect, it } from 'vitest';
import {
  alignDown,
  alignUp,
  bucketStarts,
  buildAnalytics,
  previousPeriod,
  resolvePeriod,
  type AnalyticsRows,
  type Period,
} from '../../projections/analytics/analytics.queries.js';
import { MAX_BUCKETS } from '../../schemas/api/analytics.js';

const ms = (iso: string) => Date.parse(iso);
const s = (iso: string) => Date.parse(iso) / 1000;
const iso = (t: number) => new Date(t).toISOString();
const NO_ROWS: AnalyticsRows = { sessions: [], events: [], flags: [] };

describe('bucket alignment (UTC)', () => {
  it('aligns down and up to hours, days and Monday-based weeks', () => {
    const t = ms('2026-11-08T14:03:11.120Z'); // a Sunday
    expect(iso(alignDown(t, 'hour'))).toBe('2026-11-08T14:00:00.000Z');
    expect(iso(alignUp(t, 'hour'))).toBe('2026-11-08T15:00:00.000Z');
    expect(iso(alignDown(t, 'day'))).toBe('2026-11-08T00:00:00.000Z');
    expect(iso(alignUp(t, 'day'))).toBe('2026-11-09T00:00:00.000Z');
    expect(iso(alignDown(t, 'week'))).toBe('2026-11-02T00:00:00.000Z');
    expect(iso(alignUp(t, 'week'))).toBe('2026-11-09T00:00:00.000Z');
  });

  it('leaves a boundary where it is', () => {
    for (const [at, g] of [['2026-11-09T00:00:00.000Z', 'week'], ['2026-11-08T00:00:00.000Z', 'day'], ['2026-11-08T13:00:00.000Z', 'hour']] as const) {
      expect(iso(alignDown(ms(at), g))).toBe(at);
      expect(iso(alignUp(ms(at), g))).toBe(at);
    }
  });

  it('puts every day of a week, Monday to Sunday, in the bucket of its Monday', () => {
    for (let day = 2; day <= 8; day += 1) expect(iso(alignDown(ms(`2026-11-0${day}T23:59:59.999Z`), 'week'))).toBe('2026-11-02T00:00:00.000Z');
    expect(iso(alignDown(ms('2026-11-09T00:00:00.000Z'), 'week'))).toBe('2026-11-09T00:00:00.000Z');
  });

  it('lists the bucket starts of a period, half-open', () => {
    const period: Period = { since: ms('2026-11-02T00:00:00Z'), until: ms('2026-11-05T00:00:00Z'), granularity: 'day' };
    expect(bucketStarts(period).map(iso)).toEqual(['2026-11-02T00:00:00.000Z', '2026-11-03T00:00:00.000Z', '2026-11-04T00:00:00.000Z']);
    expect(iso(previousPeriod(period).since)).toBe('2026-10-30T00:00:00.000Z');
    expect(previousPeriod(period).until).toBe(period.since);
  });
});

describe('resolvePeriod', () => {
  const now = ms('2026-11-08T14:03:11.120Z');

  it('defaults to the last 30 days ending now, widened to whole buckets', () => {
    const day = resolvePeriod({ granularity: 'day' }, now);
    expect(day).toEqual({ ok: true, period: { since: ms('2026-10-10T00:00:00Z'), until: ms('2026-11-09T00:00:00Z'), granularity: 'day' } });
    const hour = resolvePeriod({ granularity: 'hour' }, now);
    expect(hour.ok && bucketStarts(hour.period).length).toBe(720);
    const week = resolvePeriod({ granularity: 'week' }, now);
    expect(week.ok && [iso(week.period.since), iso(week.period.until)]).toEqual(['2026-10-05T00:00:00.000Z', '2026-11-09T00:00:00.000Z']);
  });

  it('widens an explicit range to bucket boundaries, and defaults the missing end', () => {
    const r = resolvePeriod({ since: new Date('2026-11-03T10:00:00Z'), until: new Date('2026-11-05T00:00:01Z'), granularity: 'day' }, now);
    expect(r.ok && [iso(r.period.since), iso(r.period.until)]).toEqual(['2026-11-03T00:00:00.000Z', '2026-11-06T00:00:00.000Z']);
    const onlyUntil = resolvePeriod({ until: new Date('2026-11-01T00:00:00Z'), granularity: 'day' }, now);
    expect(onlyUntil.ok && iso(onlyUntil.period.since)).toBe('2026-10-02T00:00:00.000Z');
    const onlySince = resolvePeriod({ since: new Date('2026-11-08T00:00:00Z'), granularity: 'hour' }, now);
    expect(onlySince.ok && iso(onlySince.period.until)).toBe('2026-11-08T15:00:00.000Z');
  });

  it('refuses more than MAX_BUCKETS buckets, naming since', () => {
    const r = resolvePeriod({ since: new Date('2026-01-01T00:00:00Z'), until: new Date('2026-12-31T00:00:00Z'), granularity: 'hour' }, now);
    expect(r).toMatchObject({ ok: false, parameter: 'since', details: { buckets: 8736, maxBuckets: MAX_BUCKETS } });
    const edge = resolvePeriod({ since: new Date('2026-01-01T00:00:00Z'), until: new Date(ms('2026-01-01T00:00:00Z') + MAX_BUCKETS * 3_600_000), granularity: 'hour' }, now);
    expect(edge.ok).toBe(true);
  });

  it('refuses a since in the future of the default until, and instants outside the supported years', () => {
    expect(resolvePeriod({ since: new Date('2026-12-01T00:00:00Z'), granularity: 'day' }, now)).toMatchObject({ ok: false, parameter: 'since' });
    expect(resolvePeriod({ since: new Date('1999-12-31T00:00:00Z'), granularity: 'week' }, now)).toMatchObject({ ok: false, parameter: 'since' });
    expect(resolvePeriod({ until: new Date('2100-01-02T00:00:00Z'), granularity: 'week' }, now)).toMatchObject({ ok: false, parameter: 'until' });
  });
});

describe('buildAnalytics', () => {
  const period: Period = { since: ms('2026-11-02T00:00:00Z'), until: ms('2026-11-05T00:00:00Z'), granularity: 'day' };
  const rows: AnalyticsRows = {
    sessions: [
      { t: s('2026-10-31T00:00:00Z'), status: 'human', n: 4 }, // previous period
      { t: s('2026-11-01T00:00:00Z'), status: 'bot', n: 1 },
      { t: s('2026-11-02T00:00:00Z'), status: 'bot', n: 2 },
      { t: s('2026-11-02T00:00:00Z'), status: 'human', n: 3 },
      { t: s('2026-11-04T00:00:00Z'), status: 'suspicious', n: 1 },
      { t: s('2026-11-04T00:00:00Z'), status: 'unscored', n: 2 },
    ],
    events: [
      { t: s('2026-11-01T00:00:00Z'), event_type: 'session.started', events: 5, items: 5 },
      { t: s('2026-11-02T00:00:00Z'), event_type: 'session.started', events: 5, items: 5 },
      { t: s('2026-11-02T00:00:00Z'), event_type: 'session.activity', events: 3, items: 40 },
      { t: s('2026-11-04T00:00:00Z'), event_type: 'session.scored', events: 3, items: 3 },
    ],
    flags: [
      { t: s('2026-11-02T00:00:00Z'), flag: 'webdriver', n: 1 },
      { t: s('2026-11-02T00:00:00Z'), flag: 'paste_heavy', n: 2 },
      { t: s('2026-11-04T00:00:00Z'), flag: 'paste_heavy', n: 1 },
    ],
  };

  it('zero-fills every bucket of an empty period', () => {
    const a = buildAnalytics(period, null, NO_ROWS);
    expect(a.series.map((b) => b.bucket)).toEqual(['2026-11-02T00:00:00.000Z', '2026-11-03T00:00:00.000Z', '2026-11-04T00:00:00.000Z']);
    expect(a.series[1]).toEqual({ bucket: '2026-11-03T00:00:00.000Z', sessions: 0, byStatus: { unscored: 0, human: 0, suspicious: 0, bot: 0 }, flaggedSessions: 0, events: 0, activities: 0 });
    expect(a.summary).toMatchObject({ sessions: 0, botRate: 0, topFlags: [], trend: { sessions: 0, sessionsChangePct: null } });
  });

  it('counts a status outside the enum in its bucket and the totals, never in byStatus', () => {
    const a = buildAnalytics(period, null, { ...NO_ROWS, sessions: [{ t: s('2026-11-03T00:00:00Z'), status: null, n: 2 }, { t: s('2026-11-03T00:00:00Z'), status: 'bot', n: 1 }] });
    expect(a.series[1]).toMatchObject({ sessions: 3, flaggedSessions: 1, byStatus: { unscored: 0, human: 0, suspicious: 0, bot: 1 } });
    expect(a.summary).toMatchObject({ sessions: 3, flaggedSessions: 1, byStatus: { unscored: 0, human: 0, suspicious: 0, bot: 1 } });
  });

  it('fills buckets, sums the summary from them, and compares with the previous period', () => {
    const a = buildAnalytics(period, null, rows);
    expect(a.period).toEqual({ since: '2026-11-02T00:00:00.000Z', until: '2026-11-05T00:00:00.000Z' });
    expect(a.series.map((b) => [b.sessions, b.flaggedSessions, b.events, b.activities])).toEqual([[5, 2, 8, 40], [0, 0, 0, 0], [3, 1, 3, 0]]);
    expect(a.series[2]!.byStatus).toEqual({ unscored: 2, human: 0, suspicious: 1, bot: 0 });
    expect(a.series[0]!.byFlag).toBeUndefined();
    expect(a.summary).toEqual({
      sessions: 8,
      byStatus: { unscored: 2, human: 3, suspicious: 1, bot: 2 },
      flaggedSessions: 3,
      botRate: 0.25,
      events: 11,
      activities: 40,
      topFlags: [{ flag: 'paste_heavy', sessions: 3 }, { flag: 'webdriver', sessions: 1 }],
      trend: {
        previousPeriod: { since: '2026-10-30T00:00:00.000Z', until: '2026-11-02T00:00:00.000Z' },
        sessions: 5,
        flaggedSessions: 1,
        events: 5,
        sessionsChangePct: 60,
        flaggedSessionsChangePct: 200,
        eventsChangePct: 120,
      },
    });
  });

  it('breaks down by flag, with the same flags in every bucket', () => {
    const a = buildAnalytics(period, 'flag', rows);
    expect(a.series.map((b) => b.byFlag)).toEqual([{ paste_heavy: 2, webdriver: 1 }, { paste_heavy: 0, webdriver: 0 }, { paste_heavy: 1, webdriver: 0 }]);
    expect(Object.keys(a.series[1]!.byFlag!)).toEqual(['paste_heavy', 'webdriver']);
  });

  it('breaks down by event type, every type present', () => {
    const a = buildAnalytics(period, 'eventType', rows);
    expect(a.series[0]!.byEventType).toEqual({
      'session.started': 5,
      'session.page_viewed': 0,
      'session.activity': 3,
      'session.scored': 0,
      'session.identified': 0,
      'session.ended': 0,
    });
    expect(Object.values(a.series[1]!.byEventType!).every((n) => n === 0)).toBe(true);
  });
});
