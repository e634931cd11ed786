// Checks deploy/k8s offline, with the real tools: `kubectl kustomize` renders the base, the
// io_uring overlay and the echoload Job; every object validates against the Kubernetes schemas
// (kubernetes-models, offline); and the manifests agree with the code: the ConfigMap's echod.json
// passes `echod --check-config`, its ports are config/echod.json's and the containers', the probe
// and scrape paths answer on a real echod's admin endpoint, the Service leaves the admin port out,
// the grace period covers preStop plus shutdown_timeout, and the pod runs as the image's user.
//
//   ECHOD=build/server/echod KUBECTL=kubectl node check_k8s.js SOURCE_ROOT
// Exit 0: every check held; 1: a check failed (each printed); 77: kubectl is missing (skipped).
"use strict";
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");
const { SKIP, with_echod, get, checks } = require("./echod_child");

const root = process.argv[2];
const kubectl = process.env.KUBECTL;
if (!kubectl) {
  console.log("SKIP: kubectl not found (it is not in Debian 12; CI's machine has it), so deploy/k8s " +
              "was not rendered or checked");
  process.exit(SKIP);
}
const c = new checks();

function render(dir) {
  const out = execFileSync(kubectl, ["kustomize", path.join(root, dir)], { encoding: "utf8" });
  return YAML.parseAllDocuments(out).map((d) => d.toJS());
}

// ---- schemas: each object through its kubernetes-models class ----
function model_of(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
  return require(`kubernetes-models/${group ? group + "/" : ""}${version}/${obj.kind}`)[obj.kind];
}
function schema_error(obj) {
  try {
    new (model_of(obj))(obj).validate();
    return null;
  } catch (e) {
    return e.message;
  }
}
const rendered = { base: render("deploy/k8s"), io_uring: render("deploy/k8s-io_uring"),
                   load: render("deploy/k8s/load") };
for (const [name, objects] of Object.entries(rendered)) {
  for (const o of objects) {
    const err = schema_error(o);
    c.ok(err === null, `${name}: ${o.kind}/${o.metadata.name} does not validate: ${err}`);
  }
}
const find = (objects, kind) => objects.find((o) => o.kind === kind);
const deployment = find(rendered.base, "Deployment");
const service = find(rendered.base, "Service");
const configmap = find(rendered.base, "ConfigMap");
const job = find(rendered.load, "Job");
c.ok(deployment && service && configmap && job, "the base has a Deployment, Service and ConfigMap; load a Job");
// The validator must be able to fail: a mistyped port is refused.
const broken = structuredClone(deployment);
broken.spec.template.spec.containers[0].ports[0].containerPort = "seven";
c.ok(schema_error(broken) !== null, "kubernetes-models accepted a containerPort that is a string");

// ---- the manifests against the code ----
const port_of = (address) => Number(/:(\d+)$/.exec(address)[1]);
const shipped = JSON.parse(fs.readFileSync(path.join(root, "config/echod.json"), "utf8"));
const cm_text = configmap.data["echod.json"];
const cm = JSON.parse(cm_text);
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const container_port = (name) => container.ports.find((p) => p.name === name)?.containerPort;

c.equal(port_of(cm.listen), port_of(shipped.listen), "ConfigMap listen port vs config/echod.json");
c.equal(port_of(cm.admin), port_of(shipped.admin), "ConfigMap admin port vs config/echod.json");
c.ok(cm.admin.startsWith("0.0.0.0:"), `the admin endpoint must be on the pod IP for the kubelet, not ${cm.admin}`);
c.equal(container_port("echo"), port_of(cm.listen), "containerPort echo vs the ConfigMap's listen");
c.equal(container_port("admin"), port_of(cm.admin), "containerPort admin vs the ConfigMap's admin");
c.ok(container.volumeMounts.some((m) => m.name === "config" && container.args.join(" ") === `-c ${m.mountPath}/echod.json`),
     "echod reads the mounted ConfigMap's echod.json");
c.equal(pod.volumes.find((v) => v.name === "config").configMap.name, configmap.metadata.name,
        "the config volume names the generated ConfigMap");

// Service: the echo port only.
c.equal(service.spec.ports.length, 1, "Service ports");
c.ok(service.spec.ports.every((p) => p.targetPort === "echo" && p.port === port_of(cm.listen)),
     "the Service publishes the echo port and nothing else");
c.ok(service.spec.ports.every((p) => p.port !== port_of(cm.admin) && p.targetPort !== "admin" &&
                                     p.targetPort !== port_of(cm.admin)), "the Service must not publish the admin port");
