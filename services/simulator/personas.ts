import type { Activity, ActivityKind } from '../../schemas/events/session-events.js';
import type { Rng } from './rng.js';

/**
 * Who is behind a simulated session, and how that shows in the signals the
 * pixel collects and the verdicts the scoring tier publishes.
 */

export const SESSION_KINDS = ['human', 'suspicious', 'bot'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];
export type SessionMix = Readonly<Record<SessionKind, number>>;
export const DEFAULT_MIX: SessionMix = { human: 0.7, suspicious: 0.2, bot: 0.1 };

export const BOT_STYLES = ['headless', 'instant_navigation', 'paste_heavy', 'llm_agent'] as const;
export type BotStyle = (typeof BOT_STYLES)[number];
export type PersonaName = 'human' | 'suspicious' | BotStyle;

/** The simulator's verdict thresholds; a score's status always agrees with them. */
export function statusForScore(score: number): SessionKind {
  if (score >= 0.75) return 'bot';
  if (score >= 0.35) return 'suspicious';
  return 'human';
}

export interface Persona {
  name: PersonaName;
  kind: SessionKind;
  userAgents: readonly string[];
  pages: readonly [min: number, max: number];
  /** Time spent on one page. */
  dwellMs: readonly [min: number, max: number];
  /** Mean gap between two recorded activities. */
  activityGapMs: number;
  kinds: Readonly<Partial<Record<ActivityKind, number>>>;
  /** Flags always raised, and flags raised now and then. */
  flags: readonly string[];
  maybeFlags: readonly string[];
  /** First and final bot score ranges: the first verdict is uncertain, later ones converge. */
  firstScore: readonly [number, number];
  finalScore: readonly [number, number];
  attributes(kind: ActivityKind, rng: Rng): Attributes;
}

type Attributes = Record<string, string | number | boolean>;

const BROWSERS = ['Chrome 131 on Windows 11', 'Chrome 130 on macOS 14', 'Safari 17 on macOS 14', 'Safari 17 on iOS 17', 'Firefox 132 on Windows 10', 'Edge 131 on Windows 11', 'Chrome 131 on ChromeOS', 'Chrome 131 on Android 14'];
const TARGETS = ['a.module-item-title', 'button#submit_quiz_button', 'input[type=radio]', 'div.ig-row', 'a.ui-tabs-anchor', 'button.next'];

function humanAttributes(kind: ActivityKind, rng: Rng): Attributes {
  switch (kind) {
    case 'mousemove': return { samples: rng.int(8, 90), straightness: round(rng.float(0.12, 0.68)) };
    case 'scroll': return { deltaY: rng.int(-400, 900), depth: round(rng.float(0, 1)) };
    case 'click': return { target: rng.pick(TARGETS), trusted: true };
    case 'keypress': return { count: rng.int(1, 45), meanIntervalMs: rng.int(95, 320) };
    case 'paste': return { chars: rng.int(4, 80) };
    case 'copy': return { chars: rng.int(10, 300) };
    case 'visibility': return { state: rng.pick(['hidden', 'visible']) };
    default: return {};
  }
}

const round = (value: number): number => Math.round(value * 1000) / 1000;

const human: Persona = {
  name: 'human', kind: 'human', userAgents: BROWSERS, pages: [2, 8], dwellMs: [12_000, 180_000], activityGapMs: 2_500,
  kinds: { mousemove: 35, scroll: 25, click: 12, keypress: 12, focus: 3, blur: 3, visibility: 3, copy: 1, paste: 2, form_submit: 1 },
  flags: [], maybeFlags: ['datacenter_ip', 'tab_hidden_activity'], firstScore: [0.2, 0.5], finalScore: [0.02, 0.3],
  attributes: humanAttributes,
};

/** A student leaning on outside help: mostly human signals, with big pastes and a hidden tab. */
const suspicious: Persona = {
  ...human, name: 'suspicious', kind: 'suspicious', dwellMs: [8_000, 120_000],
  kinds: { ...human.kinds, paste: 6, visibility: 8, blur: 6, keypress: 8 },
  flags: [], maybeFlags: ['paste_heavy', 'tab_hidden_activity', 'superhuman_typing', 'inconsistent_fingerprint', 'datacenter_ip'],
  firstScore: [0.3, 0.6], finalScore: [0.4, 0.7],
  attributes: (kind, rng): Attributes => (kind === 'paste' ? { chars: rng.int(300, 2_500) } : humanAttributes(kind, rng)),
};

const headless: Persona = {
  name: 'headless', kind: 'bot', userAgents: ['HeadlessChrome 131 on Linux', 'Chrome 131 on Linux'], pages: [3, 12], dwellMs: [800, 6_000], activityGapMs: 400,
  kinds: { click: 6, keypress: 3, navigation: 3, focus: 1, form_submit: 1 },
  flags: ['headless_browser', 'webdriver', 'no_mouse_movement'], maybeFlags: ['automation_framework', 'datacenter_ip'],
  firstScore: [0.45, 0.75], finalScore: [0.88, 0.99],
  attributes: (kind, rng): Attributes => (kind === 'keypress' ? { count: rng.int(5, 60), meanIntervalMs: rng.int(2, 12) } : kind === 'click' ? { target: rng.pick(TARGETS), trusted: false } : {}),
};

