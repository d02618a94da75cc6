// Reads the configuration, starts the app, and stops it cleanly on SIGINT or SIGTERM (src/signals.ts).
import { createApp } from './app.js';
import { ConfigError, loadConfig, type DatabaseConfig } from './config.js';
import { isDatabaseUnavailable } from './db/unavailable.js';
import { listen } from './http/server.js';
import { flushLogs, type Logger } from './observability/logger.js';
import { onStopSignals, signalExitCode } from './signals.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  const running = await listen(app, config).catch(async (error: unknown) => {
    await app.close();
    throw error;
  });
  const { logger } = app.observability;
  const where = describeDatabase(config.database);
  logger.info(`GraphQL server on ${running.url}/graphql (GraphiQL in a browser), health at ${running.url}/health, data in ${where}`);
  if (running.metricsUrl) logger.info(`Metrics at ${running.metricsUrl}`);

  onStopSignals({
    drain(signal) {
      logger.info(`${signal}: no new connections; waiting up to ${config.shutdownTimeoutMs} ms for requests in flight (Ctrl-C twice more to stop at once)`);
      running.shutdown(config.shutdownTimeoutMs).then(
        () => {
          logger.info('Stopped cleanly.');
          exit(logger, 0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'Shutdown failed');
          exit(logger, 1);
        },
      );
    },
    remind: (message) => logger.info(message),
    force(signal) {
      logger.warn(`${signal}: stopping at once; requests in flight get no answer.`);
      exit(logger, signalExitCode(signal));
    },
  });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`);
    process.exit(2);
  }
  if (isDatabaseUnavailable(error)) {
    console.error(`Cannot reach the database: ${(error as Error).message}. Check DATABASE_URL and that the database is running.`);
    process.exit(1);
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    console.error(`Cannot listen: ${(error as Error).message}. Set PORT and HOST to a free address.`);
    process.exit(1);
  }
  console.error(error);
  process.exit(1);
});

/** Exits once the log's lines are written (logger.ts writes them in batches, asynchronously). */
function exit(logger: Logger, code: number): void {
  void flushLogs(logger).then(() => process.exit(code));
}

function describeDatabase(database: DatabaseConfig): string {
  if (database.dialect === 'postgres') {
    const url = new URL(database.url);
    return `PostgreSQL ${url.host}${url.pathname} (pool of ${database.poolSize})`;
  }
  return database.filename === ':memory:' ? 'an in-memory SQLite database' : `SQLite file ${database.filename}`;
}
