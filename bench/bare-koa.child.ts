import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';

/**
 * Child process: the point-read baseline. The same stack the API stands on
 * (Node http, Koa, @koa/router) answering GET /v1/sessions/:id with a session
 * resource of the same shape and size, and nothing else: no auth, no rate
 * limit, no metering, no Redis. What the API adds on top is the ratio.
 */
const port = Number(process.env.BENCH_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('BENCH_PORT is required');

const app = new Koa();
const router = new Router();
router.get('/health', (ctx) => {
  ctx.body = { data: { status: 'ok' } };
});
router.get('/v1/sessions/:sessionId', (ctx) => {
  ctx.body = {
    data: {
      id: ctx.params.sessionId,
      createdAt: '2026-11-02T14:03:11.120Z',
      updatedAt: '2026-11-02T14:09:45.002Z',
      status: 'suspicious',
      botScore: 0.512,
      detectionFlags: ['paste_heavy', 'tab_hidden_activity'],
      pageUrl: 'https://canvas.example.edu/courses/1234/quizzes/98',
      userAgentSummary: 'Chrome 131 on Windows 11',
      userId: 'stu_000123',
      userName: 'Student 123',
      userUrl: 'https://canvas.example.edu/users/123',
    },
  };
});
app.use(router.routes());

const server = createServer(app.callback());
server.keepAliveTimeout = 5_000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
