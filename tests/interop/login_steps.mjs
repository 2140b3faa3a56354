// The steps every interop relying party shares: start a code + PKCE login, hand the
// authorization URL to the Python test (one JSON line on stdout), read back the callback URL the
// browser landed on (one line on stdin), redeem the code and fetch UserInfo, all checks on.
import * as client from 'openid-client';
import readline from 'node:readline';

// `buildUrl` (optional) turns the parameters into the URL another way: pushed (PAR) or signed
// (JAR); the plain query otherwise.
export async function completeLogin(config, { redirectUri, scope, announce = {}, buildUrl }) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = {
    redirect_uri: redirectUri,
    scope: scope || 'openid profile email campus',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  const url = buildUrl
    ? await buildUrl(config, parameters)
    : client.buildAuthorizationUrl(config, parameters);
  console.log(JSON.stringify({ authorization_url: url.href, ...announce }));

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
  return {
    claims, userinfo, token_type: tokens.token_type, id_token: tokens.id_token,
    refresh_token: tokens.refresh_token, access_token: tokens.access_token,
  };
}

export function reportFailure(err) {
  console.log(JSON.stringify({ error: `${err.name}: ${err.message}`, code: err.code }));
  process.exit(1);
}
