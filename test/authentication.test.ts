import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type AuthConfig } from '../src/config.js';
import { sqlite } from './helpers/databases.js';
import { errorCodes } from './helpers/graphql.js';
import { connectWs, wsOperation } from './helpers/graphql-ws.js';
import { serveTestApp, type ServedTestApp } from './helpers/server.js';

const secret = 'a shared secret of at least thirty-two bytes';
const audience = 'bank-api';
const increment = 'mutation { increment(name: "auth") { value } }';
const counter = '{ counter(name: "auth") { value } }';

const hs256 = (claims: { aud?: string; exp?: string | number } = {}) =>
  new SignJWT({ sub: 'user-1' }).setProtectedHeader({ alg: 'HS256' }).setAudience(claims.aud ?? audience).setExpirationTime(claims.exp ?? '5m').sign(new TextEncoder().encode(secret));

const authConfig = (overrides: Partial<AuthConfig>): AuthConfig => ({ jwksUrl: undefined, secret: undefined, audience, issuer: undefined, requiredForReads: false, ...overrides });

async function post(served: ServedTestApp, query: string, token?: string) {
  const response = await fetch(`${served.server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, authenticate: response.headers.get('www-authenticate'), body: (await response.json()) as { data?: any; errors?: any[] } };
}

describe('authentication with a shared secret (HS256)', () => {
  let served: ServedTestApp;
  beforeAll(async () => {
    served = await serveTestApp(sqlite, { config: { auth: authConfig({ secret: new TextEncoder().encode(secret) }) } });
  });
  afterAll(() => served.close());

  it('refuses a mutation without a valid token with 401 UNAUTHENTICATED and changes nothing; applies it with one; reads stay public', async () => {
    const refusals = [
      await post(served, increment),
      await post(served, increment, await hs256({ exp: Math.floor(Date.now() / 1000) - 60 })),
      await post(served, increment, await hs256({ aud: 'another-api' })),
      await post(served, increment, 'not.a.token'),
    ];
    expect(refusals.map(({ status, authenticate }) => [status, authenticate])).toEqual(Array(4).fill([401, 'Bearer']));
    expect(refusals.flatMap(({ body }) => errorCodes(body))).toEqual(Array(4).fill('UNAUTHENTICATED'));
    expect(refusals.map(({ body }) => body.errors?.[0].message)).toEqual([
      'This operation needs a bearer token: send "Authorization: Bearer <token>".',
      'The bearer token has expired.',
      'The bearer token\'s "aud" claim is not accepted here.',
      'The bearer token is not valid.',
    ]);
    expect(JSON.stringify(refusals.map(({ body }) => body))).not.toContain('"http"');
    expect((await post(served, counter)).body).toEqual({ data: { counter: { value: 0 } } });

    expect((await post(served, increment, await hs256())).body).toEqual({ data: { increment: { value: 1 } } });
    expect((await post(served, counter)).body).toEqual({ data: { counter: { value: 1 } } });
  });

  it('takes the token from connectionParams over graphql-ws, and refuses a socket with a bad one (4403)', async () => {
    const anonymous = connectWs(served.server.url);
    const signedIn = connectWs(served.server.url, { authorization: `Bearer ${await hs256()}` });
    const badToken = connectWs(served.server.url, { authorization: `Bearer ${await hs256({ aud: 'another-api' })}` });
    try {
      expect((await wsOperation(anonymous, { query: counter })).flatMap(errorCodes)).toEqual([]);
      expect((await wsOperation(anonymous, { query: increment })).flatMap(errorCodes)).toEqual(['UNAUTHENTICATED']);
      expect(await wsOperation(signedIn, { query: increment })).toEqual([{ data: { increment: { value: 2 } } }]);
      expect(await badToken.closed).toBe(4403);
    } finally {
      await Promise.all([anonymous.dispose(), signedIn.dispose(), badToken.dispose()]);
    }
  });
});

describe('authentication with a JWKS (ES256)', () => {
  let jwks: Server;
  let served: ServedTestApp;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;
  let jwksRequests = 0;
  const es256 = (key: CryptoKey) => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'key-1' }).setAudience(audience).setIssuer('https://issuer.test').setExpirationTime('5m').sign(key);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    // A key of the right kind that the key set does not hold: what a forger would sign with.
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const publicKey = pair.publicKey;
    const keys = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' }] });
    // The identity provider's key set, served locally as an IdP would serve it.
    jwks = createServer((_, res) => {
      jwksRequests += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(keys);
    }).listen(0, '127.0.0.1');
    await once(jwks, 'listening');
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    served = await serveTestApp(sqlite, { config: { auth: authConfig({ jwksUrl, issuer: 'https://issuer.test', requiredForReads: true }) } });
  });
  afterAll(async () => {
    await served.close();
    jwks.close();
  });

  it('verifies tokens against the key set, fetched once; with AUTH_REQUIRED_FOR_READS reads need a token too', async () => {
    expect((await post(served, counter)).status).toBe(401);
    const forged = await post(served, increment, await es256(otherKey));
    expect([forged.status, ...errorCodes(forged.body)]).toEqual([401, 'UNAUTHENTICATED']);
    const token = await es256(privateKey);
    expect((await post(served, increment, token)).body).toEqual({ data: { increment: { value: 1 } } });
    expect((await post(served, counter, token)).body).toEqual({ data: { counter: { value: 1 } } });
    expect(jwksRequests).toBe(1);
  });
});

describe('authentication settings', () => {
  it('is off unless AUTH_JWKS_URL or AUTH_JWT_SECRET is set, and refuses settings that cannot work', () => {
    expect(loadConfig({}).auth).toBeUndefined();
    expect(loadConfig({ AUTH_JWT_SECRET: secret, AUTH_AUDIENCE: 'a' }).auth).toMatchObject({ audience: 'a', requiredForReads: false });
    expect(() => loadConfig({ AUTH_JWT_SECRET: 'short' })).toThrow('AUTH_JWT_SECRET must be at least 32 bytes long for HS256.');
    expect(() => loadConfig({ AUTH_JWT_SECRET: secret, AUTH_JWKS_URL: 'https://idp/jwks' })).toThrow('Set AUTH_JWKS_URL or AUTH_JWT_SECRET, not both.');
    expect(() => loadConfig({ AUTH_REQUIRED_FOR_READS: 'true' })).toThrow(/need AUTH_JWKS_URL or AUTH_JWT_SECRET/);
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_ONLY: 'true' })).toThrow(/needs TRUSTED_DOCUMENTS/);
  });
});
