// The one database of a default-mode run, copied for every server: made by our own migrations and
// seed (accounts 1..1000, balance 1000 each), then given history that the nested reads show.
import { join } from 'node:path';
import type { Builds } from './build.js';
import { queryData } from './graphql.js';
import { startServer } from './processes.js';
import { randomTransfer, TRANSFER } from './scenarios.js';
import { oursOptions } from './targets.js';

export const TEMPLATE_TRANSFERS = 2000;
export const TEMPLATE_TRANSFER_ACCOUNTS = 100;

/**
 * Lets our server create and seed a database and make TEMPLATE_TRANSFERS random transfers among
 * accounts 1..TEMPLATE_TRANSFER_ACCOUNTS through its API, then stops it cleanly (closing SQLite
 * checkpoints the WAL), so that every server reads the very same schema and rows.
 */
export async function prepareTemplateDb({ builds, workDir }: { builds: Builds; workDir: string }): Promise<string> {
  const templateDb = join(workDir, 'template.sqlite');
  const server = await startServer({
    ...oursOptions(builds, `file:${templateDb}`),
    name: 'ours [template database]',
    logFile: join(workDir, 'template.log'),
  });
  try {
    await createTransfers(server.url, TEMPLATE_TRANSFERS, TEMPLATE_TRANSFER_ACCOUNTS);
  } finally {
    await server.stop(10_000);
  }
  return templateDb;
}

/**
 * Sends `count` random transfers through the server, 20 at a time. Balances start at 1,000 and a
 * transfer moves at most 10, so none is refused: any error is the template's failure.
 */
async function createTransfers(baseUrl: string, count: number, accounts: number): Promise<void> {
  let sent = 0;
  const worker = async () => {
    while (sent < count) {
      sent += 1;
      await queryData(baseUrl, TRANSFER, randomTransfer(accounts));
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
}
