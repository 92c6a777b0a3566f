// A real TURN relay: Debian's coturn with a static auth secret (the TURN
// REST API), nginx handing out credentials for it (signaller_ice_servers),
// and two Chromium pages that take their ICE servers from
// Signaller.iceServers(), meet through the signaller, and connect with
// iceTransportPolicy "relay", so the only way through is the relay.
// Credentials made with another secret, or expired, get no relay candidate.
//
// coturn listens on 127.0.0.1 (UDP and TCP) and relays on 127.0.0.1 too:
// Chromium reaches it from its non-loopback address, and the two relayed
// addresses are loopback peers (--allow-loopback-peers).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import dgram from "node:dgram";
import net from "node:net";
import path from "node:path";
import { startNginx, freePort } from "./nginx.mjs";
import { handle, sleep } from "./helpers.mjs";
import { CHROMIUM, launchChromium } from "./chromium.mjs";

export const TURNSERVER = process.env.TURNSERVER || "/usr/bin/turnserver";
const SECRET = randomBytes(18).toString("base64");
const REALM = "signaller.test";

let turn, ngx, chromium;

/** A port free for both UDP and TCP on 127.0.0.1. */
async function freeUdpTcpPort() {
    for (let i = 0; i < 20; i++) {
        const port = await freePort();
        const sock = dgram.createSocket("udp4");
        const ok = await new Promise((resolve) => {
            sock.once("error", () => resolve(false));
            sock.bind(port, "127.0.0.1", () => resolve(true));
        });
        await new Promise((r) => sock.close(r)).catch(() => {});
        if (ok) {
            return port;
        }
    }
    throw new Error("no port free for both UDP and TCP");
}

/**
 * Starts turnserver on a free loopback port; resolves once it accepts TCP
 * connections on it (it opens UDP and TCP listeners together).
 */
async function startTurn() {
    const dir = await mkdtemp(path.join(tmpdir(), "signaller-turn-"));
    const port = await freeUdpTcpPort();
    // relay ports: a random window of 100 in 40000-59999
    const minPort = 40000 + 100 * Math.floor(Math.random() * 200);
    const log = path.join(dir, "turn.log");
    const args = [
        "-n",                                   // no configuration file
        "--listening-ip=127.0.0.1", `--listening-port=${port}`,
        "--relay-ip=127.0.0.1",
        `--min-port=${minPort}`, `--max-port=${minPort + 99}`,
        "--use-auth-secret", `--static-auth-secret=${SECRET}`, `--realm=${REALM}`,
        "--allow-loopback-peers",               // both relayed addresses are 127.0.0.1
        "--no-tls", "--no-dtls", "--no-cli",
        "--no-rfc5780", "--no-stun-backward-compatibility",
        "--fingerprint",
        `--log-file=${log}`, "--simple-log", "--no-stdout-log",
        `--pidfile=${path.join(dir, "turnserver.pid")}`,
        "-v",
    ];
    const proc = spawn(TURNSERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout.on("data", (d) => { output += d; });
    proc.stderr.on("data", (d) => { output += d; });
    const exited = new Promise((resolve) => proc.once("exit", (code, sig) => resolve({ code, sig })));
    // never outlive the test run, even if it dies without after()
    const reap = () => proc.kill("SIGKILL");
    process.once("exit", reap);
    exited.then(() => process.off("exit", reap));
    const t = {
        proc, port, dir, exited,
        log: () => readFile(log, "utf8").catch(() => ""),
        async stop() {
            if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill("SIGTERM");
            }
            const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
            await exited;
            clearTimeout(timer);
            if (!process.env.SIGNALLER_KEEP) {
                await rm(dir, { recursive: true, force: true });
            }
        },
    };
    const deadline = Date.now() + 10000;
    for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
            throw new Error(`turnserver exited at start:\n${output}\n${await t.log()}`);
        }
        const up = await new Promise((resolve) => {
            const s = net.connect(port, "127.0.0.1");
            s.once("connect", () => { s.destroy(); resolve(true); });
            s.once("error", () => { s.destroy(); resolve(false); });
        });
        if (up) {
            return t;
        }
        if (Date.now() > deadline) {
            await t.stop();
            throw new Error(`turnserver did not listen on ${port}:\n${output}\n${await t.log()}`);
        }
        await sleep(50);
    }
}

