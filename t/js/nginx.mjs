// Runs Debian's nginx with the freshly built ngx_http_signaller_module in a
// temporary prefix, for the Node tests.
//
//   const ngx = await startNginx();      // 4 workers, free 127.0.0.1 port
//   ngx.ws("/listen/abc")  -> "ws://127.0.0.1:PORT/listen/abc"
//   ngx.accessLog()        -> access log lines (with the worker's pid)
//   await ngx.stop();      // throws if error.log has [alert]/[crit]/[emerg]
//                          // or sanitizer lines
//
// The listening socket has `reuseport`, so the kernel spreads connections
// over the workers and a listener and its connector often meet in different
// workers. SIGNALLER_TEST_WORKERS=1 in the environment runs one worker.
//
// Locations served (all on one server and one zone):
//   /                  the demo (demo/)
//   /signaller.js(.mjs)  from the repository root
//   /listen/, /connect/  signaller with the default limits
//   /signal/           the same under a path prefix
//   /lt/  signaller_listen_timeout 1s
//   /pt/  signaller_pipe_timeout 1s
//   /mm/  signaller_max_messages 3
//   /ms/  signaller_max_message_size 100
//   /r/   signaller_refusal close (refusals are 101 + close 4004, 4009, ...)

import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, mkdir, writeFile, readFile, rm, copyFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const MODULE = path.join(REPO, "build/ngx_http_signaller_module.so");
export const NGINX = process.env.NGINX_BINARY || "/usr/sbin/nginx";

const BAD_LOG = /\[(alert|crit|emerg)\]|Sanitizer|runtime error:/;

// A free port below the kernel's ephemeral range: one inside it may be
// taken by any outgoing connection between this check and nginx's bind().
const EPHEMERAL_LOW = (() => {
    try {
        const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]);
        return low > 12000 ? low : 32768;
    } catch {
        return 32768;
    }
})();

function tryPort(port) {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", () => resolve(false));
        srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
}

export async function freePort() {
    for (let i = 0; i < 200; i++) {
        const port = 10000 + Math.floor(Math.random() * (EPHEMERAL_LOW - 10000));
        if (await tryPort(port)) {
            return port;
        }
    }
    throw new Error("no free port below " + EPHEMERAL_LOW);
}

function waitForPort(port, ms) {
    const deadline = Date.now() + ms;
    return new Promise((resolve, reject) => {
        const attempt = () => {
            const s = net.connect(port, "127.0.0.1");
            s.once("connect", () => { s.destroy(); resolve(); });
            s.once("error", () => {
                s.destroy();
                if (Date.now() > deadline) {
                    reject(new Error(`nginx did not listen on ${port} within ${ms} ms`));
                } else {
                    setTimeout(attempt, 50);
                }
            });
        };
        attempt();
    });
}

export function config({ prefix, port, workers = Number(process.env.SIGNALLER_TEST_WORKERS) || 4,
                         reuseport = true, extraMain = "", extraServer = "", extraHttp = "" }) {
    const loc = (name, directives = "") =>
        `        location ${name} { signaller on; ${directives} }\n`;
    return `load_module ${path.join(prefix, path.basename(MODULE))};
worker_processes ${workers};
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
${extraMain}
events {
    worker_connections 1024;
}

http {
    types {
        text/html              html;
        text/css               css;
        application/javascript js mjs;
        image/png              png;
    }
    default_type application/octet-stream;

    log_format pid '$remote_addr pid=$pid "$request" $status $request_time';
    access_log ${prefix}/access.log pid;

    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path       ${prefix}/tmp/proxy;
    fastcgi_temp_path     ${prefix}/tmp/fastcgi;
    uwsgi_temp_path       ${prefix}/tmp/uwsgi;
    scgi_temp_path        ${prefix}/tmp/scgi;
${extraHttp}
    server {
        listen 127.0.0.1:${port}${reuseport ? " reuseport" : ""};
        server_name localhost;

        location / {
            root ${path.join(REPO, "demo")};
        }
        location = /signaller.js {
            root ${REPO};
        }
        location = /signaller.mjs {
            root ${REPO};
        }
${loc("/listen/")}${loc("/connect/")}${loc("/signal/")}\
${loc("/lt/", "signaller_listen_timeout 1s;")}\
${loc("/pt/", "signaller_pipe_timeout 1s;")}\
${loc("/mm/", "signaller_max_messages 3;")}\
${loc("/ms/", "signaller_max_message_size 100;")}\
${loc("/r/", "signaller_refusal close;")}\
${extraServer}
    }
}
`;
}

