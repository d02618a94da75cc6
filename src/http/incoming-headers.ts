import { IncomingMessage } from 'node:http';

/**
 * An IncomingMessage whose `headers` object is the one node builds, built for less. Node reads
 * `req.headers` for every HTTP/1.1 request (its Host and Expect checks) and builds it a line at a
 * time: each name is lowercased through a switch of known names, flagged by a character put in
 * front of it and cut off again, so every line makes new strings, and the object is keyed by them.
 * A browser sends 15 to 20 lines: in a CPU profile of `{ hello }` with a browser's headers, node's
 * getter took 7.2 µs per request, this one 2.4 (bench/README.md, "A request's headers object").
 *
 * Here what node does with a name is learned once, from node itself (its own `_addHeaderLine`,
 * given the name twice): the key it stores under and how it merges a repeated line. A request's
 * lines are then copied under those keys, by node's rules. Names are looked up by position first
 * (a client sends its headers in the same order every time, and so do most clients of one kind),
 * then in a map of at most MAX_NAMES names, which starts again when full. Whatever is unusual is
 * node's own code's (the message's `_addHeaderLine`, so a wrapper an agent put on it still runs):
 * a request of more than MAX_LINES lines, a name longer than MAX_NAME_LENGTH, a name node keeps
 * under no key of its own (`__proto__`), a server with `joinDuplicateHeaders`.
 * test/incoming-headers.test.ts compares the objects with node's, entry for entry and in order.
 */
export class FastHeadersIncomingMessage extends IncomingMessage {}

/** Lines (name and value) past which a request's headers are node's to build: its limit (maxHeadersCount) counts in the thousands. */
const MAX_LINES = 32;
/** Names kept at once: each is a client's string, so their count and length are bounded (about 20 KB at most). */
export const MAX_NAMES = 256;
const MAX_NAME_LENGTH = 40;

/** How node merges a second line of the same name (lib/_http_incoming.js, `_addHeaderLine`). */
const enum Merge {
  /** Joined to the first with ', ' (any name node does not know, and some it does). */
  Comma,
  /** Joined with '; ' (Cookie). */
  Semicolon,
  /** Kept in an array (Set-Cookie). */
  List,
  /** Dropped (Host, Content-Type, Authorization...). */
  KeepFirst,
}

type Rule = { readonly key: string; readonly merge: Merge };
type HeaderObject = Record<string, string | string[] | undefined>;

type AddsHeaderLines = { _addHeaderLine(name: string, value: string, dest: object): void };
const nodeHeaders = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'headers');
/** node's own slots of a message: its headers object (built once, read by node too) and its count of raw header entries. */
const nodeSymbols = Object.getOwnPropertySymbols(new IncomingMessage(null as never));
const headersSymbol = nodeSymbols.find((symbol) => symbol.description === 'kHeaders');
const headersCountSymbol = nodeSymbols.find((symbol) => symbol.description === 'kHeadersCount');

/** Undefined when node does something else with a name than its four ways (then node builds that line). */
function learn(name: string): Rule | undefined {
  const probe = {};
  const addHeaderLine = (IncomingMessage.prototype as unknown as AddsHeaderLines)._addHeaderLine;
  addHeaderLine.call({}, name, 'a', probe);
  addHeaderLine.call({}, name, 'b', probe);
  const keys = Object.keys(probe);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  const merged = (probe as HeaderObject)[key];
  const merge = Array.isArray(merged)
    ? merged.length === 2 && merged[0] === 'a' && merged[1] === 'b' ? Merge.List : undefined
    : merged === 'a, b' ? Merge.Comma : merged === 'a; b' ? Merge.Semicolon : merged === 'a' ? Merge.KeepFirst : undefined;
  return merge === undefined ? undefined : { key, merge };
}

/**
 * The names learned, each with its rule, or null where node builds the line itself. When full, it
 * starts again: a client sending ever new names costs a relearning now and then, never a slower
 * path for good (a map that stopped learning would leave every name seen later to node, after a miss).
 */
const rules = new Map<string, Rule | null>();

/** How many names are learned now, and whether a name is (tests: the bound holds, and learning goes on). */
export const learnedNameCount = (): number => rules.size;
export const isLearned = (name: string): boolean => rules.has(name);

/** The names and rules of the last request, by position: a rule depends on its name alone, so an entry stays right whatever the map forgets. */
const lastNames: string[] = [];
const lastRules: (Rule | null)[] = [];

/** The rule of the line at `position` named `name`; null when node must build that line. */
function ruleAt(position: number, name: string): Rule | null {
  if (lastNames[position] === name) return lastRules[position]!;
  let rule = rules.get(name);
  if (rule === undefined) {
    // A name this long is node's to build, and is not kept.
    if (name.length > MAX_NAME_LENGTH) return null;
    if (rules.size >= MAX_NAMES) rules.clear();
    rule = learn(name) ?? null;
    rules.set(name, rule);
  }
  lastNames[position] = name;
  lastRules[position] = rule;
  return rule;
}

/** The headers object node would build from `raw`, or undefined when node must build it. */
function buildHeaders(message: IncomingMessage): HeaderObject | undefined {
  const raw = message.rawHeaders;
  const count = (message as unknown as Record<symbol, number>)[headersCountSymbol!];
  if (!raw || count !== raw.length || count > MAX_LINES * 2 || (message as { joinDuplicateHeaders?: boolean }).joinDuplicateHeaders) return undefined;
  const dest: HeaderObject = {};
  for (let index = 0; index < count; index += 2) {
    const name = raw[index]!;
    const value = raw[index + 1]!;
    const rule = ruleAt(index >> 1, name);
    if (rule === null) {
      // The message's own: node's, or whatever has wrapped it since.
      (message as unknown as AddsHeaderLines)._addHeaderLine(name, value, dest);
      continue;
    }
    const key = rule.key;
    const had = dest[key];
    switch (rule.merge) {
      case Merge.Comma:
        dest[key] = typeof had === 'string' ? `${had}, ${value}` : value;
        break;
      case Merge.Semicolon:
        dest[key] = typeof had === 'string' ? `${had}; ${value}` : value;
        break;
      case Merge.List:
        if (had !== undefined) (had as string[]).push(value);
        else dest[key] = [value];
        break;
      case Merge.KeepFirst:
        if (had === undefined) dest[key] = value;
        break;
    }
  }
  return dest;
}

type WithNodeSlots = IncomingMessage & Record<symbol, unknown>;

// An accessor, as node's is (TypeScript declares `headers` a property, which a subclass cannot
// override with a getter). The object goes in node's own slot, as node's getter puts it: node's
// setter, and node's code that adds lines to a built object, find it there.
if (nodeHeaders?.get && nodeHeaders.set && headersSymbol && headersCountSymbol) {
  const nodeGet = nodeHeaders.get;
  const slot = headersSymbol;
  Object.defineProperty(FastHeadersIncomingMessage.prototype, 'headers', {
    configurable: true,
    get(this: WithNodeSlots) {
      // Built when first read, and again after a falsy value was set, as node's getter does.
      const built = this[slot];
      if (built) return built;
      const headers = buildHeaders(this);
      if (headers === undefined) return nodeGet.call(this);
      this[slot] = headers;
      return headers;
    },
    set: nodeHeaders.set,
  });
}
