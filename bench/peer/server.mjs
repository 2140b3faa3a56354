// The benchmark's peer: node-oidc-provider (pinned in package.json) configured for the same rows
// Campus ID is measured on, so `python -m bench.side_by_side` can print one beside the other.
//
//   node server.mjs PORT
//
// Listens on 127.0.0.1:PORT, issuer http://127.0.0.1:PORT. Its clients mirror bench/__main__.py's:
//   bench-cc-es256   client credentials, ES256 JWT access tokens
//   bench-cc-opaque  client credentials, opaque access tokens (the ones introspection reads)
//   bench-web        authorization code + PKCE, ES256 ID tokens; its login is the library's
//                    development login (devInteractions: any login name, no password check) and
//                    it needs no consent (a first-party client, as Campus ID's trusted one)
// Every client's secret is "<client_id>-secret-0123456789abcdef". One ES256 key, made at start.
// Storage is the library's in-memory adapter. Prints "listening <issuer>" once it accepts requests.
import crypto from "node:crypto";

import Provider from "oidc-provider";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node server.mjs PORT");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = "urn:campus-id:bench";
const SCOPE = "bench.read";
const REDIRECT_URI = "http://127.0.0.1:9/cb";
const LOGIN_CLIENT = "bench-web";
const secret = (clientId) => `${clientId}-secret-0123456789abcdef`;

const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const signing = { ...privateKey.export({ format: "jwk" }), kid: "bench-es256", alg: "ES256", use: "sig" };

const service = (clientId) => ({
  client_id: clientId, client_secret: secret(clientId), grant_types: ["client_credentials"],
  response_types: [], redirect_uris: [], scope: SCOPE, id_token_signed_response_alg: "ES256",
});

const provider = new Provider(issuer, {
  clients: [
    service("bench-cc-es256"),
    service("bench-cc-opaque"),
    {
      client_id: LOGIN_CLIENT, client_secret: secret(LOGIN_CLIENT),
      grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
      redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: "ES256",
    },
  ],
  jwks: { keys: [signing] },
  cookies: { keys: [crypto.randomBytes(32).toString("base64url")] },
  scopes: ["openid", "offline_access", SCOPE],
  claims: { openid: ["sub"], profile: ["name"], email: ["email"] },
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return { sub, name: sub, email: `${sub}@bench.test` }; } };
  },
  // The login client is first-party: its grant is made here instead of on a consent page.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (ctx.oidc.client.clientId !== LOGIN_CLIENT) return undefined;
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid profile email offline_access");
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Services get tokens for the bench resource; the login client's stay userinfo tokens.
      async defaultResource(_ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return client.grantTypes.includes("client_credentials") ? RESOURCE : undefined;
      },
      async getResourceServerInfo(_ctx, indicator, client) {
        if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        const opaque = client.clientId === "bench-cc-opaque";
        return {
          scope: SCOPE, audience: RESOURCE, accessTokenTTL: 3600,
          accessTokenFormat: opaque ? "opaque" : "jwt",
          ...(opaque ? {} : { jwt: { sign: { alg: "ES256" } } }),
        };
      },
    },
  },
});

provider.listen(port, "127.0.0.1", () => console.log(`listening ${issuer}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
