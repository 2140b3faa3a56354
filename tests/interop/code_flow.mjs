// A relying party built on panva's openid-client, with none of its checks relaxed.
// Protocol with the Python test driving it: prints {"authorization_url": ...} on one line,
// reads the callback URL the browser landed on from stdin, then prints the result:
// {"claims": <validated ID token claims>, "userinfo": ..., "token_type": ...} or {"error": ...}.
import * as client from 'openid-client';
import readline from 'node:readline';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, SCOPE, ID_TOKEN_ALG } = process.env;

async function main() {
  const metadata = { client_secret: CLIENT_SECRET };
  if (ID_TOKEN_ALG) metadata.id_token_signed_response_alg = ID_TOKEN_ALG;
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, metadata);
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE || 'openid profile email campus',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  console.log(JSON.stringify({ authorization_url: url.href }));

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
