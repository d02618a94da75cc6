import type { Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { safeForFastPath } from '../src/http/fast-path-plugins.js';
import { createLogger } from '../src/observability/logger.js';
import { sqlite } from './helpers/databases.js';
import { graphqlRequest } from './helpers/graphql.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';

// The HTTP fast path skips Yoga's HTTP-level hooks, so it runs only with plugins known to be safe
// for it (src/http/fast-path-plugins.ts): a plugin that hooks into every request must see every
// request, whichever path would have taken it.

const REQUESTS = 5;

/** Sends REQUESTS JSON POSTs, the request the fast path takes when it is on, over real HTTP. */
async function sendJsonPosts(served: ServedTestApp): Promise<void> {
  for (let index = 0; index < REQUESTS; index += 1) {
    const { body } = await graphqlRequest(fetch, `${served.server.url}/graphql`, '{ hello(delayMs: 0) }');
    expect(body.data?.hello).toBe('Hello, World');
  }
}

async function withServedApp(plugins: Plugin[], test: (served: ServedTestApp, logLines: string[]) => Promise<void>): Promise<void> {
  const logLines: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line) => void logLines.push(line) } });
  const served = await serveTestApp(sqlite, { plugins, logger });
  try {
    await test(served, logLines);
  } finally {
    await served.close();
  }
}

describe('the plugins the HTTP fast path runs with', () => {
  it('keeps the fast path for our own plugins, and for plugins marked safe', async () => {
    const executions = { count: 0 };
    await withServedApp([safeForFastPath({ onExecute: () => void (executions.count += 1) })], async (served, logLines) => {
      await sendJsonPosts(served);
      expect(served.app.requestListener.fastPathAnswers).toBe(REQUESTS);
      expect(executions.count).toBe(REQUESTS);
      expect(logLines.join('')).not.toContain('fast path is off');
    });
  });

  it('lets an instrumentation plugin see every request, even one marked safe', async () => {
    const seen = { request: 0, operation: 0, resultProcess: 0 };
    const tracing: Plugin = safeForFastPath({
      instrumentation: {
        request: (_payload, wrapped) => {
          seen.request += 1;
          return wrapped();
        },
        operation: (_payload, wrapped) => {
          seen.operation += 1;
          return wrapped();
        },
        resultProcess: (_payload, wrapped) => {
          seen.resultProcess += 1;
          return wrapped();
        },
      },
    });
    await withServedApp([tracing], async (served, logLines) => {
      await sendJsonPosts(served);
      expect(seen).toEqual({ request: REQUESTS, operation: REQUESTS, resultProcess: REQUESTS });
      expect(served.app.requestListener.fastPathAnswers).toBe(0);
      expect(logLines.filter((line) => line.includes('fast path is off'))).toHaveLength(1);
      expect(logLines.join('')).toContain('a plugin with instrumentation');
    });
  });

  const onRequest = (seen: { count: number }): Plugin => ({ onRequest: () => void (seen.count += 1) });
  it.each([
    ['has an onRequest hook', (seen: { count: number }): Plugin => onRequest(seen)],
    ['adds a plugin with an onRequest hook when it starts', (seen: { count: number }): Plugin => ({ onPluginInit: ({ addPlugin }) => addPlugin(onRequest(seen)) })],
  ])('lets an unknown plugin that %s see every request', async (_name, plugin) => {
    const seen = { count: 0 };
    await withServedApp([plugin(seen)], async (served, logLines) => {
      await sendJsonPosts(served);
      expect(seen.count).toBe(REQUESTS);
      expect(served.app.requestListener.fastPathAnswers).toBe(0);
      expect(logLines.filter((line) => line.includes('fast path is off'))).toHaveLength(1);
    });
  });
});
