// PM2 process file for Titan on one server (docs/deploy.md).
//
//   make install && cp deploy/titan.env.example .env && $EDITOR .env
//   .venv/bin/titan migrate && .venv/bin/titan preflight
//   pm2 start deploy/ecosystem.config.js && pm2 save
//
// Every app is in the PM2 namespace "titan-core", so the operator manual's commands work
// as written: `pm2 logs titan-core`, `pm2 restart titan-core`. Memory limits follow the
// daily operations runbook (brain < 200 MB, execution < 300 MB, scavenger < 200 MB); PM2
// restarts a process that grows past its limit. Settings and secrets come from .env at
// the repository root (the same file docker compose uses). PAPER against the bundled
// simulator also starts titan-simulator.
"use strict";

const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, ".venv", "bin");

// KEY=VALUE lines of .env (comments and blank lines skipped; surrounding quotes removed)
function loadEnv(file) {
  const env = {};
  if (!fs.existsSync(file)) return env;
  for (const raw of fs.readFileSync(file, "utf8").split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || !line.includes("=")) continue;
    const at = line.indexOf("=");
    const key = line.slice(0, at).trim();
    let value = line.slice(at + 1).trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    env[key] = value;
  }
  return env;
}

const fileEnv = loadEnv(path.join(ROOT, ".env"));
const env = {
  ...fileEnv,
  TITAN_VAR_DIR: fileEnv.TITAN_VAR_DIR || path.join(ROOT, "var"),
  PYTHONUNBUFFERED: "1",
};

function app(name, script, args, maxMemory, extra = {}) {
  return {
    name,
    namespace: "titan-core",
    cwd: ROOT,
    script,
    args,
    interpreter: "none",
    env,
    autorestart: true,
    max_memory_restart: maxMemory,
    min_uptime: "10s",
    max_restarts: 50,
    exp_backoff_restart_delay: 1000,
    kill_timeout: 20000, // SIGTERM, then 20 s for a graceful stop before SIGKILL
    time: true,
    merge_logs: true,
    out_file: path.join(env.TITAN_VAR_DIR, "log", `pm2-${name}.out.log`),
    error_file: path.join(env.TITAN_VAR_DIR, "log", `pm2-${name}.err.log`),
    ...extra,
  };
}

const titan = path.join(BIN, "titan");
const python = path.join(BIN, "python");

const apps = [
  app("titan-brain", titan, ["serve", "brain"], "200M"),
  app("titan-execution", titan, ["serve", "execution"], "300M"),
  app("titan-console", titan, ["serve", "console"], "400M"),
  app("titan-scavenger", titan, ["serve", "scavenger"], "200M"),
  app("titan-worker", python, ["-m", "titan_worker", "worker"], "400M"),
  app("titan-beat", python, ["-m", "titan_worker", "beat"], "200M"),
];

// Execution and the scavenger run one process per venue of TITAN_VENUES: the first venue's
// are titan-execution and titan-scavenger; each other venue's (MEXC) its own pair, whose
// account is named after its venue. Their ports: TITAN_EXECUTION_PORTS/TITAN_SCAVENGER_PORTS.
const venues = (env.TITAN_VENUES || "bybit").split(",").map((v) => v.trim().toLowerCase()).filter(Boolean);
for (const venue of venues.slice(1)) {
  for (const [kind, memory] of [["execution", "300M"], ["scavenger", "200M"]]) {
    const own = { ...env, [`TITAN_${kind.toUpperCase()}_VENUE`]: venue, TITAN_EXCHANGE: venue };
    apps.push(app(`titan-${kind}-${venue}`, titan, ["serve", kind], memory, { env: own }));
  }
}

const mode = (env.SYSTEM_MODE || "PAPER").toUpperCase();
const endpoint = env.TITAN_BYBIT_ENDPOINT || "http://127.0.0.1:9100";
if (mode === "PAPER" && /^https?:\/\/(127\.0\.0\.1|localhost):9100\/?$/.test(endpoint)) {
  apps.unshift(app("titan-simulator", titan, ["serve", "simulator"], "400M"));
}

module.exports = { apps };