before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    assert.ok(existsSync(TURNSERVER), `${TURNSERVER} is missing: apt-get install coturn`);
    turn = await startTurn();
    const uri = `turn:127.0.0.1:${turn.port}?transport=udp`;
    // /ice-servers: the demo's relative "ice-servers"; /ice-forged: the same
    // server, credentials made with a secret coturn does not have
    ngx = await startNginx({
        extraServer: `
        location = /ice-servers {
            signaller_ice_servers;
            signaller_turn_secret "${SECRET}";
            signaller_turn_uris "${uri}";
            signaller_turn_ttl 10m;
        }
        location = /ice-forged {
            signaller_ice_servers;
            signaller_turn_secret "not-${SECRET}";
            signaller_turn_uris "${uri}";
        }
`,
    });
    chromium = await launchChromium();
});

after(async () => {
    // each step runs even if an earlier one failed
    const results = await Promise.allSettled([chromium?.close(), turn?.stop()]);
    await ngx?.stop();
    for (const r of results) {
        if (r.status === "rejected") {
            throw r.reason;
        }
    }
});

/** A page of the nginx origin with the global Signaller and a relay-only peer kit. */
async function page(name) {
    const context = await chromium.browser.newContext();
    const p = await context.newPage();
    p.on("pageerror", (e) => { p.errors.push(`${name}: ${e.message}`); });
    p.errors = [];
    await p.goto(`${ngx.origin}/signaller.js`);
    await p.addScriptTag({ url: "/signaller.js" });
    await p.evaluate(() => {
        /* The peer: a relay-only RTCPeerConnection signalled through a
         * Signaller (JSON messages, handled one after the other). */
        window.peer = async ({ role, server, handle, iceServers }) => {
            const sig = new Signaller(server, handle);
            const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
            const me = { pc, sig, candidates: [], errors: [], received: null };
            window.me = me;
            let chain = Promise.resolve();
            const send = (m) => { try { sig.signal(JSON.stringify(m)); } catch (e) { /* closed */ } };
            pc.onicecandidate = (e) => {
                if (e.candidate) {
                    me.candidates.push(e.candidate.candidate);
                    send({ candidate: e.candidate });
                }
            };
            pc.onicecandidateerror = (e) => me.errors.push(`${e.errorCode} ${e.errorText}`);
            sig.onsignal = (data) => {
                const m = JSON.parse(data);
                chain = chain.then(async () => {
                    if (m.description) {
                        await pc.setRemoteDescription(m.description);
                        if (m.description.type === "offer") {
                            await pc.setLocalDescription();
                            send({ description: pc.localDescription });
                        }
                    } else if (m.candidate) {
                        await pc.addIceCandidate(m.candidate);
                    }
                });
            };
            pc.ondatachannel = (e) => {
                e.channel.onmessage = (ev) => { me.received = ev.data; };
            };
            await sig[role]();
            if (role === "connect") {
                const dc = pc.createDataChannel("chat");
                dc.onopen = () => dc.send("hello through the relay");
                await pc.setLocalDescription();
                send({ description: pc.localDescription });
            }
        };

        /* The pair the connection uses: its local and remote candidate types. */
        window.selectedPair = async () => {
            const stats = await window.me.pc.getStats();
            let pair = null;
            stats.forEach((s) => {
                if (s.type === "transport" && s.selectedCandidatePairId) {
                    pair = stats.get(s.selectedCandidatePairId);
                }
            });
            if (!pair) {
                stats.forEach((s) => {
                    if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
                        pair = s;
                    }
                });
            }
            const l = pair && stats.get(pair.localCandidateId);
            const r = pair && stats.get(pair.remoteCandidateId);
            return pair && { local: l.candidateType, remote: r.candidateType, localAddress: l.address,
                             relayProtocol: l.relayProtocol, url: l.url };
        };

        /* Gathers with these servers, relay only; what it got once complete. */
        window.gather = async (iceServers) => {
            const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
            const candidates = [], errors = [];
            pc.onicecandidate = (e) => { if (e.candidate) { candidates.push(e.candidate.candidate); } };
            pc.onicecandidateerror = (e) => errors.push(`${e.errorCode} ${e.errorText}`);
            const done = new Promise((resolve) => {
                pc.onicegatheringstatechange = () => {
                    if (pc.iceGatheringState === "complete") {
                        resolve();
                    }
                };
            });
            pc.createDataChannel("x");
            await pc.setLocalDescription();
            await done;
            pc.close();
            return { state: "complete", candidates, errors };
        };
    });
    return p;
}