export async function startNginx(opts = {}) {
    if (!existsSync(MODULE)) {
        throw new Error(`${MODULE} is missing: run make first`);
    }
    const prefix = await mkdtemp(path.join(tmpdir(), "signaller-js-"));
    await mkdir(path.join(prefix, "tmp"));
    await mkdir(path.join(prefix, "logs"));
    // nginx maps the module from a copy: a rebuild (cp over build/...so)
    // while a test runs would otherwise crash the workers
    await copyFile(MODULE, path.join(prefix, path.basename(MODULE)));
    const port = opts.port || await freePort();
    const conf = path.join(prefix, "nginx.conf");
    await writeFile(conf, config({ ...opts, prefix, port }));

    const proc = spawn(NGINX, ["-p", prefix + "/", "-e", path.join(prefix, "error.log"), "-c", conf],
                       { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout.on("data", (d) => { output += d; });
    proc.stderr.on("data", (d) => { output += d; });
    const exited = new Promise((resolve) => proc.once("exit", (code, sig) => resolve({ code, sig })));

    const started = await Promise.race([
        waitForPort(port, 10000).then(() => true),
        exited.then(() => false),
    ]);
    if (!started) {
        const log = await readFile(path.join(prefix, "error.log"), "utf8").catch(() => "");
        throw new Error(`nginx failed to start:\n${output}\n${log}`);
    }

    const ngx = {
        prefix,
        port,
        conf,
        proc,
        origin: `http://127.0.0.1:${port}`,
        ws: (p = "") => `ws://127.0.0.1:${port}${p}`,
        http: (p = "") => `http://127.0.0.1:${port}${p}`,
        errorLog: () => readFile(path.join(prefix, "error.log"), "utf8").catch(() => ""),
        async accessLog() {
            const t = await readFile(path.join(prefix, "access.log"), "utf8").catch(() => "");
            return t.split("\n").filter(Boolean);
        },
        /**
         * The pid of the worker that holds a client's connection, from
         * `ss` (a Signaller or a ws WebSocket using `ws`); null if unknown.
         */
        async workerOf(client) {
            const sock = (client.socket || client)._socket;
            if (!sock?.localPort) {
                return null;
            }
            const r = await promisify(execFile)("ss", ["-Htnp", "state", "established",
                `( sport = :${port} and dport = :${sock.localPort} )`]).catch(() => null);
            return r?.stdout.match(/pid=(\d+)/)?.[1] ?? null;
        },
        /** Sends a signal to the master (e.g. "SIGQUIT" for a graceful stop). */
        kill: (sig) => proc.kill(sig),
        exited,
        async stop({ signal = "SIGTERM", keep = !!process.env.SIGNALLER_KEEP } = {}) {
            if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill(signal);
            }
            const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
            await exited;
            clearTimeout(timer);
            const log = await ngx.errorLog();
            const bad = (log + "\n" + output).split("\n").filter((l) => BAD_LOG.test(l));
            if (!keep && !bad.length) {
                await rm(prefix, { recursive: true, force: true });
            }
            if (bad.length) {
                throw new Error(`nginx logged problems (prefix ${prefix}):\n${bad.join("\n")}`);
            }
        },
    };
    return ngx;
}
