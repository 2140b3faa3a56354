// Logout as a relying party built on panva's libraries sees it, with none of their checks relaxed:
// openid-client logs in (code + PKCE), builds the RP-initiated logout URL (buildEndSessionUrl with
// id_token_hint, post_logout_redirect_uri and state) and checks where the browser came back; the
// Logout Token the provider POSTed to the test's back-channel receiver is validated with jose
// (the JOSE library under openid-client; oauth4webapi has no logout token helper) against the
// provider's JWKS, as OpenID Connect Back-Channel Logout 1.0 section 2.6 asks.
// Protocol with the Python test: prints {"authorization_url": ...}, reads the callback URL; prints
// {"end_session_url": ...}, reads {"landed": <URL the browser was sent to>, "logout_token": ...};
// prints {"result": {...}} or {"error": ...}.
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import readline from 'node:readline';
import { completeLogin, reportFailure } from './login_steps.mjs';

const {
  ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI, ID_TOKEN_ALG,
} = process.env;
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

async function readLine() {
  const rl = readline.createInterface({ input: process.stdin });
  const line = await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  return line;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function validateLogoutToken(config, token) {
  const meta = config.serverMetadata();
  check(meta.backchannel_logout_supported === true, 'back-channel logout not advertised');
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: meta.issuer,
    audience: CLIENT_ID,
    typ: 'logout+jwt',
    algorithms: [ID_TOKEN_ALG],
    requiredClaims: ['iat', 'exp', 'jti', 'events'],
    maxTokenAge: '2 minutes',
  });
  const event = payload.events && payload.events[BACKCHANNEL_EVENT];
  check(event !== null && typeof event === 'object' && !Array.isArray(event),
    'events lacks the back-channel logout event');
  check(typeof payload.sid === 'string' || typeof payload.sub === 'string', 'neither sid nor sub');
  check(!('nonce' in payload), 'a logout token must not carry a nonce');
  return { header: protectedHeader, claims: payload };
}

async function main() {
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, {
    client_secret: CLIENT_SECRET, id_token_signed_response_alg: ID_TOKEN_ALG,
  });
  const login = await completeLogin(config, { redirectUri: REDIRECT_URI });
  const state = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: login.id_token,
    post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
    state,
  });
  console.log(JSON.stringify({ end_session_url: endSession.href }));
  const answer = JSON.parse(await readLine());
  const landed = new URL(answer.landed);
  const expected = new URL(POST_LOGOUT_REDIRECT_URI);
  check(landed.origin === expected.origin && landed.pathname === expected.pathname,
    `sent to ${landed.href} instead of ${expected.href}`);
  check(landed.searchParams.get('state') === state, 'state did not come back');
  const logout = await validateLogoutToken(config, answer.logout_token);
  console.log(JSON.stringify({ result: { id_token_claims: login.claims, logout } }));
}

main().catch(reportFailure);
