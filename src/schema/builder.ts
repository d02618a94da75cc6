import SchemaBuilder from '@pothos/core';
import type { Context } from '../context.js';
import type { AccountRow, TransferRow } from '../db/database.js';

export type CounterShape = { name: string; value: number };

/**
 * The one SchemaBuilder. It defines no fields: each file of this folder adds its own area.
 * Fields are non-null and arguments required unless marked, as the contract is mostly non-null.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
  Scalars: { DateTime: { Input: Date; Output: Date | string } };
  Objects: { Account: AccountRow; Transfer: TransferRow; Counter: CounterShape };
}>({ defaultFieldNullability: false, defaultInputFieldRequiredness: true });

builder.queryType({ description: 'The entry points for reading.' });
builder.mutationType({ description: 'The entry points for changing shared state; each runs under locks.' });
