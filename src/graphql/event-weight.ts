import { Kind, type DocumentNode, type GraphQLResolveInfo } from 'graphql';
import { operationCost } from './limits/cost-limit.js';

/**
 * About as much CPU as one event of a small subscription (`jobProgress { status done }`), in
 * objects loaded: measured on the 2-core machine, an event costs about 300 µs to execute and send
 * over Server-Sent Events, and each object its selection loads about 5 µs more.
 */
const OBJECTS_PER_EVENT = 50;

/**
 * What one event of a subscription weighs in the EventBudget, in events: one, or one per
 * OBJECTS_PER_EVENT objects its selection set can load (the cost of cost-limit.ts) when that is
 * more. `jobProgress { status done }` weighs 1; with `items { transfer { from { name } } }` (a page
 * of 100 items, each with its transfer and account) it weighs 6. Computed once per subscription.
 */
export function eventWeight(info: GraphQLResolveInfo): number {
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions: [info.operation, ...Object.values(info.fragments)] };
  return Math.max(1, operationCost(info.schema, document, undefined, info.variableValues).cost / OBJECTS_PER_EVENT);
}
