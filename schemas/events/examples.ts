import type { IntegrationEvent } from './integration-events.js';
import type { SessionEvent } from './session-events.js';

/** Realistic examples of every event type: documentation, contract tests and fixtures at once. */
const integrationId = 'int_acme_university';
const sessionId = 'ses_01JD6Y8ZK3M4N5P6Q7R8S9T0UV';

export const sessionEventExamples: readonly SessionEvent[] = [
  {
    eventId: 'evt_01JD6Y8ZK3M4N5P6Q7R8S9T001',
    type: 'session.started',
    schemaVersion: 1,
    integrationId,
    sessionId,
    occurredAt: '2026-11-02T14:03:11.120Z',
    data: {
      pageUrl: 'https://acme.instructure.com/courses/48213/quizzes/991',
      userAgentSummary: 'Chrome 131 on Windows 11',
      referrer: 'https://acme.instructure.com/courses/48213',
    },
  },
  {
    eventId: 'evt_01JD6Y8ZK3M4N5P6Q7R8S9T002',
    type: 'session.page_viewed',
    schemaVersion: 1,
    integrationId,
    sessionId,
    occurredAt: '2026-11-02T14:03:40.004Z',
    data: { pageUrl: 'https://acme.instructure.com/courses/48213/quizzes/991/take', title: 'Midterm quiz' },
  },
  {
    eventId: 'evt_01JD6Y8ZK3M4N5P6Q7R8S9T003',
    type: 'session.activity',
    schemaVersion: 1,
    integrationId,
    sessionId,
    occurredAt: '2026-11-02T14:03:45.500Z',
    data: {
      activities: [
        { kind: 'mousemove', at: '2026-11-02T14:03:41.010Z', attributes: { samples: 42, straightness: 0.31 } },
        { kind: 'click', at: '2026-11-02T14:03:42.220Z', attributes: { target: 'button#start' } },
        { kind: 'paste', at: '2026-11-02T14:03:45.400Z', pageUrl: 'https://acme.instructure.com/courses/48213/quizzes/991/take', attributes: { chars: 812 } },
      ],
    },
  },
  {
    eventId: 'evt_01JD6Y8ZK3M4N5P6Q7R8S9T004',
    type: 'session.scored',
    schemaVersion: 1,
    integrationId,
    sessionId,
    occurredAt: '2026-11-02T14:03:46.000Z',
    data: { botScore: 0.87, status: 'bot', detectionFlags: ['paste_heavy', 'llm_agent_signature'], modelVersion: 'nai-2026.10.2' },
  },
  {
    eventId: 'evt_01JD6Y8ZK3M4N5P6Q7R8S9T005',
    type: 'session.identified',
    schemaVersion: 1,
    integrationId,
    sessionId,
    occurredAt: '2026-11-02T14:03:47.000Z',
    data: { userId: 'lms_user_88123', userName: 'Jordan Lee', userUrl: 'https://acme.instructure.com/users/88123' },
  },
  {
    eventId: 'evt_01JD6Y8ZK3M4N5P6Q7R8S9T006',
    type: 'session.ended',
    schemaVersion: 1,
    integrationId,
    sessionId,
    occurredAt: '2026-11-02T14:21:05.000Z',
    data: { reason: 'closed' },
  },
];

export const integrationEventExamples: readonly IntegrationEvent[] = [
  {
    eventId: 'evt_int_0001',
    type: 'integration.upserted',
    schemaVersion: 1,
    integrationId,
    occurredAt: '2026-10-01T09:00:00.000Z',
    data: { name: 'Acme University', tier: 'pro', region: 'us', status: 'active' },
  },
  {
    eventId: 'evt_int_0002',
    type: 'apikey.issued',
    schemaVersion: 1,
    integrationId,
    occurredAt: '2026-10-01T09:00:01.000Z',
    data: {
      keyId: 'key_7f3a9c',
      keyHash: '5f1c0e0e3a3b1b7c5e8d2f4a6c9b0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718',
      displayPrefix: 'aik_v1_Xy3k',
    },
  },
  {
    eventId: 'evt_int_0003',
    type: 'apikey.revoked',
    schemaVersion: 1,
    integrationId,
    occurredAt: '2026-10-20T17:45:00.000Z',
    data: { keyId: 'key_7f3a9c', keyHash: '5f1c0e0e3a3b1b7c5e8d2f4a6c9b0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718' },
  },
];