/** Waits until coturn's log has a line that includes text. */
async function turnLogged(text, ms = 5000) {
    const deadline = Date.now() + ms;
    while (!(await turn.log()).split("\n").some((l) => l.includes(text))) {
        if (Date.now() > deadline) {
            assert.fail(`coturn did not log ${JSON.stringify(text)}:\n${await turn.log()}`);
        }
        await sleep(100);
    }
}

/** The relay candidates among candidate lines: "... typ relay ...". */
const relays = (candidates) => candidates.filter((c) => / typ relay /.test(c));

test("two Chromium pages connect through coturn with credentials from signaller_ice_servers",
     { timeout: 90000 }, async (t) => {
    const h = handle("turn");
    const listener = await page("listener");
    const connector = await page("connector");
    let lice, cice;
    try {
        const iceOf = (p) => p.evaluate(() => Signaller.iceServers("/ice-servers"));
        [lice, cice] = [await iceOf(listener), await iceOf(connector)];
        for (const ice of [lice, cice]) {
            assert.equal(ice.length, 1);
            assert.deepEqual(ice[0].urls, [`turn:127.0.0.1:${turn.port}?transport=udp`]);
            assert.equal(ice[0].credential,
                         createHmac("sha1", SECRET).update(ice[0].username).digest("base64"));
        }
        const server = ngx.ws();
        await listener.evaluate((o) => window.peer(o), { role: "listen", server, handle: h, iceServers: lice });
        await connector.evaluate((o) => window.peer(o), { role: "connect", server, handle: h, iceServers: cice });

        const connected = (p) => p.waitForFunction(() => {
            const s = window.me.pc.connectionState;
            if (s === "failed") {
                throw new Error(`connection failed; candidates ${JSON.stringify(window.me.candidates)}, `
                                + `errors ${JSON.stringify(window.me.errors)}`);
            }
            return s === "connected";
        }, null, { timeout: 30000, polling: 100 });
        await Promise.all([connected(listener), connected(connector)]);
        await listener.waitForFunction(() => window.me.received !== null, null, { timeout: 10000 });
        assert.equal(await listener.evaluate(() => window.me.received), "hello through the relay");

        for (const p of [listener, connector]) {
            const me = await p.evaluate(() => ({ candidates: window.me.candidates, errors: window.me.errors }));
            assert.ok(relays(me.candidates).length >= 1, JSON.stringify(me));
            assert.deepEqual(me.candidates.filter((c) => !/ typ relay /.test(c)), [], "relay only");
            const pair = await p.evaluate(() => window.selectedPair());
            t.diagnostic(`${JSON.stringify(pair)} ${JSON.stringify(relays(me.candidates))}`);
            assert.ok(pair, "a selected candidate pair");
            assert.equal(pair.local, "relay", JSON.stringify(pair));
            assert.equal(pair.remote, "relay", JSON.stringify(pair));
            assert.equal(pair.localAddress, "127.0.0.1", JSON.stringify(pair));
        }
        assert.deepEqual([...listener.errors, ...connector.errors], []);
    } finally {
        await listener.context().close();
        await connector.context().close();
    }
    // coturn allocated relays for the usernames nginx made
    for (const ice of [lice, cice]) {
        await turnLogged(`user <${ice[0].username}>: incoming packet ALLOCATE processed, success`);
    }
});

