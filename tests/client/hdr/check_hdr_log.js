// Reads echoload's --hdr-log with HdrHistogram's JavaScript port (an independent decoder: our
// encoder is never used to read it back) and checks it against the --json report of the same run:
// one untagged interval per measured timeline entry with the same count, the intervals' sum has
// the report's count, and its percentiles and max agree with the report's within one bucket
// (1/128 of the value: both use 2 significant digits). Open-loop runs must also carry
// Tag=uncorrected intervals that agree with service_latency_us.
//
//   node check_hdr_log.js LOG REPORT.json      exit 0: agrees; 1: a difference (printed)
"use strict";
const fs = require("fs");
const hdr = require("hdr-histogram-js");

const [logPath, reportPath] = process.argv.slice(2);
if (!logPath || !reportPath) {
  console.error("usage: node check_hdr_log.js LOG REPORT.json");
  process.exit(2);
}
const log = fs.readFileSync(logPath, "utf8");
const report = JSON.parse(fs.readFileSync(reportPath, "utf8"));
const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
};

// Header lines HdrHistogram's tools look for.
for (const header of ["#[Histogram log format version 1.3]", "#[StartTime: ", "#[BaseTime: ",
                      '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"']) {
  check(log.includes(header), `header missing: ${header}`);
}

// Every interval, by tag, decoded by the library.
const reader = new hdr.HistogramLogReader(log, 64);
const byTag = new Map();
for (let h; (h = reader.nextIntervalHistogram()) !== null;) {
  if (!byTag.has(h.tag)) byTag.set(h.tag, []);
  byTag.get(h.tag).push(h);
}
const untagged = byTag.get("NO TAG") || [];  // the library's name for untagged lines

const measured = report.timeline.filter((e) => e.phase === "measured");
check(untagged.length === measured.length,
      `${untagged.length} untagged intervals, but ${measured.length} measured timeline entries`);
for (let i = 0; i < Math.min(untagged.length, measured.length); ++i) {
  check(untagged[i].totalCount === measured[i].messages,
        `interval ${i}: ${untagged[i].totalCount} values, timeline says ${measured[i].messages}`);
}

// Sums the intervals and compares percentiles (µs in the report, ns in the log).
function compare(name, intervals, latencyUs, count) {
  const sum = hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1,
                          highestTrackableValue: 2 ** 36 - 1, numberOfSignificantValueDigits: 2 });
  for (const h of intervals) sum.add(h);
  check(sum.totalCount === count, `${name}: the log holds ${sum.totalCount} values, the report ${count}`);
  const points = [["p50", 50], ["p90", 90], ["p99", 99], ["p999", 99.9], ["p9999", 99.99]];
  for (const [key, p] of points) {
    const ours = latencyUs[key] * 1000;
    const theirs = sum.getValueAtPercentile(p);
    const slack = Math.max(ours, theirs) / 128 + 1;
    check(Math.abs(ours - theirs) <= slack,
          `${name} ${key}: report ${ours} ns, hdr-histogram-js ${theirs} ns (slack ${slack})`);
    console.log(`${name} ${key}: report ${ours} ns, hdr-histogram-js ${theirs} ns`);
  }
  const maxOurs = latencyUs.max * 1000;
  check(Math.abs(sum.maxValue - maxOurs) <= maxOurs / 128 + 1,
        `${name} max: report ${maxOurs} ns, hdr-histogram-js ${sum.maxValue} ns`);
}

compare("latency", untagged, report.latency_us, report.messages);
if (report.open_loop) {
  const uncorrected = byTag.get("uncorrected") || [];
  check(uncorrected.length === measured.length,
        `${uncorrected.length} Tag=uncorrected intervals, ${measured.length} measured entries`);
  compare("service", uncorrected, report.service_latency_us, report.messages);
}

if (problems.length > 0) {
  for (const p of problems) console.error("MISMATCH: " + p);
  process.exit(1);
}
console.log(`ok: ${untagged.length} intervals, ${report.messages} values agree`);
