// A relying party built on panva's openid-client, with none of its checks relaxed.
// Protocol with the Python test driving it: prints {"authorization_url": ...} on one line,
// reads the callback URL the browser landed on from stdin, then prints the result:
// {"claims": <validated ID token claims>, "userinfo": ..., "token_type": ...} or {"error": ...}.
import * as client from 'openid-client';
import { completeLogin, reportFailure } from './login_steps.mjs';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, SCOPE, ID_TOKEN_ALG } = process.env;

async function main() {
  const metadata = { client_secret: CLIENT_SECRET };
  if (ID_TOKEN_ALG) metadata.id_token_signed_response_alg = ID_TOKEN_ALG;
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, metadata);
  const result = await completeLogin(config, { redirectUri: REDIRECT_URI, scope: SCOPE });
  console.log(JSON.stringify(result));
}

main().catch(reportFailure);
