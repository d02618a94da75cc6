import SchemaBuilder from '@pothos/core';
import type { Context } from '../context.js';
import type { AccountRow, JobItemRow, JobRow, TransferRow } from '../../db/database.js';
import type { TransferRequest } from '../../bank/transfers.js';

export type CounterShape = { name: string; value: number };
export type JobItemErrorShape = { code: string; message: string };

/**
 * The one SchemaBuilder. It defines no fields: each file of this folder adds its own area.
 * Fields are non-null and arguments required unless marked, as the contract is mostly non-null.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: true;
  Scalars: { DateTime: { Input: Date; Output: Date | string } };
  Objects: {
    Account: AccountRow;
    Transfer: TransferRow;
    Counter: CounterShape;
    Job: JobRow;
    JobItem: JobItemRow;
    TransferRequest: TransferRequest;
    JobItemError: JobItemErrorShape;
  };
}>({ defaultFieldNullability: false, defaultInputFieldRequiredness: true });

builder.queryType({ description: 'The entry points for reading.' });
builder.mutationType({ description: 'The entry points for changing shared state; each runs under locks.' });
builder.subscriptionType({ description: 'Live updates, over Server-Sent Events (GraphiQL subscribes this way too).' });
