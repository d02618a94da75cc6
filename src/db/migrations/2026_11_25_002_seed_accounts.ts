import type { Kysely } from 'kysely';

// Frozen once merged. Seeds accounts "1".."1000" with 1000 each, once: the migrator records that
// this ran, so a restart (or a second process) never seeds again.

const FIRST_NAMES = [
  'Ada', 'Alan', 'Barbara', 'Brian', 'Claude', 'Dennis', 'Donald', 'Edsger', 'Frances', 'Grace',
  'Guido', 'Hedy', 'Ivan', 'James', 'Joan', 'John', 'Ken', 'Leslie', 'Linus', 'Margaret',
  'Mary', 'Niklaus', 'Radia', 'Richard', 'Robin', 'Ruth', 'Shafi', 'Sophie', 'Tim', 'Tony',
  'Ward', 'Whitfield', 'Yukihiro', 'Adele', 'Anita', 'Bjarne', 'Carol', 'Dorothy', 'Evelyn', 'Fran',
];
const LAST_NAMES = [
  'Lovelace', 'Turing', 'Liskov', 'Kernighan', 'Shannon', 'Ritchie', 'Knuth', 'Dijkstra', 'Allen', 'Hopper',
  'Rossum', 'Lamarr', 'Sutherland', 'Gosling', 'Clarke', 'McCarthy', 'Thompson', 'Lamport', 'Torvalds', 'Hamilton',
  'Keller', 'Wirth', 'Perlman', 'Stallman', 'Milner',
];

export const SEED_ACCOUNTS = FIRST_NAMES.length * LAST_NAMES.length; // 1000
export const SEED_BALANCE = 1000;

export async function up(db: Kysely<any>): Promise<void> {
  const rows = Array.from({ length: SEED_ACCOUNTS }, (_, index) => ({
    id: index + 1,
    name: `${FIRST_NAMES[index % FIRST_NAMES.length]} ${LAST_NAMES[Math.floor(index / FIRST_NAMES.length)]}`,
    balance: SEED_BALANCE,
  }));
  // 250 rows a statement keeps under every driver's bound-parameter limit.
  for (let start = 0; start < rows.length; start += 250) {
    await db.insertInto('accounts').values(rows.slice(start, start + 250)).execute();
  }
}
