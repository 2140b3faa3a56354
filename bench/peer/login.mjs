// Whole logins against the peer (server.mjs), driven as bench/load.mjs drives Campus ID's: one
// browserless login per iteration at a fixed concurrency for a fixed time, over keep-alive
// connections, from a process of its own. Five requests: authorize -> login form -> post the
// form -> back to authorize -> code -> token (Campus ID shows its form at /authorize and its
// login post answers the code at once: three).
// Prints one JSON line as load.mjs does: requests, errors, first_error, rps, p50_ms, p99_ms.
//
//   node login.mjs '{"base": "http://127.0.0.1:PORT", "concurrency": 16, "seconds": 8,
//                    "client_id": "bench-web", "client_secret": "...", "redirect_uri": "...",
//                    "users": ["alice", ...]}'
import http from "node:http";
import crypto from "node:crypto";

const spec = JSON.parse(process.argv[2]);
const base = new URL(spec.base);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency * 2 });

function request(method, path, { headers = {}, body = null } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, method, path, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers,
                                      body: Buffer.concat(chunks).toString("utf8") }));
      });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

const form = (fields) => new URLSearchParams(fields).toString();
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const b64url = (buf) => buf.toString("base64url");
const pathOf = (location) => { const url = new URL(location, base); return url.pathname + url.search; };

class Jar {
  cookies = new Map();
  take(res) {
    for (const line of res.headers["set-cookie"] ?? []) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      this.cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

const redirected = (res) => res.status === 302 || res.status === 303;

async function login(user) {
  const jar = new Jar();
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash("sha256").update(verifier).digest());
  let res = await request("GET", "/auth?" + form({
    response_type: "code", client_id: spec.client_id, redirect_uri: spec.redirect_uri,
    scope: "openid profile email", state: b64url(crypto.randomBytes(8)),
    nonce: b64url(crypto.randomBytes(8)), code_challenge: challenge, code_challenge_method: "S256",
  }));
  jar.take(res);
  if (!redirected(res)) throw new Error(`authorize: ${res.status}`);
  res = await request("GET", pathOf(res.headers.location), { headers: { cookie: jar.header() } });
  jar.take(res);
  const action = /<form[^>]* action="([^"]+)"/.exec(res.body)?.[1];
  if (res.status !== 200 || !action) throw new Error(`login page: ${res.status}`);
  res = await request("POST", pathOf(action), {
    headers: { ...FORM, cookie: jar.header() },
    body: form({ prompt: "login", login: user, password: "any" }),
  });
  jar.take(res);
  if (!redirected(res)) throw new Error(`login post: ${res.status}`);
  res = await request("GET", pathOf(res.headers.location), { headers: { cookie: jar.header() } });
  const location = res.headers.location ?? "";
  const code = new URL(location, base).searchParams.get("code");
  if (!redirected(res) || !code) throw new Error(`code: ${res.status} ${location.slice(0, 80)}`);
  const basic = Buffer.from(`${spec.client_id}:${spec.client_secret}`).toString("base64");
  res = await request("POST", "/token", {
    headers: { ...FORM, authorization: `Basic ${basic}` },
    body: form({ grant_type: "authorization_code", code, redirect_uri: spec.redirect_uri,
                 code_verifier: verifier }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.body.slice(0, 120)}`);
  return JSON.parse(res.body);
}

const latencies = [];
let errors = 0;
let firstError = null;
const deadline = performance.now() + spec.seconds * 1000;

async function worker(n) {
  for (let i = 0; performance.now() < deadline; i++) {
    const start = performance.now();
    try {
      await login(spec.users[(n + i * spec.concurrency) % spec.users.length]);
      latencies.push(performance.now() - start);
    } catch (err) {
      errors++;
      firstError ??= String(err.message ?? err);
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: spec.concurrency }, (_, n) => worker(n)));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1,
  Math.floor(p * latencies.length))] : null);
console.log(JSON.stringify({
  requests: latencies.length, errors, first_error: firstError,
  rps: latencies.length / elapsed, p50_ms: pct(0.5), p99_ms: pct(0.99),
}));
agent.destroy();
