// Run by test/observability.test.ts in a process of its own, with test/helpers/module-recorder.mjs:
// starts and stops an app configured by the environment, then prints the npm packages it loaded.
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

const app = await createApp(loadConfig());
await app.close();
const urls = (globalThis as unknown as { loadedModules: string[] }).loadedModules;
const packages = new Set(urls.flatMap((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
console.log(JSON.stringify([...packages].sort()));
