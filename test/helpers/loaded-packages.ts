// Run by test/observability.test.ts in a process of its own, with test/helpers/module-recorder.mjs:
// starts and stops an app configured by the environment, then prints the npm packages it loaded.
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

const app = await createApp(loadConfig());
await app.close();
const urls = (globalThis as unknown as { loadedModules: string[] }).loadedModules;
// The hooks run on a thread of their own and post each URL: once this last import's URL has
// arrived, every earlier one has too (a port delivers in order).
const sentinel = 'data:text/javascript,export default 1';
await import(sentinel);
for (let waited = 0; !urls.includes(sentinel) && waited < 5_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
const packages = new Set(urls.flatMap((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
console.log(JSON.stringify([...packages].sort()));
