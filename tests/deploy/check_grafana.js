// Checks deploy/grafana/echod.json against a real echod: every metric name its PromQL uses (panel
// targets and template variables) exists in the live /metrics, and every label value a selector
// names (kind="reset") occurs there. A name that echod stops exporting, or renames, fails here
// instead of leaving an empty panel. Every panel also has a query and an on-screen place.
// The echod it scrapes runs on io_uring, carried one echo, so the reactor row's counters are those
// of the backend they chart. Where io_uring cannot start it runs on epoll (it exports the same
// names) and says so; with ECHOD_REQUIRE_IO_URING=1 (CI) only if the kernel refused io_uring_setup,
// as the backend tests do (a probe that wrongly rejects a working kernel fails).
//
//   ECHOD=build/server/echod node check_grafana.js SOURCE_ROOT
// Exit 0: every check held; 1: a check failed (each printed).
"use strict";
const fs = require("fs");
const net = require("net");
const path = require("path");
const { with_echod, get, checks } = require("./echod_child");

const root = process.argv[2];
const dashboard = JSON.parse(fs.readFileSync(path.join(root, "deploy/grafana/echod.json"), "utf8"));
const c = new checks();

// ---- the PromQL of the dashboard ----
const queries = [];
for (const p of dashboard.panels.filter((p) => p.type !== "row")) {
  c.ok(p.targets?.length > 0 && p.targets.every((t) => t.expr), `panel "${p.title}" has no query`);
  c.ok(p.gridPos && p.gridPos.w > 0 && p.gridPos.h > 0, `panel "${p.title}" has no gridPos`);
  for (const t of p.targets ?? []) queries.push(t.expr);
}
for (const v of dashboard.templating.list.filter((v) => v.type === "query")) queries.push(v.query.query ?? v.query);
c.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, "panel ids are unique");

const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
                          "and", "or", "unless"]);
/// Metric names in a PromQL expression, each with its label matchers ("" when it has none).
function selectors(expr) {
  const out = [];
  const text = expr
    .replace(/\[[^\]]*\]/g, "")  // range durations: [5m], [$__rate_interval]
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");  // label lists
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (let m; (m = re.exec(text)) !== null;) {
    const [, name, matchers, call] = m;
    if (call && !matchers) continue;  // a function or aggregation: rate(, sum(
    if (keywords.has(name) || /\d/.test(text[m.index - 1] ?? "")) continue;
    // label_values(echod_up, instance): the second argument is a label, not a metric
    if (/label_values\(\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*,\s*$/.test(text.slice(0, m.index))) continue;
    out.push({ name, matchers: matchers ?? "" });
  }
  return out;
}
const used = queries.flatMap(selectors);
// The extraction itself: it must find names, and a known expression must give exactly its name.
c.ok(used.length >= queries.length, `only ${used.length} metric names found in ${queries.length} queries`);
c.equal(JSON.stringify(selectors('sum by (kind) (rate(echod_x_total{kind="a",instance=~"$i"}[5m])) / on(i) b')),
        JSON.stringify([{ name: "echod_x_total", matchers: '{kind="a",instance=~"$i"}' }, { name: "b", matchers: "" }]),
        "the PromQL name extraction");

// ---- against a live /metrics ----
/// Sends one message to echod's service and resolves once its reply (the uppercase) is back.
function echo_once(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => sock.write("ping"));
    let reply = "";
    sock.setTimeout(10000, () => sock.destroy(new Error("no echo within 10 s")));
    sock.on("data", (d) => {
      reply += d;
      if (reply.length >= 4) sock.end(() => resolve(reply));
    });
    sock.on("error", reject);
  });
}
/// The value of an unlabelled sample in an exposition (NaN when it is not there).
const sample = (body, name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(body)?.[1] ?? NaN);

/// Starts echod on `backend`, echoes once, and checks the dashboard against its /metrics (polled
/// until the workers' counters show that echo).
const check_live = (backend) => with_echod(c, JSON.stringify({ listen: "127.0.0.1:0", admin: "127.0.0.1:0",
                                                               processes: 1, backend }), [], async (e) => {
  c.equal(await echo_once(e.port), "PING", "the echo of ping");
  let m;
  for (const deadline = Date.now() + 20000; ;) {
    m = await get(e.admin_port, "/metrics");
    if (sample(m.body, "echod_recv_completions_total") >= 1 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  c.equal(m.status, 200, "GET /metrics");
  c.ok(m.body.includes(`backend="${backend}"`), `echod_info names backend ${backend}`);
  c.ok(sample(m.body, "echod_recv_completions_total") >= 1 && sample(m.body, "echod_recv_completion_bytes_total") >= 4,
       "the receive counters show the echo (echod_recv_completions_total >= 1, bytes >= 4)");
  const families = new Set([...m.body.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]));
  for (const { name, matchers } of used) {
    c.ok(families.has(name), `the dashboard uses ${name}, which echod's /metrics does not export`);
    // Equality matchers on fixed values must name a sample that exists.
    for (const [, label, value] of matchers.matchAll(/([a-zA-Z_]\w*)\s*=\s*"([^"$]*)"/g)) {
      c.ok(new RegExp(`^${name}\\{[^}]*\\b${label}="${value}"`, "m").test(m.body),
           `${name}{${label}="${value}"} is not in /metrics`);
    }
  }
  console.log(`checked against echod on ${backend}; metrics the dashboard uses: ` +
              [...new Set(used.map((u) => u.name))].sort().join(" "));
});

c.finish_after("deploy/grafana", async () => {
  try {
    await check_live("io_uring");
  } catch (err) {
    const kernel_refused = /is not available here: io_uring_setup: /.test(err.message);
    if (!/exited early/.test(err.message) || (process.env.ECHOD_REQUIRE_IO_URING === "1" && !kernel_refused)) {
      throw err;
    }
    console.log(`echod could not start on io_uring here, so the check runs on epoll:\n${err.message}`);
    await check_live("epoll");
  }
});
