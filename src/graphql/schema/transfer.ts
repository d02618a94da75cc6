import { MAX_AMOUNT } from '../../bank/transfers.js';
import type { Loaders } from '../loaders.js';
import { builder } from './builder.js';

builder.objectType('Transfer', {
  description: 'Money moved from one account to another, recorded in the same transaction as the two balance changes.',
  fields: (t) => ({
    id: t.id({ description: 'The transfer number; larger numbers were committed later for any one account.', resolve: (transfer) => String(transfer.id) }),
    from: t.field({
      type: 'Account',
      description: 'The account that paid.',
      resolve: (transfer, _, ctx) => loadExistingAccount(ctx.loaders.account, transfer.from_id),
    }),
    to: t.field({
      type: 'Account',
      description: 'The account that received.',
      resolve: (transfer, _, ctx) => loadExistingAccount(ctx.loaders.account, transfer.to_id),
    }),
    amount: t.exposeInt('amount', { description: 'How much moved; always positive.' }),
    createdAt: t.field({ type: 'DateTime', description: 'When the transfer was committed.', resolve: (transfer) => transfer.created_at }),
  }),
});

// Both ends of a transfer are foreign keys, so a missing account here is a bug, not a client error.
async function loadExistingAccount(loader: Loaders['account'], id: number) {
  const account = await loader.load(String(id));
  if (!account) throw new Error(`Transfer refers to account ${id}, which does not exist`);
  return account;
}

builder.mutationField('transfer', (t) =>
  t.field({
    type: 'Transfer',
    description:
      'Moves `amount` from one account to another. Both accounts are locked (always in the same order, so opposite transfers cannot deadlock), and the debit, the credit and the record are written in one transaction. Fails with BAD_USER_INPUT, NOT_FOUND or INSUFFICIENT_FUNDS, in that order of checks, and then changes nothing. The result shows the balances right after this transfer.',
    args: {
      fromId: t.arg.id({ description: 'The account to take the money from.' }),
      toId: t.arg.id({ description: 'The account to give it to; not the same as fromId.' }),
      amount: t.arg.int({ description: `How much to move: 1 to ${MAX_AMOUNT}.` }),
    },
    resolve: async (_, args, ctx) => {
      const request = { fromId: String(args.fromId), toId: String(args.toId), amount: args.amount };
      const result = await ctx.bank.transfer(request, { signal: ctx.request.signal });
      // This request's loaders may hold balances from before the write: replace them with the
      // balances this transaction wrote, so `from { balance }` shows the state right after it.
      ctx.loaders.account.clear(request.fromId).prime(request.fromId, result.from).clear(request.toId).prime(request.toId, result.to);
      ctx.loaders.recentTransfers.clearAll();
      return result.transfer;
    },
  }),
);
