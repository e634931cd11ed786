// What the deploy checks share: start the real build/server/echod (ECHOD) with a config file and
// extra --set arguments, learn its ports from its log, GET admin paths over real sockets, stop it.
"use strict";
for (const m of ["yaml", "kubernetes-models/package.json"]) {
  try {
    require.resolve(m);
  } catch {
    console.error(`${m} is not installed: run scripts/setup.sh (npm ci in tests/deploy)`);
    process.exit(1);
  }
}
const { spawn } = require("child_process");
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");

/// Exit status meson reads as "skipped".
const SKIP = 77;

/// Starts echod; resolves once it logged both "listening on ..." and "admin endpoint on ...".
function start_echod(config_path, sets) {
  const echod = process.env.ECHOD;
  if (!echod) throw new Error("ECHOD (the path of build/server/echod) is not set");
  const args = ["-c", config_path];
  for (const s of sets) args.push("--set", s);
  const child = spawn(echod, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("echod did not start within 20 s")), 20000);
    const fail = (err) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${err.message}\nechod log:\n${log}`));
    };
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const port = /listening on [^\n]*:(\d+)\n/.exec(log);
      const admin = /admin endpoint on [^\n]*:(\d+)\n/.exec(log);
      if (port && admin) {
        clearTimeout(timer);
        resolve({ child, port: Number(port[1]), admin_port: Number(admin[1]), log: () => log });
      }
    });
    child.on("exit", (code) => fail(new Error(`echod exited early with ${code}`)));
  });
}

/// Sends SIGTERM and resolves with the exit code (rejects after `ms`).
function stop_echod(e, ms = 20000) {
  return new Promise((resolve, reject) => {
    if (e.child.exitCode !== null) return resolve(e.child.exitCode);
    const timer = setTimeout(() => {
      e.child.kill("SIGKILL");
      reject(new Error("echod did not stop within 20 s of SIGTERM"));
    }, ms);
    e.child.removeAllListeners("exit");
    e.child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    e.child.kill("SIGTERM");
  });
}

/// Writes `config_text` to a temporary file, starts echod on it with `sets`, awaits
/// `body(echod, config_path)`, then stops echod (checking its exit status 0 after SIGTERM into `c`)
/// and removes the file.
async function with_echod(c, config_text, sets, body) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "echod-deploy-"));
  const config = path.join(dir, "echod.json");
  try {
    fs.writeFileSync(config, config_text);
    const e = await start_echod(config, sets);
    try {
      await body(e, config);
    } finally {
      c.equal(await stop_echod(e), 0, "echod's exit status after SIGTERM");
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/// GET http://127.0.0.1:PORT/PATH: {status, type, body}.
function get(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, timeout: 10000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, type: res.headers["content-type"], body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)));
    req.on("error", reject);
  });
}

/// Collects failed checks and prints them all at the end.
class checks {
  constructor() {
    this.problems = [];
    this.count = 0;
  }
  ok(cond, what) {
    ++this.count;
    if (!cond) this.problems.push(what);
  }
  equal(a, b, what) {
    this.ok(a === b, `${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
  }
  /// Awaits `body`, prints the result and exits: 0 when every check held, 1 otherwise (or when
  /// `body` threw).
  async finish_after(name, body) {
    try {
      await body();
    } catch (err) {
      console.error(err.message);
      process.exit(1);
    }
    for (const p of this.problems) console.error(`FAIL ${p}`);
    console.log(`${name}: ${this.count - this.problems.length} of ${this.count} checks held`);
    process.exit(this.problems.length ? 1 : 0);
  }
}

module.exports = { SKIP, with_echod, get, checks };
