import { sql } from 'kysely';
import { createYoga, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { useRequestBodyLimit } from '../http/body-limit.js';
import { safeForFastPath } from '../http/fast-path-plugins.js';
import { useRequestParseErrors } from '../http/request-parse-errors.js';
import { yogaLogger, type Logger } from '../observability/logger.js';
import type { SubscriptionSlots } from '../subscriptions/subscription-slots.js';
import { createContext, type AppContext, type Deps } from './context.js';
import { createGraphiqlOptions } from './graphiql-tabs.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { useArmorLimits } from './limits/armor.js';
import { useCostLimit } from './limits/cost-limit.js';
import { useNoIntrospection } from './limits/introspection.js';
import { useMergeLimit } from './limits/merge-limit.js';
import { useParseLimits } from './limits/parse-limits.js';
import { useTextArguments } from './limits/text-arguments.js';
import { maskUnexpectedError } from './masking.js';
import { useAuthentication } from './plugins/authentication.js';
import { useCancellation } from './plugins/cancellation.js';
import { useGraphiQLPage } from './plugins/graphiql-page.js';
import { useJitCompilation } from './plugins/jit-compilation.js';
import { createParseCache, useParseCache } from './plugins/parse-cache.js';
import { createResponseSizeLimit, type ResponseSizeLimit } from './plugins/response-size-limit.js';
import { useSubscriptionSlots } from './plugins/subscription-slots.js';
import { useTrustedDocuments, type TrustedDocuments } from './plugins/trusted-documents.js';
import { useValidationCache } from './plugins/validation-cache.js';
import { schema } from './schema/index.js';

export type Yoga = YogaServerInstance<Record<string, unknown>, AppContext>;

export type GraphQLServer = {
  yoga: Yoga;
  /** The plugins handed to Yoga (after its own): ours, then those passed in. */
  plugins: readonly Plugin[];
  /** The response bound, which the HTTP fast path applies too. */
  responseSizeLimit: ResponseSizeLimit;
  /** What is kept of the documents clients send, for tests and diagnostics. */
  documents: {
    /** Operations compiled by graphql-jit so far (src/graphql/plugins/jit-compilation.ts). */
    readonly compiled: number;
    /** The parse cache's estimate of the bytes it holds (src/graphql/plugins/parse-cache.ts). */
    readonly cachedBytes: number;
  };
};

/**
 * The GraphQL server: the Pothos schema, served by Yoga through the plugins of `ours` below, in the order a
 * request meets them. Everything a resolver uses comes from `deps`, through the context.
 */
export function createGraphQLServer({
  config,
  deps,
  readinessDb,
  subscriptionSlots,
  logger,
  observation,
  trustedDocuments,
  verifyToken,
  plugins = [],
}: {
  config: Config;
  deps: Deps;
  /** What /readiness asks: the connection reads use. */
  readinessDb: Db;
  subscriptionSlots: SubscriptionSlots;
  /** Where Yoga's lines go: the app's logger. */
  logger: Logger;
  /** The log, metrics and traces' plugins (src/observability/): first in the list, and last. */
  observation: { first: Plugin; last: Plugin[] };
  /** TRUSTED_DOCUMENTS, read; parsed and validated here, once. */
  trustedDocuments?: TrustedDocuments;
  /** Set when authentication is configured (AUTH_JWKS_URL or AUTH_JWT_SECRET). */
  verifyToken?: TokenVerifier;
  /** More plugins, after ours; tests observe requests with them (see safeForFastPath). */
  plugins?: Plugin[];
}): GraphQLServer {
  const parseCache = createParseCache(config.documents.parseCacheMaxBytes);
  const jit = useJitCompilation(config.documents, parseCache);
  const responseSizeLimit = createResponseSizeLimit(config.maxResponseBytes);
  const ours: Plugin[] = [
    // GraphiQL's scripts are served inline from this process: the page works with no internet access.
    // The renderer holds 9 MB of script, about 80 MB once loaded: load it on the first visit only.
    useGraphiQLPage(async () => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(createGraphiqlOptions(config.graphiqlSubscriptions))),
    // /health (built in) says the process is alive; /readiness says it can serve: 503 while
    // the database does not answer, so a load balancer sends traffic to other replicas.
    useReadinessCheck({ endpoint: '/readiness', check: async () => void (await sql`SELECT 1`.execute(readinessDb)) }),
    useRequestBodyLimit(config.maxBodyBytes),
    useRequestParseErrors(),
    // A trusted document's id becomes its text, parsed and validated at start; with
    // TRUSTED_DOCUMENTS_ONLY any other text is refused here, before it is parsed.
    ...(trustedDocuments ? [useTrustedDocuments(trustedDocuments)] : []),
    // Parsing: refused past the token and nesting limits, and each text parsed once while the
    // cache keeps it.
    useParseLimits(config.limits),
    useParseCache(parseCache),
    // Validation: each document's result kept; the field merging bounded before graphql-js's
    // rules run (they would take seconds on some documents), then graphql-js's and armor's rules.
    useValidationCache(),
    useMergeLimit(config.limits.maxFieldMerges),
    ...useArmorLimits(config.limits),
    ...(config.limits.introspection ? [] : [useNoIntrospection()]),
    // Execution: who may run what (mutations need a valid bearer token when authentication is on);
    ...(verifyToken ? [useAuthentication({ verify: verifyToken, requiredForReads: config.auth?.requiredForReads ?? false })] : []),
    // the cost, from the arguments and variables; string arguments are text (no NUL, no lone
    // surrogate) and at most MAX_STRING_LENGTH long; then the engine.
    useCostLimit(config.limits),
    useTextArguments(config.limits.maxStringLength),
    // Stops operations on graphql-js whose client has gone; then repeated operations run on
    // graphql-jit instead, which replaces the engine with its signal hand-off (so in this order).
    useCancellation(),
    jit,
    useSubscriptionSlots(subscriptionSlots),
    responseSizeLimit.plugin,
  ];
  // Ours are safe for the HTTP fast path: it runs their hooks, or does the job of those it skips
  // itself (the body limit, the request parse errors, the response size bound), and GraphiQL and
  // /readiness answer other requests than it takes. Plugins passed in are trusted only if marked.
  // The observation plugins come first (what operators see of each operation: its name and type,
  // its errors, its phase spans) and last (the execute span wraps whatever executes the operation).
  const given = [...[observation.first, ...ours].map(safeForFastPath), ...plugins, ...observation.last.map(safeForFastPath)];
  const yoga = createYoga<Record<string, unknown>, AppContext>({
    schema,
    context: () => createContext(deps),
    // Served by useGraphiQLPage above, rendered once rather than for every visit.
    graphiql: false,
    // Bounded by useRequestBodyLimit above, without the cost of Yoga's stream wrapper on every request.
    maxRequestBodySize: false,
    // Replaced by useParseCache, bounded in bytes, and useValidationCache, which is cheaper.
    parserAndValidationCache: false,
    landingPage: false,
    logging: yogaLogger(logger),
    maskedErrors: {
      // Yoga's development mode (NODE_ENV=development) would add unexpected errors' details to answers.
      isDev: false,
      // The bank's refusals, and a lost database or a busy pool, get their codes (errors.ts);
      // anything else is a bug, and stays masked.
      maskError: maskUnexpectedError,
    },
    // CORS is the HTTP listener's (src/http/cors.ts), for both paths alike.
    cors: false,
    plugins: given,
  });
  // Every trusted document through the same parse and validation as a request's, before any request.
  trustedDocuments?.compile(() => yoga.getEnveloped({}), (schema, document) => jit.compileNow(schema, document));
  return {
    yoga,
    plugins: given,
    responseSizeLimit,
    documents: {
      get compiled() {
        return jit.compiled;
      },
      get cachedBytes() {
        return parseCache.bytes;
      },
    },
  };
}
