import type { App } from '../../src/app.js';
import { listen, type RunningServer } from '../../src/http/server.js';
import type { TestDatabase } from './databases.js';
import { createTestApp, type TestApp } from './graphql.js';

/** Serves the app on a free port of 127.0.0.1 over real HTTP. */
export const serve = (app: App): Promise<RunningServer> => listen(app, { port: 0, host: '127.0.0.1' });

export type ServedTestApp = { app: TestApp; server: RunningServer; close(): Promise<void> };

/** A test app on a fresh database, served over real HTTP; `close` stops the server and drops the database. */
export async function serveTestApp(database: TestDatabase, options?: Parameters<typeof createTestApp>[1]): Promise<ServedTestApp> {
  const app = await createTestApp(database, options);
  const server = await serve(app);
  return {
    app,
    server,
    async close() {
      await server.shutdown(0);
      await app.dispose();
    },
  };
}
