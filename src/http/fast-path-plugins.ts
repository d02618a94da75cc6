import type { Plugin } from 'graphql-yoga';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPlugin = Plugin<any, any, any>;

const safe = new WeakSet<object>();

/**
 * Declares that the HTTP fast path (request-listener.ts) may run with this plugin, and returns it.
 * The fast path runs the hooks of `getResultForParams` (onParams, envelop's parse, validate, context
 * and execute hooks, onExecutionResult) and skips the HTTP-level ones (onRequest, onRequestParse,
 * onResultProcess, onResponse, and Yoga's instrumentation); so a plugin is safe when it has none of
 * the skipped hooks, or when the fast path does their job itself (the body limit, the response size
 * bound). Only what is marked here is trusted: a plugin nobody marked turns the fast path off.
 */
export function safeForFastPath<P extends AnyPlugin>(plugin: P): P {
  safe.add(plugin);
  return plugin;
}

/**
 * Why the fast path cannot run with these plugins: one description per plugin in the way, none
 * when it can. `given` are the plugins handed to createYoga, each of which must be marked safe;
 * `built` is every plugin Yoga runs: its own, then those given, and those they added at init.
 * Yoga's own are known for the version installed: the fast path stands in for their HTTP hooks,
 * and test/fast-path.test.ts compares its answers with Yoga's. Any plugin with `instrumentation`
 * is in the way, marked or not: instrumentation wraps the whole request (`request`,
 * `requestParse`, `operation`, `resultProcess`), which the fast path does not go through.
 */
export function pluginsInTheWayOfFastPath(given: readonly AnyPlugin[], built: readonly AnyPlugin[]): string[] {
  const inTheWay = new Set<AnyPlugin>(given.filter((plugin) => !safe.has(plugin)));
  for (const plugin of built) if (plugin && 'instrumentation' in plugin && plugin.instrumentation) inTheWay.add(plugin);
  return [...inTheWay].map(describePlugin);
}

/** A plugin's name if it has one (most have none), and its hooks, for the log. */
function describePlugin(plugin: AnyPlugin): string {
  const name = (plugin as { name?: unknown }).name;
  const hooks = Object.keys(plugin).filter((key) => key !== 'name');
  return `${typeof name === 'string' ? name : 'a plugin'} with ${hooks.join(', ') || 'no hooks'}`;
}
