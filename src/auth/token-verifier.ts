import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '../config.js';
import { AuthUnavailableError, UnauthenticatedError } from '../graphql/errors.js';

/** Who a verified token says the caller is: its claims, `exp` included. */
export type Claims = JWTPayload;

/** Verifies a bearer token (its signature, `exp`, and `aud`/`iss` when configured); throws UnauthenticatedError, never returns a bad one. */
export type TokenVerifier = (token: string) => Promise<Claims>;

/** Asymmetric algorithms a JWKS may use; HS256 only with a shared secret, so a public key can never be used as an HMAC secret. */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Tokens longer than this are refused unread: a header carries one, and a JWT of a few claims is under 2 KB. */
const MAX_TOKEN_LENGTH = 8_192;

/**
 * jose verifies (no hand-written crypto). With AUTH_JWKS_URL, its remote key set caches the keys
 * (10 min), fetches them again at most every 30 s when a token names an unknown key id, and gives
 * up on a fetch after 5 s: a client cannot make the server fetch keys more often than that.
 */
export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const options = {
    audience: config.audience,
    issuer: config.issuer,
    // A token that never expires is refused: a leaked one would be valid for ever.
    requiredClaims: ['exp'],
    algorithms: config.secret ? ['HS256'] : JWKS_ALGORITHMS,
  };
  const keys: Uint8Array | JWTVerifyGetKey = config.secret ?? createRemoteJWKSet(new URL(config.jwksUrl!), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000 });
  return async (token) => {
    if (token.length > MAX_TOKEN_LENGTH) throw new UnauthenticatedError(`The bearer token is longer than ${MAX_TOKEN_LENGTH} characters.`);
    try {
      // Two overloads (a key, or a function that finds one): the same call either way.
      const { payload } = typeof keys === 'function' ? await jwtVerify(token, keys, options) : await jwtVerify(token, keys, options);
      return payload;
    } catch (error) {
      throw toAuthError(error);
    }
  };
}

function toAuthError(error: unknown): Error {
  if (error instanceof errors.JWTExpired) return new UnauthenticatedError('The bearer token has expired.');
  if (error instanceof errors.JWTClaimValidationFailed) return new UnauthenticatedError(`The bearer token's "${error.claim}" claim is not accepted here.`);
  // The key set could not be fetched, or not read: the server's problem, not the token's.
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError)) return new AuthUnavailableError();
  // A bad signature, an unknown key, a malformed token, a refused algorithm: the details help an
  // attacker more than a client, whose remedy is the same (get a new token).
  return new UnauthenticatedError('The bearer token is not valid.');
}

/** The token of an `Authorization: Bearer …` value; undefined when there is none. A value of another scheme is refused. */
export function bearerToken(authorization: unknown): string | undefined {
  if (authorization == null || authorization === '') return undefined;
  const match = typeof authorization === 'string' ? /^Bearer +([^\s]+) *$/i.exec(authorization) : null;
  if (!match) throw new UnauthenticatedError('The authorization must be "Bearer <token>".');
  return match[1];
}
