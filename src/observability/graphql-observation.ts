import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { getOperationAST, type DocumentNode, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isAbort, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { recordOf, type RequestRecord } from './request-record.js';
import type { Tracing } from './tracing.js';
import { causeOfMasked, markLogged } from './unexpected-errors.js';

export type ObservationOptions = { logger: Logger; metrics?: Metrics; tracing?: Tracing };

/**
 * What GraphQL tells about a request, for its log line, metrics and trace: the operation's type and
 * name, the codes of the errors in its result, the spans of parse and validate; and the
 * unexpected errors (masked for the client), logged with the request's id. First in the plugin
 * list: its parse and validate spans include the other plugins' work there. Works the same on the
 * fast path and on Yoga's, which both run these hooks (envelop's, and Yoga's onExecutionResult).
 */
export function useGraphQLObservation({ logger, metrics, tracing }: ObservationOptions): Plugin {
  const phaseSpan = (name: string, record: RequestRecord | undefined) => {
    if (!tracing || !record?.span) return undefined;
    const span = tracing.tracer.startSpan(name, {}, trace.setSpan(ROOT_CONTEXT, record.span));
    return () => span.end();
  };
  const operationRan = (document: DocumentNode, operationName: string | null | undefined, contextValue: unknown) => {
    const operation = getOperationAST(document, operationName);
    if (!operation) return;
    const type = operation.operation;
    const name = operation.name?.value;
    metrics?.operation(type, name);
    const record = recordOf(contextValue);
    if (!record) return;
    record.operationType = type;
    record.operationName = name;
    record.span?.setAttribute('graphql.operation.type', type);
    if (name !== undefined) record.span?.setAttribute('graphql.operation.name', name);
  };
  return {
    onParse: ({ context }) => phaseSpan('graphql.parse', recordOf(context)),
    onValidate: ({ context }) => phaseSpan('graphql.validate', recordOf(context)),
    onExecute: ({ args }) => operationRan(args.document, args.operationName, args.contextValue),
    onSubscribe: ({ args }) => operationRan(args.document, args.operationName, args.contextValue),
    onExecutionResult({ result, context }) {
      if (!result || Symbol.asyncIterator in result) return;
      const errors = (result as { errors?: readonly GraphQLError[] }).errors;
      if (errors?.length) observeErrors(errors, recordOf(context), { logger, metrics });
    },
  };
}

/**
 * What the errors of a result tell: their codes, counted and kept on the request's record, and the
 * unexpected ones (masked for the client), logged once at error level with the request's id and
 * the stack; a client that went away is no fault of the server's (logger.ts says it at debug
 * level). For Yoga's onExecutionResult, and for the WebSocket path, which does not run it.
 */
export function observeErrors(errors: readonly GraphQLError[], record: RequestRecord | undefined, { logger, metrics }: Pick<ObservationOptions, 'logger' | 'metrics'>): void {
  const codes = record?.errorCodes ?? [];
  for (const error of errors) {
    const code = typeof error.extensions?.code === 'string' ? error.extensions.code : 'UNKNOWN';
    if (!codes.includes(code)) codes.push(code);
    metrics?.error(code);
    const unexpected = causeOfMasked(error);
    if (unexpected !== undefined && !isAbort(unexpected)) {
      const cause = (unexpected as { originalError?: unknown }).originalError ?? unexpected;
      logger.error({ reqId: record?.id, err: cause, path: error.path?.join('.') }, `Unexpected error: ${(cause as Error)?.message ?? String(cause)}`);
      markLogged(unexpected);
    }
  }
  if (record) {
    record.errorCodes = codes;
    if (codes.includes('INTERNAL_SERVER_ERROR')) record.span?.setStatus({ code: SpanStatusCode.ERROR });
  }
}

/**
 * The execute span, made by the last plugin of the list, so that its executeFn wraps whatever the
 * plugins before it set (graphql-jit's compiled query): what execution awaits (database
 * statements, lock waits) then runs in the span's context and is its child.
 */
export function useExecuteSpan(tracing: Tracing): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const record = recordOf(args.contextValue);
      if (!record?.span) return;
      const span = tracing.tracer.startSpan('graphql.execute', {}, trace.setSpan(ROOT_CONTEXT, record.span));
      const operation = getOperationAST(args.document, args.operationName);
      if (operation) span.setAttribute('graphql.operation.type', operation.operation);
      if (operation?.name) span.setAttribute('graphql.operation.name', operation.name.value);
      setExecuteFn((executeArgs) => tracing.withSpan(span, () => executeFn(executeArgs)));
      return { onExecuteDone: () => span.end() };
    },
  };
}
