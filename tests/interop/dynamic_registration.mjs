// openid-client registers itself at the provider (RFC 7591, with an initial access token), then
// completes a login with what it registered, none of its checks relaxed. Same stdin/stdout
// protocol as code_flow.mjs; the first line also carries the registration response.
import * as client from 'openid-client';
import readline from 'node:readline';

const { ISSUER, INITIAL_ACCESS_TOKEN, REDIRECT_URI } = process.env;

async function main() {
  const config = await client.dynamicClientRegistration(new URL(ISSUER), {
    client_name: 'openid-client interop',
    'client_name#ru': 'Проверка openid-client',
    redirect_uris: [REDIRECT_URI],
    // openid-client authenticates with client_secret_post unless told otherwise: register that.
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }, undefined, { initialAccessToken: INITIAL_ACCESS_TOKEN });
  const registered = config.clientMetadata();
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email campus',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  console.log(JSON.stringify({
    authorization_url: url.href,
    client_id: registered.client_id,
    registration_client_uri: registered.registration_client_uri,
    registration_access_token: registered.registration_access_token,
  }));

  const rl = readline.createInterface({ input: process.stdin });
  const callback = await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  console.log(JSON.stringify({ claims, userinfo, token_type: tokens.token_type }));
}

main().catch((err) => {
  console.log(JSON.stringify({ error: `${err.name}: ${err.message}`, code: err.code }));
  process.exit(1);
});
