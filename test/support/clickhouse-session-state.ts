/**
 * Per-request settings and database on one long-lived chdb session.
 *
 * A ClickHouse server applies URL settings to one query only. chdb has one
 * session whose `SET`s persist, so each request first moves the session to the
 * state it asked for and every setting it did not mention back to the value the
 * session started with. Only differences are applied, so a client that always
 * sends the same settings costs nothing after its first request.
 */
import type { Session } from 'chdb';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Settings that cannot be emulated on a shared session: `readonly` set once
 * would forbid the later `SET`s that restore the others.
 */
const IGNORED = new Set(['readonly']);

function unknownSetting(name: string): Error {
  return new Error(`Code: 115. DB::Exception: Unknown setting '${name}'. (UNKNOWN_SETTING)`);
}

function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/** getSetting() returns typed JSON; SET takes every kind back as a string literal. */
function settingText(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'string') return value;
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

async function scalar(session: Session, sql: string, params: Record<string, string> = {}): Promise<unknown> {
  const result = await session.queryBindAsync(sql, params, { format: 'JSONEachRow' });
  const row = JSON.parse(result.text()) as { v: unknown };
  return row.v;
}

export class SessionState {
  private readonly baseline = new Map<string, string>();
  private readonly current = new Map<string, string>();
  private baselineDatabase: string | undefined;
  private currentDatabase: string | undefined;

  constructor(private readonly session: Session) {}

  /** Must run inside the endpoint's serial queue: it reads and writes session-wide state. */
  async apply(settings: ReadonlyMap<string, string>, database: string | undefined): Promise<void> {
    const wanted = new Map<string, string>();
    for (const [name, value] of settings) {
      if (IGNORED.has(name)) continue;
      if (!NAME.test(name)) throw unknownSetting(name);
      if (!this.baseline.has(name)) {
        const start = settingText(await this.startingValue(name));
        this.baseline.set(name, start);
        this.current.set(name, start);
      }
      wanted.set(name, value);
    }
    for (const [name, value] of this.baseline) if (!wanted.has(name)) wanted.set(name, value);

    const changes = [...wanted].filter(([name, value]) => this.current.get(name) !== value);
    if (changes.length > 0) {
      try {
        await this.session.queryAsync(`SET ${changes.map(([n, v]) => `${n} = ${sqlString(v)}`).join(', ')}`);
      } catch (error) {
        // A rejected value may have left some of these applied; forget them so the next request sets them again.
        for (const [name] of changes) this.current.delete(name);
        throw error;
      }
      for (const [name, value] of changes) this.current.set(name, value);
    }
    await this.useDatabase(database);
  }

  private async startingValue(name: string): Promise<unknown> {
    try {
      return await scalar(this.session, 'SELECT getSetting({n:String}) AS v', { n: name });
    } catch (error) {
      // The server's text for an unknown setting, without this lookup's query in it.
      if ((error as { clickhouseCode?: unknown }).clickhouseCode === 115) throw unknownSetting(name);
      throw error;
    }
  }

  private async useDatabase(database: string | undefined): Promise<void> {
    if (this.baselineDatabase === undefined) {
      this.baselineDatabase = String(await scalar(this.session, 'SELECT currentDatabase() AS v'));
      this.currentDatabase = this.baselineDatabase;
    }
    const target = database ?? this.baselineDatabase;
    if (target === this.currentDatabase) return;
    await this.session.queryAsync(`USE ${quoteIdentifier(target)}`);
    this.currentDatabase = target;
  }
}