test("credentials of another secret, or expired, get no relay candidate", { timeout: 60000 }, async (t) => {
    const p = await page("refused");
    try {
        const uri = `turn:127.0.0.1:${turn.port}?transport=udp`;
        const good = await p.evaluate(() => Signaller.iceServers("/ice-servers"));
        const forged = await p.evaluate(() => Signaller.iceServers("/ice-forged"));
        assert.deepEqual(forged[0].urls, [uri]);
        assert.notEqual(forged[0].credential, createHmac("sha1", SECRET).update(forged[0].username).digest("base64"));
        // right secret, but it expired a minute ago
        const username = `${Math.floor(Date.now() / 1000) - 60}:expired`;
        const expired = [{ urls: [uri], username, credential: createHmac("sha1", SECRET).update(username).digest("base64") }];

        // the control: the good credential gathers a relay candidate the same way
        const ok = await p.evaluate((ice) => window.gather(ice), good);
        assert.ok(relays(ok.candidates).length >= 1, JSON.stringify(ok));

        for (const [what, ice] of [["forged", forged], ["expired", expired]]) {
            const got = await p.evaluate((i) => window.gather(i), ice);
            t.diagnostic(`${what}: ${JSON.stringify(got)}`);
            assert.equal(got.state, "complete");
            assert.deepEqual(relays(got.candidates), [], `${what}: ${JSON.stringify(got)}`);
            // coturn answered the Allocate with 401 Unauthorized
            assert.ok(got.errors.some((e) => e.startsWith("401")), `${what}: ${JSON.stringify(got)}`);
        }
        await turnLogged(`user <${forged[0].username}>: incoming packet message processed, error 401`);
        await turnLogged(`Cannot find credentials of user <${username}>`);
        assert.deepEqual(p.errors, []);
    } finally {
        await p.context().close();
    }
});

test("the demo takes its ICE servers from the endpoint next to it, and renews them at each call",
     { timeout: 60000 }, async () => {
    const h = handle("demo");
    const contexts = [await chromium.browser.newContext(), await chromium.browser.newContext()];
    const [listener, connector] = [await contexts[0].newPage(), await contexts[1].newPage()];
    const errors = [];
    for (const p of [listener, connector]) {
        p.on("pageerror", (e) => errors.push(e.message));
    }
    try {
        await listener.goto(`${ngx.origin}/`);
        await connector.goto(`${ngx.origin}/#${h}`);
        const first = {};
        for (const [name, p] of [["listener", listener], ["connector", connector]]) {
            const line = p.locator("#log li.ok", { hasText: "ICE servers from ice-servers" });
            await line.waitFor({ timeout: 10000 });
            assert.match(await line.innerText(), new RegExp(`turn:127\\.0\\.0\\.1:${turn.port}\\?transport=udp; `
                                                            + "TURN credentials valid until "));
            const ice = JSON.parse(await p.locator("#ice").inputValue());
            assert.equal(ice.length, 1);
            assert.equal(ice[0].credential, createHmac("sha1", SECRET).update(ice[0].username).digest("base64"));
            const expiry = Number(ice[0].username.split(":")[0]);
            assert.ok(Math.abs(expiry - (Date.now() / 1000 + 600)) < 10, ice[0].username);
            assert.equal(await p.locator("#log li").count(), 1, "one line");
            first[name] = ice[0].username;
        }

        await listener.fill("#handle", h);
        await listener.click("#listen");
        await listener.locator("#log li.ok", { hasText: "waiting for a peer" }).waitFor();
        await connector.click("#connect");
        await Promise.all([listener.locator("#send:enabled").waitFor({ timeout: 30000 }),
                           connector.locator("#send:enabled").waitFor({ timeout: 30000 })]);
        await connector.fill("#message", "hi");
        await connector.press("#message", "Enter");
        await listener.locator("#chat .msg.peer", { hasText: "hi" }).waitFor({ timeout: 10000 });
        for (const [name, p] of [["listener", listener], ["connector", connector]]) {
            // a second line: fresh credentials for the call
            assert.equal(await p.locator("#log li", { hasText: /^\S+ ICE servers from ice-servers: turn:/ }).count(), 2,
                         await p.locator("#log").innerText());
            const ice = JSON.parse(await p.locator("#ice").inputValue());
            assert.notEqual(ice[0].username, first[name], "renewed");
        }
        assert.deepEqual(errors, []);
    } finally {
        await contexts[0].close();
        await contexts[1].close();
    }
});
