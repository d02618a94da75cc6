import type { GraphQLResolveInfo } from 'graphql';
import { NotFoundError } from '../../bank/errors.js';
import { parseId } from '../../bank/ids.js';
import { assertInRange } from '../../bank/input.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_ITEMS } from '../../bank/jobs.js';
import { MAX_AMOUNT } from '../../bank/transfers.js';
import type { JobRow } from '../../db/database.js';
import { findJobItems } from '../../db/jobs.js';
import { PROGRESS_INTERVAL_MS } from '../../queue/job-watchers.js';
import type { Context } from '../context.js';
import { eventWeight } from '../event-weight.js';
import { createLoaders } from '../loaders.js';
import { builder } from './builder.js';
import { sizedBy } from './list-size.js';

const MAX_ITEMS_PAGE = 1_000;

const JobStatus = builder.enumType('JobStatus', {
  description: 'Where a job stands. SUCCEEDED, FAILED and CANCELLED are final: nothing about the job changes after them.',
  values: {
    QUEUED: { description: 'Stored; no item has started yet.' },
    RUNNING: { description: 'At least one item has started.' },
    SUCCEEDED: { description: 'Every item is done (some may have failed: see `failed`).' },
    FAILED: {
      description:
        'Every item is done or cancelled, and at least one failed ATTEMPTS_EXHAUSTED: its transfer threw unexpectedly on each of its QUEUE_MAX_ATTEMPTS attempts. Items refused as the transfer mutation would refuse them (INSUFFICIENT_FUNDS, NOT_FOUND) do not make a job FAILED. Wins over CANCELLED.',
    },
    CANCELLED: { description: 'cancelJob stopped the items not yet started; the ones running then have finished.' },
  } as const,
});

const JobItemStatus = builder.enumType('JobItemStatus', {
  description: 'Where one item of a job stands.',
  values: {
    PENDING: { description: 'Waiting for a worker; after an unexpected failure, waiting out its backoff before the next attempt.' },
    RUNNING: { description: 'A worker is applying it.' },
    SUCCEEDED: { description: 'Its transfer was made: see `transfer`.' },
    FAILED: { description: 'Its transfer was refused (insufficient funds, unknown account), or threw unexpectedly on every attempt (ATTEMPTS_EXHAUSTED): see `error`.' },
    CANCELLED: { description: 'cancelJob stopped it before it started.' },
  } as const,
});

const TransferInput = builder.inputType('TransferInput', {
  description: 'One transfer of a bulk submission.',
  fields: (t) => ({
    fromId: t.id({ description: 'The account to take the money from.' }),
    toId: t.id({ description: 'The account to give it to; not the same as fromId.' }),
    amount: t.int({ description: `How much to move: 1 to ${MAX_AMOUNT}.` }),
  }),
});

builder.objectType('TransferRequest', {
  description: 'A transfer as it was submitted.',
  fields: (t) => ({
    fromId: t.exposeID('fromId', { description: 'The account to take the money from.' }),
    toId: t.exposeID('toId', { description: 'The account to give it to.' }),
    amount: t.exposeInt('amount', { description: 'How much to move.' }),
  }),
});

builder.objectType('JobItemError', {
  description: 'Why an item failed.',
  fields: (t) => ({
    code: t.exposeString('code', {
      description: 'INSUFFICIENT_FUNDS or NOT_FOUND, as the transfer mutation would have answered; or ATTEMPTS_EXHAUSTED: the transfer threw unexpectedly on each of its QUEUE_MAX_ATTEMPTS attempts.',
    }),
    message: t.exposeString('message', { description: 'A sentence for people.' }),
  }),
});

builder.objectType('JobItem', {
  description: 'One transfer of a job, applied by a worker under the same locks and in the same kind of transaction as the transfer mutation.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Its position in the submitted list, from 0.' }),
    status: t.field({ type: JobItemStatus, description: 'Where it stands.', resolve: (item) => item.status }),
    attempts: t.exposeInt('attempts', {
      description: 'How many times applying it threw unexpectedly (each time rolled back and retried after a doubling backoff); 0 for an item that ran once, whatever its outcome.',
    }),
    input: t.field({
      type: 'TransferRequest',
      description: 'The transfer as submitted.',
      resolve: (item) => ({ fromId: item.from_id, toId: item.to_id, amount: item.amount }),
    }),
    transfer: t.field({
      type: 'Transfer',
      nullable: true,
      description: 'The transfer made, once the item succeeded.',
      resolve: (item, _, ctx) => (item.transfer_id === null ? null : ctx.loaders.transfer.load(item.transfer_id)),
    }),
    error: t.field({
      type: 'JobItemError',
      nullable: true,
      description: 'Why it failed, once it failed.',
      resolve: (item) => (item.error_code === null ? null : { code: item.error_code, message: item.error_message ?? '' }),
    }),
  }),
});

