// openid-client with a key of its own: it registers (RFC 7591) as a private_key_jwt client
// with its public JWK, pairwise subjects and signed request objects, then logs in twice: once
// through a pushed authorization request (RFC 9126), once with a signed request object (JAR,
// RFC 9101); every token request, the refresh and the introspection authenticate with a
// client assertion (RFC 7523). None of its checks relaxed. Same stdin/stdout protocol as
// code_flow.mjs; the first line also carries the client_id.
import * as client from 'openid-client';
import { completeLogin, reportFailure } from './login_steps.mjs';

const { ISSUER, INITIAL_ACCESS_TOKEN, REDIRECT_URI } = process.env;

async function main() {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const kid = 'interop-es256';
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid, alg: 'ES256', use: 'sig' };
  delete jwk.key_ops;
  delete jwk.ext;
  const signingKey = { key: privateKey, kid };
  const config = await client.dynamicClientRegistration(new URL(ISSUER), {
    client_name: 'openid-client private_key_jwt interop',
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [jwk] },
    request_object_signing_alg: 'ES256',
    subject_type: 'pairwise',
    id_token_signed_response_alg: 'ES256',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile offline_access',
  }, client.PrivateKeyJwt(signingKey), { initialAccessToken: INITIAL_ACCESS_TOKEN });
  const registered = config.clientMetadata();
  const scope = 'openid profile offline_access';

  const pushed = await completeLogin(config, {
    redirectUri: REDIRECT_URI, scope,
    announce: { client_id: registered.client_id },
    buildUrl: (cfg, parameters) => client.buildAuthorizationUrlWithPAR(cfg, parameters),
  });
  const signed = await completeLogin(config, {
    redirectUri: REDIRECT_URI, scope,
    buildUrl: (cfg, parameters) => client.buildAuthorizationUrlWithJAR(cfg, parameters, signingKey),
  });
  const refreshed = await client.refreshTokenGrant(config, pushed.refresh_token);
  const introspected = await client.tokenIntrospection(config, refreshed.access_token);
  console.log(JSON.stringify({
    client_id: registered.client_id,
    subject_type: registered.subject_type,
    par: { claims: pushed.claims, userinfo: pushed.userinfo },
    jar: { claims: signed.claims, userinfo: signed.userinfo },
    refreshed: { rotated: refreshed.refresh_token !== pushed.refresh_token, scope: refreshed.scope },
    introspection: introspected,
  }));
}

main().catch(reportFailure);