c.equal(JSON.stringify(service.spec.selector), JSON.stringify(deployment.spec.selector.matchLabels),
        "Service selector vs Deployment selector");

// Probes and scraping: the admin port.
const annotations = deployment.spec.template.metadata.annotations;
c.equal(annotations["prometheus.io/scrape"], "true", "prometheus.io/scrape");
c.equal(Number(annotations["prometheus.io/port"]), port_of(cm.admin), "the scrape port is the admin port");
for (const probe of ["readinessProbe", "livenessProbe"]) {
  c.equal(container[probe]?.httpGet?.port, "admin", `${probe} port`);
}

// Stopping: preStop's sleep plus shutdown_timeout fit in the grace period.
const pre_stop = container.lifecycle.preStop.exec.command;
c.equal(pre_stop[0], "sleep", "preStop sleeps");
c.ok(pod.terminationGracePeriodSeconds > Number(pre_stop[1]) + cm.shutdown_timeout,
     `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} must exceed preStop ` +
     `${pre_stop[1]} s + shutdown_timeout ${cm.shutdown_timeout} s`);
c.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, "rolling updates keep every pod until its successor is ready");

// Security: non-root, as the image's echod user; seccomp RuntimeDefault, Localhost in the overlay.
const dockerfile = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");
const uid = /useradd [^\n]*--uid (\d+)/.exec(dockerfile);
c.ok(uid, "the Dockerfile's useradd pins --uid");
for (const [name, spec] of [["echod", pod], ["echoload", job.spec.template.spec]]) {
  c.equal(spec.securityContext.runAsNonRoot, true, `${name} runAsNonRoot`);
  c.equal(spec.securityContext.runAsUser, uid && Number(uid[1]), `${name} runAsUser vs the Dockerfile's uid`);
  c.equal(spec.containers[0].securityContext.allowPrivilegeEscalation, false, `${name} allowPrivilegeEscalation`);
  c.ok(spec.containers[0].resources?.limits?.cpu && spec.containers[0].resources?.requests?.memory, `${name} resources`);
}
c.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault", "base seccomp");
const localhost = find(rendered.io_uring, "Deployment").spec.template.spec.securityContext.seccompProfile;
c.equal(localhost.type, "Localhost", "io_uring overlay seccomp type");
c.ok(fs.existsSync(path.join(root, "deploy/seccomp", path.basename(localhost.localhostProfile))),
     `the Localhost profile ${localhost.localhostProfile} is deploy/seccomp/${path.basename(localhost.localhostProfile)}`);

// The echoload Job: indexed, all pods at once, aimed at the Service.
c.equal(job.spec.completionMode, "Indexed", "Job completionMode");
c.equal(job.spec.parallelism, job.spec.completions, "Job parallelism vs completions");
const target = job.spec.template.spec.containers[0].env.find((e) => e.name === "TARGET").value;
c.equal(target, `${service.metadata.name}:${service.spec.ports[0].port}`, "echoload's target is the Service");
c.equal(job.spec.template.spec.containers[0].image, container.image, "echoload runs echod's image");

// ---- a real echod with the ConfigMap's config ----
// GETs `p` until it answers `want` (at most 20 s); the last status.
async function wait_status(port, p, want) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const { status } = await get(port, p);
    if (status === want || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
}
// The same config on ephemeral loopback ports, one worker (the machine is shared).
const sets = ["listen=127.0.0.1:0", "admin=127.0.0.1:0", "processes=1"];
c.finish_after("deploy/k8s", () => with_echod(c, cm_text, sets, async (e, config) => {
  try {
    execFileSync(process.env.ECHOD, ["--check-config", "-c", config], { stdio: "pipe" });
  } catch (err) {
    c.ok(false, `echod --check-config rejects the ConfigMap's echod.json: ${err.stderr}`);
  }
  // Unready (503) until every worker serves, as a readiness probe should be; then 200.
  for (const probe of ["readinessProbe", "livenessProbe"]) {
    const p = container[probe].httpGet.path;
    c.equal(await wait_status(e.admin_port, p, 200), 200, `${probe} ${p} on a real echod`);
  }
  const m = await get(e.admin_port, annotations["prometheus.io/path"]);
  c.equal(m.status, 200, `scrape path ${annotations["prometheus.io/path"]}`);
  c.ok(/^text\/plain; version=0\.0\.4/.test(m.type) && /^echod_up 1$/m.test(m.body),
       `the scrape path serves Prometheus' text format with echod_up 1 (got ${m.type})`);
  c.equal((await get(e.admin_port, "/no-such-path")).status, 404, "an unknown admin path");
}));
