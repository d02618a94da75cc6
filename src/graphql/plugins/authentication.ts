import { getOperationAST, type DocumentNode, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { bearerToken, type Claims, type TokenVerifier } from '../../auth/token-verifier.js';
import { UnauthenticatedError } from '../errors.js';

/**
 * What a WebSocket connection (src/ws/) puts in each of its operations' contexts: the claims of
 * the token of its connectionParams, verified once when it connected; undefined: it sent none.
 * An HTTP request has none, and its Authorization header is read instead.
 */
export type ConnectionAuthentication = { claims: Claims | undefined };

type AuthContext = { request?: Request; connectionAuthentication?: ConnectionAuthentication };

/**
 * Mutations (every one: increment, transfer, submitTransfers, cancelJob) run only with a valid
 * bearer token; queries and subscriptions too when `requiredForReads`. Anything else is refused
 * with UNAUTHENTICATED (HTTP 401) before it runs: in envelop's execute and subscribe, so every
 * transport that runs operations through Yoga (HTTP, its fast path, graphql-ws) is covered.
 *
 * A token is verified only when the operation needs it, once per HTTP request; a public read
 * costs nothing, and a bad token on it is not looked at.
 */
export function useAuthentication({ verify, requiredForReads }: { verify: TokenVerifier; requiredForReads: boolean }): Plugin {
  const refusal = async (document: DocumentNode, operationName: string | null | undefined, context: AuthContext): Promise<GraphQLError | undefined> => {
    if (!requiredForReads && getOperationAST(document, operationName)?.operation !== 'mutation') return undefined;
    try {
      await authenticate(context, verify);
      return undefined;
    } catch (error) {
      return error as GraphQLError;
    }
  };
  const refused = (error: GraphQLError): ExecutionResult => ({ errors: [error] });
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const error = await refusal(args.document, args.operationName, args.contextValue as AuthContext);
      if (error) setResultAndStopExecution(refused(error));
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const error = await refusal(args.document, args.operationName, args.contextValue as AuthContext);
      if (error) setResultAndStopExecution(refused(error));
    },
  };
}

/** The caller's claims, or a throw of UnauthenticatedError (AuthUnavailableError when the keys cannot be had). */
async function authenticate(context: AuthContext, verify: TokenVerifier): Promise<Claims> {
  const connection = context.connectionAuthentication;
  if (connection) {
    const claims = connection.claims;
    if (!claims) throw new UnauthenticatedError('This operation needs a bearer token: connect with connectionParams { authorization: "Bearer <token>" }.');
    // Verified when the socket connected; a long-lived socket outlives its token.
    if (claims.exp !== undefined && claims.exp * 1000 <= Date.now()) throw new UnauthenticatedError('The bearer token has expired; connect again with a new one.');
    return claims;
  }
  const token = bearerToken(context.request?.headers.get('authorization'));
  if (token === undefined) throw new UnauthenticatedError('This operation needs a bearer token: send "Authorization: Bearer <token>".');
  return verify(token);
}