builder.objectType('Job', {
  description: 'A bulk submission of transfers, applied by a bounded pool of workers. It lives in the database: a restart resumes it.',
  fields: (t) => ({
    id: t.id({ description: 'The job number.', resolve: (job) => String(job.id) }),
    status: t.field({ type: JobStatus, description: 'Where the job stands.', resolve: (job) => job.status }),
    total: t.exposeInt('total', { description: 'Items in the job.' }),
    done: t.exposeInt('done', { description: 'Items finished: succeeded + failed. Cancelled items are not done.' }),
    failed: t.exposeInt('failed', { description: 'Items whose transfer was refused.' }),
    items: t.field({
      type: ['JobItem'],
      description: 'The items, by index.',
      args: {
        offset: t.arg.int({ defaultValue: 0, description: `The index of the first item to return: 0 to ${MAX_ITEMS}.` }),
        limit: t.arg.int({ defaultValue: 100, description: `How many items to return: 1 to ${MAX_ITEMS_PAGE}.` }),
      },
      extensions: sizedBy('limit'),
      resolve: (job, { offset, limit }, ctx) => {
        assertInRange('offset', offset, 0, MAX_ITEMS);
        assertInRange('limit', limit, 1, MAX_ITEMS_PAGE);
        return findJobItems(ctx.db, job.id, offset, limit);
      },
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the job was submitted.', resolve: (job) => job.created_at }),
    finishedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the job reached its final status; null until then.',
      resolve: (job) => job.finished_at,
    }),
  }),
});

builder.queryField('job', (t) =>
  t.field({
    type: 'Job',
    nullable: true,
    description: 'A job, or null when no job has this id.',
    args: { id: t.arg.id({ description: 'The job number.' }) },
    resolve: (_, { id }, ctx) => {
      const jobId = parseId(String(id));
      return jobId === null ? null : ctx.loaders.job.load(jobId);
    },
  }),
);

builder.mutationFields((t) => ({
  submitTransfers: t.field({
    type: 'Job',
    description: `Queues up to ${MAX_ITEMS} transfers as one job and returns at once (QUEUED, or already RUNNING); watch it with the jobProgress subscription. Every item is checked first, and a bad one refuses the whole job (BAD_USER_INPUT, with extensions.index); an unknown account is not checked here: its item fails when it runs. QUEUE_FULL when the queue is at its bound.`,
    args: {
      items: t.arg({ type: [TransferInput], description: `The transfers: 1 to ${MAX_ITEMS} of them.` }),
      idempotencyKey: t.arg.string({
        required: false,
        description: `Any string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters. Submitting the same key with the same items again returns the first job instead of a second one; with different items it is BAD_USER_INPUT.`,
      }),
    },
    resolve: (_, { items, idempotencyKey }, ctx) =>
      ctx.bank.submitJob({ items: items.map(({ fromId, toId, amount }) => ({ fromId: String(fromId), toId: String(toId), amount })), idempotencyKey }, { signal: ctx.request.signal }),
  }),
  cancelJob: t.field({
    type: 'Job',
    description:
      'Cancels every item not yet started, at once: none starts after this returns. Items already running finish and count; the job becomes CANCELLED when they have. A finished job is returned unchanged; an unknown id is NOT_FOUND.',
    args: { id: t.arg.id({ description: 'The job number.' }) },
    resolve: (_, { id }, ctx) => ctx.bank.cancelJob(String(id)),
  }),
}));

builder.subscriptionField('jobProgress', (t) =>
  t.field({
    type: 'Job',
    description: `The job now, then again whenever its status, done or failed changes, on whichever replica the work happens: at most ${1000 / PROGRESS_INTERVAL_MS} events a second, fewer when the server has many subscribers to serve, each event showing the job as it is then. The stream completes after the event with the final status. NOT_FOUND for an unknown id; TOO_MANY_SUBSCRIPTIONS when the server holds as many subscriptions as it allows.`,
    args: { id: t.arg.id({ description: 'The job number.' }) },
    subscribe: (_, { id }, ctx, info) => watchJob(ctx, String(id), info),
    resolve: (job) => job,
  }),
);

/**
 * The job now, then each change of status, done or failed, from the process's one reader of the job
 * (JobWatchers): coalesced to one event per PROGRESS_INTERVAL_MS, fewer when many subscriptions
 * share the event budget. Ends after the final status, when the client leaves, or when the server
 * shuts down.
 */
function watchJob(ctx: Context, id: string, info: GraphQLResolveInfo): AsyncIterable<JobRow> {
  const jobId = parseId(id);
  if (jobId === null) throw new NotFoundError('Job', id);
  return ctx.jobWatchers.watch(jobId, {
    signal: ctx.request.signal,
    weight: eventWeight(info),
    // Each event shows the state at its own time: fresh loaders, no cached balances or transfers.
    beforeEvent: () => void (ctx.loaders = createLoaders(ctx.db)),
  });
}
