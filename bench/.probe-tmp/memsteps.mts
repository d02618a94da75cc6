const f = (n: number) => (n / 1048576).toFixed(1);
const show = (label: string) => { globalThis.gc?.(); const m = process.memoryUsage(); console.log(`${label.padEnd(40)} rss ${f(m.rss)} heapUsed ${f(m.heapUsed)} heapTotal ${f(m.heapTotal)} ext ${f(m.external)}`); };
show('start');
for (const mod of ['graphql', 'graphql-yoga', '@graphql-yoga/render-graphiql', '@pothos/core', 'kysely', 'better-sqlite3', 'pg', 'dataloader', 'async-mutex', '@escape.tech/graphql-armor-max-tokens', '@escape.tech/graphql-armor-max-depth', '@escape.tech/graphql-armor-max-aliases', '@escape.tech/graphql-armor-max-directives']) {
  try { await import(mod); } catch (e) { console.log('fail', mod, (e as Error).message); }
  show(mod);
}
await import('/work/main/src/schema/index.ts'); show('src/schema');
const { createApp } = await import('/work/main/src/app.ts');
const { loadConfig } = await import('/work/main/src/config.ts');
show('src/app loaded');
const app = await createApp(loadConfig({ DATABASE_URL: 'file:/tmp/t5.sqlite' }));
show('createApp');
