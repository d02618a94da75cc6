// Registered with `node --import`: records every module the process loads, so that a test can tell
// which packages a configuration loads at all (module hooks: node:module's register).
import { register } from 'node:module';

const { port1, port2 } = new MessageChannel();
globalThis.loadedModules = [];
port1.on('message', (url) => globalThis.loadedModules.push(url));
port1.unref();
register('./module-recorder-hooks.mjs', { parentURL: import.meta.url, data: { port: port2 }, transferList: [port2] });
