// Documents a hostile client sends: small texts that cost a server much when it expands, compares or
// compiles them naively.

export const repeat = (count: number, text: string) => Array.from({ length: count }, () => text).join(' ');

/**
 * Fragment fan-out: `fragment F0 on TYPE { base }`, and each `fragment Fi on TYPE` spreads F(i-1)
 * `width` times; `root` places the top fragment. Written out, F`levels` holds width^levels copies
 * of `base`, in a text that grows with width × levels.
 */
export function fanOut({ width, levels, type = 'Query', base = '__typename', root = (top: string) => `{ ...${top} }`, spread = (name: string) => `...${name}` }: {
  width: number;
  levels: number;
  type?: string;
  base?: string;
  root?: (top: string) => string;
  spread?: (name: string) => string;
}): string {
  const fragments = [`fragment F0 on ${type} { ${base} }`];
  for (let level = 1; level <= levels; level += 1) fragments.push(`fragment F${level} on ${type} { ${repeat(width, spread(`F${level - 1}`))} }`);
  return `${root(`F${levels}`)} ${fragments.join(' ')}`;
}

/** `count` fragments, each spread once side by side in one selection set: compared pairwise by validation. */
export function fragmentsSideBySide(count: number, body: string, type = 'Query'): string {
  const names = Array.from({ length: count }, (_, index) => `S${index}`);
  return `{ ${names.map((name) => `...${name}`).join(' ')} } ${names.map((name) => `fragment ${name} on ${type} { ${body} }`).join(' ')}`;
}

/**
 * Introspection multiplied: `aliases` aliases of `__schema`, each asking, through nested fragments,
 * for every type's fields, their types' fields, and their arguments.
 */
export function introspectionAliases(aliases: number): string {
  const roots = Array.from({ length: aliases }, (_, index) => `s${index}: __schema { ...S }`).join(' ');
  return `{ ${roots} }
    fragment S on __Schema { types { ...T } directives { name args { ...V } } }
    fragment T on __Type { name kind fields { name args { ...V } type { ...R fields { name type { ...R } args { ...V } } } } inputFields { ...V } enumValues { name } }
    fragment V on __InputValue { name defaultValue type { ...R } }
    fragment R on __Type { name kind ofType { name kind ofType { name kind ofType { name kind } } } }`;
}
