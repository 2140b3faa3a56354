// openid-client registers itself at the provider (RFC 7591, with an initial access token), then
// completes a login with what it registered, none of its checks relaxed. Same stdin/stdout
// protocol as code_flow.mjs; the first line also carries the registration response.
import * as client from 'openid-client';
import { completeLogin, reportFailure } from './login_steps.mjs';

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
  const result = await completeLogin(config, {
    redirectUri: REDIRECT_URI,
    announce: {
      client_id: registered.client_id,
      registration_client_uri: registered.registration_client_uri,
      registration_access_token: registered.registration_access_token,
    },
  });
  console.log(JSON.stringify(result));
}

main().catch(reportFailure);