/** A crawler walking every page of a course faster than anyone can read. */
const instantNavigation: Persona = {
  name: 'instant_navigation', kind: 'bot', userAgents: ['Chrome 120 on Linux', 'HeadlessChrome 128 on Linux'], pages: [10, 40], dwellMs: [60, 600], activityGapMs: 120,
  kinds: { navigation: 6, click: 2, scroll: 1 },
  flags: ['instant_navigation', 'no_mouse_movement'], maybeFlags: ['datacenter_ip', 'automation_framework'],
  firstScore: [0.5, 0.75], finalScore: [0.9, 0.99],
  attributes: (kind, rng): Attributes => (kind === 'scroll' ? { deltaY: rng.int(2_000, 9_000), depth: 1 } : {}),
};

/** Answers pasted in whole from elsewhere, typing far too regular for a person. */
const pasteHeavy: Persona = {
  name: 'paste_heavy', kind: 'bot', userAgents: BROWSERS, pages: [2, 6], dwellMs: [5_000, 40_000], activityGapMs: 1_500,
  kinds: { paste: 10, keypress: 4, click: 4, mousemove: 3, form_submit: 2, blur: 2 },
  flags: ['paste_heavy', 'superhuman_typing'], maybeFlags: ['tab_hidden_activity'],
  firstScore: [0.4, 0.7], finalScore: [0.78, 0.95],
  attributes: (kind, rng): Attributes =>
    kind === 'paste' ? { chars: rng.int(800, 6_000) } : kind === 'keypress' ? { count: rng.int(1, 8), meanIntervalMs: rng.int(20, 45) } : humanAttributes(kind, rng),
};

/** A browsing LLM agent: straight mouse paths, metronomic clicks, instant typing. */
const llmAgent: Persona = {
  name: 'llm_agent', kind: 'bot', userAgents: ['Chrome 130 on Linux', 'Chrome 131 on macOS 14'], pages: [3, 10], dwellMs: [3_000, 9_000], activityGapMs: 700,
  kinds: { mousemove: 5, click: 5, keypress: 4, scroll: 2, form_submit: 1 },
  flags: ['llm_agent_signature', 'linear_mouse_path'], maybeFlags: ['superhuman_typing', 'automation_framework', 'datacenter_ip'],
  firstScore: [0.45, 0.7], finalScore: [0.82, 0.98],
  attributes: (kind, rng): Attributes => {
    if (kind === 'mousemove') return { samples: rng.int(2, 6), straightness: round(rng.float(0.96, 1)) };
    if (kind === 'keypress') return { count: rng.int(20, 200), meanIntervalMs: rng.int(5, 25) };
    return humanAttributes(kind, rng);
  },
};

export const PERSONAS: Readonly<Record<PersonaName, Persona>> = {
  human, suspicious, headless, instant_navigation: instantNavigation, paste_heavy: pasteHeavy, llm_agent: llmAgent,
};

export function choosePersona(rng: Rng, mix: SessionMix): Persona {
  const kind = rng.weighted(mix);
  return kind === 'bot' ? PERSONAS[rng.pick(BOT_STYLES)] : PERSONAS[kind];
}

/** Activities recorded on one page between `from` and `to` (epoch ms), oldest first. */
export function activitiesBetween(persona: Persona, rng: Rng, from: number, to: number, pageUrl: string): Activity[] {
  const activities: Activity[] = [];
  let at = from + rng.exponential(persona.activityGapMs / 2);
  while (at < to && activities.length < 60) {
    const kind = rng.weighted(persona.kinds);
    const attributes = persona.attributes(kind, rng);
    const activity: Activity = { kind, at: new Date(Math.floor(at)).toISOString() };
    if (kind === 'navigation' || kind === 'form_submit' || rng.chance(0.1)) activity.pageUrl = pageUrl;
    if (Object.keys(attributes).length > 0) activity.attributes = attributes;
    activities.push(activity);
    at += Math.max(1, rng.exponential(persona.activityGapMs));
  }
  return activities;
}

/** Final flags of a session: the persona's fixed ones plus a random few of the occasional ones. */
export function flagsFor(persona: Persona, rng: Rng): string[] {
  const extra = persona.maybeFlags.filter(() => rng.chance(persona.kind === 'human' ? 0.05 : 0.35));
  const flags = [...persona.flags, ...extra];
  // A suspicious verdict always gives a reason.
  if (flags.length === 0 && persona.kind === 'suspicious') flags.push(rng.pick(persona.maybeFlags));
  return flags;
}
