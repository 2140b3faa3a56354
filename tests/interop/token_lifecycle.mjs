// What happens to tokens after the code flow, through panva's openid-client and oauth4webapi,
// with none of their checks relaxed: refresh with rotation, reuse of a rotated refresh token
// ending its family, introspection, revocation, and the client credentials grant with an
// RFC 9068 access token validated the way a resource server does (validateJwtAccessToken).
// Protocol with the Python test driving it: for each login it prints {"authorization_url": ...}
// on one line and reads the callback URL the browser landed on from stdin; at the end it
// prints {"steps": {...}} (what each call returned) or {"error": ...}.
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import readline from 'node:readline';

const {
  ISSUER, CLIENT_ID, CLIENT_SECRET, CLIENT_AUTH, REDIRECT_URI, ID_TOKEN_ALG, ACCESS_TOKEN_JWT,
  SERVICE_ID, SERVICE_SECRET, SERVICE_SCOPE, SERVICE_AUDIENCE,
} = process.env;

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function authMethod(secret) {
  return CLIENT_AUTH === 'basic' ? client.ClientSecretBasic(secret) : client.ClientSecretPost(secret);
}

async function login(config, scope) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  console.log(JSON.stringify({ authorization_url: url.href }));
  const callback = (await lines.next()).value;
  return client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
}

// The error a call ended with (the OAuth error code, or the HTTP status), or "accepted".
async function outcome(promise) {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    return err.error ?? err.status ?? err.cause?.status ?? `${err.name}: ${err.message}`;
  }
}

async function validateAsResourceServer(config, accessToken, audience) {
  const request = new Request('https://resource.invalid/', {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return oauth.validateJwtAccessToken(config.serverMetadata(), request, audience);
}

async function main() {
  const metadata = { client_secret: CLIENT_SECRET };
  if (ID_TOKEN_ALG) metadata.id_token_signed_response_alg = ID_TOKEN_ALG;
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, metadata, authMethod(CLIENT_SECRET));
  const steps = {};

  // Family A: refresh with rotation, then the rotated token presented again.
  const first = await login(config, 'openid profile offline_access');
  const sub = first.claims().sub;
  const second = await client.refreshTokenGrant(config, first.refresh_token);
  steps.rotated = Boolean(second.refresh_token) && second.refresh_token !== first.refresh_token;
  steps.refreshed_scope = second.scope;
  steps.userinfo_after_refresh = await client.fetchUserInfo(config, second.access_token, sub);
  if (ACCESS_TOKEN_JWT) {
    const claims = await validateAsResourceServer(config, second.access_token, ISSUER);
    steps.jwt_access_token = { sub: claims.sub, client_id: claims.client_id, scope: claims.scope };
  }
  steps.introspect_access = await client.tokenIntrospection(config, second.access_token);
  steps.introspect_refresh = await client.tokenIntrospection(
    config, second.refresh_token, { token_type_hint: 'refresh_token' });
  steps.reuse = await outcome(client.refreshTokenGrant(config, first.refresh_token));
  steps.after_reuse_refresh = await outcome(client.refreshTokenGrant(config, second.refresh_token));
  steps.after_reuse_userinfo = await outcome(client.fetchUserInfo(config, second.access_token, sub));
  steps.after_reuse_introspect = await client.tokenIntrospection(config, second.access_token);

  // Family B: revocation of a refresh token ends its family.
  const third = await login(config, 'openid offline_access');
  await client.tokenRevocation(config, third.refresh_token, { token_type_hint: 'refresh_token' });
  steps.revoked_refresh = await outcome(client.refreshTokenGrant(config, third.refresh_token));
  steps.revoked_family_introspect = await client.tokenIntrospection(config, third.access_token);
  steps.revoke_unknown = await outcome(client.tokenRevocation(config, 'no-such-token'));

  // A service: client credentials, a JWT access token a resource server accepts, revoked.
  const service = await client.discovery(
    new URL(ISSUER), SERVICE_ID, { client_secret: SERVICE_SECRET },
    client.ClientSecretBasic(SERVICE_SECRET));
  const serviceTokens = await client.clientCredentialsGrant(service, { scope: SERVICE_SCOPE });
  steps.service_token = {
    token_type: serviceTokens.token_type,
    scope: serviceTokens.scope,
    has_refresh_token: 'refresh_token' in serviceTokens,
    has_id_token: 'id_token' in serviceTokens,
  };
  const serviceClaims = await validateAsResourceServer(
    service, serviceTokens.access_token, SERVICE_AUDIENCE);
  steps.service_claims = serviceClaims;
  steps.service_introspect = await client.tokenIntrospection(service, serviceTokens.access_token);
  steps.service_wider_scope = await outcome(client.clientCredentialsGrant(service, { scope: 'openid' }));
  await client.tokenRevocation(service, serviceTokens.access_token);
  steps.service_revoked_introspect = await client.tokenIntrospection(service, serviceTokens.access_token);

  console.log(JSON.stringify({ steps }));
}

main().then(() => process.exit(0)).catch((err) => {
  console.log(JSON.stringify({ error: `${err.name}: ${err.message}`, code: err.code, cause: err.cause }));
  process.exit(1);
});
