import { assertInRange } from '../../bank/input.js';
import { builder } from './builder.js';
import { sizedBy } from './list-size.js';

export const MAX_IDS = 1000;
export const MAX_LAST = 100;

builder.objectType('Account', {
  description: 'A bank account. Money moves between accounts only through transfers, so the total never changes.',
  fields: (t) => ({
    id: t.id({ description: 'The account number, such as "42".', resolve: (account) => String(account.id) }),
    name: t.exposeString('name', { description: "The holder's name." }),
    balance: t.exposeInt('balance', { description: 'The current balance, in whole units; never negative.' }),
    transfers: t.field({
      type: ['Transfer'],
      description:
        "The account's most recent transfers, in or out, newest first (in the order they were committed). The transfers of every account in one operation are read in one SQL statement.",
      args: { last: t.arg.int({ defaultValue: 10, description: `How many transfers to return: 1 to ${MAX_LAST}.` }) },
      extensions: sizedBy('last'),
      resolve: (account, { last }, ctx) => {
        assertInRange('last', last, 1, MAX_LAST);
        return ctx.loaders.recentTransfers.load({ accountId: account.id, last });
      },
    }),
  }),
});

builder.queryFields((t) => ({
  account: t.field({
    type: 'Account',
    nullable: true,
    description: 'One account, or null when no account has this id. Every lookup in one operation is batched into one SQL statement.',
    args: { id: t.arg.id({ description: 'The account number, such as "42".' }) },
    resolve: (_, { id }, ctx) => ctx.loaders.account.load(String(id)),
  }),
  accounts: t.field({
    type: ['Account'],
    nullable: { list: false, items: true },
    description: `Accounts by id, in the order of \`ids\`, with null in place of an id that names no account. Duplicates are allowed. One SQL statement whatever the number of ids.`,
    args: { ids: t.arg.idList({ description: `The account numbers: 1 to ${MAX_IDS} of them.` }) },
    extensions: sizedBy('ids'),
    resolve: async (_, { ids }, ctx) => {
      assertInRange('ids (count)', ids.length, 1, MAX_IDS);
      // One promise for the whole list, not one per id: graphql-js then completes the list
      // synchronously instead of awaiting a thousand promises. Promise.all rather than loadMany,
      // which wraps every id's promise in one more to catch its error: a failed batch fails every
      // id anyway, and Promise.all rejects with it.
      const loader = ctx.loaders.account;
      return Promise.all(ids.map((id) => loader.load(String(id))));
    },
  }),
}));
