// A load generator in Node: one scenario at a fixed concurrency for a fixed time, from a
// process of its own, over keep-alive connections. Prints one JSON line: requests, errors,
// requests per second, p50 and p99 latency in milliseconds. bench.instances drives logins
// through nginx's TLS with it, and bench.side_by_side Campus ID's logins beside the peer's
// (both under Node); `python -m bench` drives its logins with wrk (bench/wrk.py), which costs
// the shared cores less.
//
//   node load.mjs '<json spec>'
//
// spec: {"scenario": "get"|"form"|"login", "base": "http://127.0.0.1:8080", "concurrency": 16,
//        "seconds": 10, ...scenario fields}. "get" fetches spec.path (with spec.headers);
// "form" posts spec.form (an object) to spec.path; "login" runs a whole browserless login per
// iteration: authorize -> login form -> post (the code at once) -> token; "refresh" logs
// each worker in once, unmeasured, then rotates that worker's refresh token per iteration.
import http from "node:http";
import https from "node:https";
import crypto from "node:crypto";
import fs from "node:fs";

const spec = JSON.parse(process.argv[2]);
const base = new URL(spec.base);
// An https base (nginx in bench.instances) is verified against spec.ca_file, a PEM file.
const client = base.protocol === "https:" ? https : http;
const agent = new client.Agent({ keepAlive: true, maxSockets: spec.concurrency * 2,
                                 ...(spec.ca_file ? { ca: fs.readFileSync(spec.ca_file) } : {}) });

// Each HTTP request's own latency too: a whole login is three requests, and its latency at a
// concurrency c is about c / (logins per second) whatever the server does.
const requestLatencies = [];

function request(method, path, { headers = {}, body = null } = {}) {
  const begun = performance.now();
  return timedRequest(method, path, headers, body).then((res) => {
    requestLatencies.push(performance.now() - begun);
    return res;
  });
}

function timedRequest(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = client.request(
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

const b64url = (buf) => buf.toString("base64url");

async function login(user, scope = "openid profile email campus") {
  const jar = new Jar();
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash("sha256").update(verifier).digest());
  const authorize = "/authorize?" + form({
    response_type: "code", client_id: spec.client_id, redirect_uri: spec.redirect_uri,
    scope, state: b64url(crypto.randomBytes(8)),
    nonce: b64url(crypto.randomBytes(8)), code_challenge: challenge, code_challenge_method: "S256",
  });
  let res = await request("GET", authorize);  // the login form, at the request itself
  jar.take(res);
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(res.body)?.[1];
  const rid = /name="rid" value="([^"]*)"/.exec(res.body)?.[1] ?? "";
  if (!csrf) throw new Error(`authorize, the login form: ${res.status}`);
  res = await request("POST", "/login", {
    headers: { ...FORM, cookie: jar.header() },
    body: form({ csrf_token: csrf, rid, organization: user.organization, username: user.username,
                 password: user.password }),
  });
  jar.take(res);
  if (res.status !== 302) throw new Error(`login post: ${res.status}`);
  const location = res.headers.location ?? "";  // the code at once
  const code = new URL(location, base).searchParams.get("code");
  if (res.status !== 302 || !code) throw new Error(`code: ${res.status} ${location.slice(0, 80)}`);
  const basic = Buffer.from(`${spec.client_id}:${spec.client_secret}`).toString("base64");
  res = await request("POST", "/token", {
    headers: { ...FORM, authorization: `Basic ${basic}` },
    body: form({ grant_type: "authorization_code", code, redirect_uri: spec.redirect_uri,
                 code_verifier: verifier }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.body.slice(0, 120)}`);
  return JSON.parse(res.body);
}

// The refresh scenario: each worker logs in once (not measured), then rotates its own chain.
const refreshTokens = [];

async function refresh(worker) {
  const basic = Buffer.from(`${spec.client_id}:${spec.client_secret}`).toString("base64");
  const res = await request("POST", "/token", {
    headers: { ...FORM, authorization: `Basic ${basic}` },
    body: form({ grant_type: "refresh_token", refresh_token: refreshTokens[worker] }),
  });
  if (res.status !== 200) throw new Error(`refresh: ${res.status} ${res.body.slice(0, 120)}`);
  refreshTokens[worker] = JSON.parse(res.body).refresh_token;
}

async function once(worker, i) {
  if (spec.scenario === "get") {
    const res = await request("GET", spec.path, { headers: spec.headers ?? {} });
    if (res.status !== 200) throw new Error(`${spec.path}: ${res.status} ${res.body.slice(0, 120)}`);
  } else if (spec.scenario === "form") {
    const res = await request("POST", spec.path, {
      headers: { ...FORM, ...(spec.headers ?? {}) }, body: form(spec.form),
    });
    if (res.status !== 200) throw new Error(`${spec.path}: ${res.status} ${res.body.slice(0, 120)}`);
  } else if (spec.scenario === "refresh") {
    await refresh(worker);
  } else if (spec.scenario === "login") {
    await login(spec.users[(worker + i * spec.concurrency) % spec.users.length]);
  } else {
    throw new Error(`unknown scenario ${spec.scenario}`);
  }
}

if (spec.scenario === "refresh") {
  for (let n = 0; n < spec.concurrency; n++) {
    const body = await login(spec.users[n % spec.users.length], "openid offline_access");
    refreshTokens.push(body.refresh_token);
  }
}

const latencies = [];
let errors = 0;
let firstError = null;
const deadline = performance.now() + spec.seconds * 1000;

async function worker(n) {
  for (let i = 0; performance.now() < deadline; i++) {
    const start = performance.now();
    try {
      await once(n, i);
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
const percentile = (values) => {
  values.sort((a, b) => a - b);
  return (p) => (values.length ? values[Math.min(values.length - 1, Math.floor(p * values.length))]
                                : null);
};
const pct = percentile(latencies);
const each = percentile(requestLatencies);
console.log(JSON.stringify({
  requests: latencies.length, errors, first_error: firstError,
  rps: latencies.length / elapsed, p50_ms: pct(0.5), p99_ms: pct(0.99),
  http_requests: requestLatencies.length, request_p50_ms: each(0.5), request_p99_ms: each(0.99),
}));
agent.destroy();
