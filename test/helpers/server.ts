import type { App } from '../../src/app.js';
import { listen, type RunningServer } from '../../src/http-server.js';

/** Serves the app on a free port of 127.0.0.1 over real HTTP. */
export const serve = (app: App): Promise<RunningServer> => listen(app, { port: 0, host: '127.0.0.1' });
