// Signed handle tokens (signaller_secret) and the TURN REST ICE servers
// endpoint (signaller_ice_servers), through signaller.js against the real
// module in nginx. Tokens and TURN credentials are computed here with
// node:crypto, independently of the module.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { startNginx } from "./nginx.mjs";
import { Signaller, handle, signaller, record, within, sleep } from "./helpers.mjs";

const SECRET = "listen-and-connect secret";
const OLD_SECRET = "the secret before the rotation";
const TURN_SECRET = "coturn static-auth-secret";
const TURN = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"];
const STUN = ["stun:127.0.0.1:3478"];

// /t/ and /tr/ want a token (/tr/ refuses with 4030, /t/ with HTTP 403);
// /ice and /ice-signed hand out TURN credentials, without and with a token
const EXTRA = `
        location /t/ {
            signaller on;
            signaller_secret "${SECRET}";
            signaller_secret "${OLD_SECRET}";
        }
        location /tr/ {
            signaller on;
            signaller_refusal close;
            signaller_secret "${SECRET}";
        }
        location = /ice {
            signaller_ice_servers;
            signaller_turn_secret "${TURN_SECRET}";
            signaller_turn_uris ${TURN.map((u) => `"${u}"`).join(" ")};
            signaller_stun_uris ${STUN.map((u) => `"${u}"`).join(" ")};
        }
        location = /ice-turn {
            signaller_ice_servers;
            signaller_turn_secret "${TURN_SECRET}";
            signaller_turn_uris "${TURN[0]}";
            signaller_turn_ttl 10m;
        }
        location = /ice-signed {
            signaller_ice_servers;
            signaller_secret "${SECRET}";
            signaller_turn_secret "${TURN_SECRET}";
            signaller_turn_uris "${TURN[0]}";
            signaller_turn_ttl 600s;
        }
`;

const now = () => Math.floor(Date.now() / 1000);

/** `<expiry>.<base64url HMAC-SHA256(secret, "<role>:<handle>:<expiry>")>` */
function mint(role, h, { ttl = 300, expiry = now() + ttl, secret = SECRET } = {}) {
    const mac = createHmac("sha256", secret).update(`${role}:${h}:${expiry}`).digest("base64url");
    return `${expiry}.${mac}`;
}

/** The TURN REST credential of a username: base64 HMAC-SHA1(turn secret, username). */
const credential = (username, secret = TURN_SECRET) =>
    createHmac("sha1", secret).update(username).digest("base64");

let ngx;

before(async () => {
    ngx = await startNginx({ extraServer: EXTRA });
});

after(async () => {
    await ngx?.stop();
});

/** Waits for an error.log line matching re; returns all matching lines. */
async function logged(re, ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const lines = (await ngx.errorLog()).split("\n").filter((l) => re.test(l));
        if (lines.length || Date.now() > deadline) {
            return lines;
        }
        await sleep(50);
    }
}

/** Our part of an error.log line: after "[info] <pid>#<tid>: *<cid> ", before nginx's ", client: " tail. */
const ours = (line) => line.replace(/^.*?\[info\] [^ ]+ (\*\d+ )?/, "").replace(/, client: .*$/, "");

/** A listener and a connector on base with tokens, paired; a signal each way. */
async function talk(base, lopts, copts) {
    const h = handle("k");
    const l = signaller(base, h, typeof lopts == "function" ? lopts(h) : lopts);
    const lr = record(l);
    await within(l.listen(), 3000, "listen");
    const c = signaller(base, h, typeof copts == "function" ? copts(h) : copts);
    const cr = record(c);
    await within(c.connect(), 3000, "connect");
    c.signal("offer");
    assert.deepEqual(await lr.signal(1), ["offer"]);
    l.signal("answer");
    assert.deepEqual(await cr.signal(1), ["answer"]);
    c.close();
    await lr.closed;
    return { h, l, c };
}

describe("the token option against signaller_secret", () => {
    test("a string token for each role", async () => {
        const { h, l, c } = await talk(ngx.ws("/t/"), (h) => ({ token: mint("listen", h) }),
                                       (h) => ({ token: mint("connect", h) }));
        assert.match(l.url, new RegExp(`/t/listen/${h}\\?token=\\d+\\.[\\w-]{43}$`));
        assert.match(c.url, new RegExp(`/t/connect/${h}\\?token=\\d+\\.[\\w-]{43}$`));
    });

    test("a token signed with either of two secrets (rotation)", async () => {
        await talk(ngx.ws("/t/"), (h) => ({ token: mint("listen", h, { secret: OLD_SECRET }) }),
                   (h) => ({ token: mint("connect", h) }));
    });

    test("a synchronous function, called with (role, handle)", async () => {
        const calls = [];
        const token = (role, h) => { calls.push([role, h]); return mint(role, h); };
        const { h } = await talk(ngx.ws("/t/"), { token }, { token });
        assert.deepEqual(calls, [["listen", h], ["connect", h]]);
    });

    test("an async function (a backend round trip): signals made meanwhile are delivered", async () => {
        const calls = [];
        const token = async (role, h) => {
            calls.push([role, h]);
            await sleep(50);
            return mint(role, h);
        };
        const h = handle("k");
        const l = signaller(ngx.ws("/t/"), h, { token });
        const lr = record(l);
        const pl = l.listen();
        assert.equal(l.socket, null, "no socket before the token");
        await within(pl, 3000, "listen");
        const c = signaller(ngx.ws("/t/"), h, { token });
        c.signal("buffered before connect()");
        const pc = c.connect();
        c.signal("buffered while the token is fetched");
        await within(pc, 3000, "connect");
        assert.deepEqual(await lr.signal(2), ["buffered before connect()", "buffered while the token is fetched"]);
        assert.deepEqual(calls, [["listen", h], ["connect", h]]);
        c.close();
        await lr.closed;
    });

    test("a query already in the server URL is kept next to the token", async () => {
        await talk(ngx.ws("/t/?app=demo&v=1"), (h) => ({ token: mint("listen", h) }),
                   (h) => ({ token: mint("connect", h) }));
        // a line is written when its session ends, in whichever worker
        let lines = [];
        for (let i = 0; i < 20 && lines.length < 2; i++) {
            await sleep(i ? 100 : 0);
            lines = (await ngx.accessLog()).filter((x) => x.includes("?app=demo&v=1&token="));
        }
        assert.equal(lines.length, 2, lines.join("\n"));
    });

    test("a fresh token at each attempt: a retry after a refusal calls the function again", async () => {
        const h = handle("k");
        let n = 0;
        // the first token has expired; the second is good
        const l = signaller(ngx.ws("/tr/"), h, {
            token: (role, hh) => mint(role, hh, { ttl: n++ ? 300 : -10 }),
        });
        await assert.rejects(within(l.listen(), 3000, "listen"), { code: 4030 });
        await within(l.listen(), 3000, "listen again");
        assert.equal(n, 2);
        l.close();
    });
});

describe("refused tokens", () => {
    /** Rejects with 4030 Forbidden (signaller_refusal close). */
    async function forbidden(p) {
        await assert.rejects(within(p, 3000, "refusal"), (e) => {
            assert.equal(e.code, 4030);
            assert.equal(e.name, "Forbidden");
            assert.equal(e.reason, "Forbidden");
            assert.match(e.message, /^Signaller: (listen|connect) \w+ closed: 4030 Forbidden$/);
            return true;
        });
    }

    test("no token: 4030 Forbidden with signaller_refusal close, HTTP 403 without", async () => {
        const h = handle("k");
        const l = signaller(ngx.ws("/tr/"), h);
        const lr = record(l);
        await forbidden(l.listen());
        assert.deepEqual(lr.closes, [{ code: 4030, reason: "Forbidden" }]);
        assert.equal(lr.opens, 0);
        assert.deepEqual(await logged(new RegExp(`token refused for listen "${h}": missing`)).then((x) => x.map(ours)),
                         [`signaller: token refused for listen "${h}": missing`]);

        const l2 = signaller(ngx.ws("/t/"), h);
        await assert.rejects(within(l2.listen(), 3000, "listen"), (e) => {
            assert.equal(e.code, 1006);
            assert.match(e.message, /\(Unexpected server response: 403\)$/);
            return true;
        });
    });

    const cases = [
        ["wrong role", (h) => mint("connect", h), "listen"],
        ["wrong role", (h) => mint("listen", h), "connect"],
        ["expired", (h) => mint("listen", h, { ttl: -1 }), "listen"],
        ["expired", (h) => mint("listen", h, { expiry: now() }), "listen"],
        ["bad signature", (h) => mint("listen", h, { secret: "not the secret" }), "listen"],
        ["bad signature", (h) => mint("listen", h + "x"), "listen"],
        ["malformed", (h) => mint("listen", h).replace(".", ""), "listen"],
        ["malformed", (h) => mint("listen", h).slice(0, -1), "listen"],
    ];
    for (const [reason, make, role] of cases) {
        test(`${role} with a token that is ${reason}: 4030, logged at info without the mac`, async () => {
            const h = handle("k");
            // someone listens, so only the token can refuse a connector
            const l = role === "connect" ? signaller(ngx.ws("/tr/"), h, { token: mint("listen", h) }) : null;
            await l?.listen();
            const tok = make(h);
            const s = signaller(ngx.ws("/tr/"), h, { token: tok });
            try {
                await forbidden(s[role]());
            } finally {
                l?.close();
            }
            const lines = await logged(new RegExp(`token refused for ${role} "${h}"`));
            assert.equal(lines.length, 1, lines.join("\n"));
            assert.equal(ours(lines[0]), `signaller: token refused for ${role} "${h}": ${reason}`);
            const mac = tok.split(".")[1];
            if (mac) {
                assert.ok(!ours(lines[0]).includes(mac), "the mac is not in our message");
            }
        });
    }

    test("a rejecting token function: no request at all, the error is the function's", async () => {
        const h = handle("k");
        const before = (await ngx.accessLog()).length;
        const s = signaller(ngx.ws("/t/"), h, { token: async () => { throw new Error("backend says no"); } });
        const rec = record(s);
        await assert.rejects(s.listen(), { message: "backend says no" });
        assert.equal(rec.errors.length, 1);
        assert.equal(rec.closes.length, 0);
        await sleep(100);
        assert.equal((await ngx.accessLog()).length, before);
    });
});

describe("Signaller.iceServers against signaller_ice_servers", () => {
    /** Checks a TURN entry: urls, "<expiry>:<id>" username, credential. */
    function checkTurn(entry, { urls, ttl, id }) {
        assert.deepEqual(Object.keys(entry).sort(), ["credential", "urls", "username"]);
        assert.deepEqual(entry.urls, urls);
        const m = entry.username.match(/^(\d+):(.+)$/);
        assert.ok(m, entry.username);
        const expiry = Number(m[1]);
        assert.ok(Math.abs(expiry - (now() + ttl)) <= 3, `expiry ${expiry} is now + ${ttl}`);
        if (typeof id == "string") {
            assert.equal(m[2], id);
        } else {
            assert.match(m[2], id);
        }
        assert.equal(entry.credential, credential(entry.username));
        assert.match(entry.credential, /^[A-Za-z0-9+/]{27}=$/);
    }

    test("without signaller_secret: stun and turn, a random id, a 1h credential", async () => {
        const ice = await Signaller.iceServers(ngx.http("/ice"));
        assert.equal(ice.length, 2);
        assert.deepEqual(ice[0], { urls: STUN });
        checkTurn(ice[1], { urls: TURN, ttl: 3600, id: /^[0-9a-f]{16}$/ });
        const again = await Signaller.iceServers(ngx.http("/ice"));
        assert.notEqual(again[1].username.split(":")[1], ice[1].username.split(":")[1], "a new id each time");
    });

    test("the answer: JSON without whitespace, no-store; HEAD too, POST is 405", async () => {
        const r = await fetch(ngx.http("/ice-turn"));
        assert.equal(r.status, 200);
        assert.match(r.headers.get("content-type"), /^application\/json\b/);
        assert.equal(r.headers.get("cache-control"), "no-store");
        const body = await r.text();
        assert.doesNotMatch(body, /\s/);
        const { iceServers } = JSON.parse(body);
        assert.equal(iceServers.length, 1);
        checkTurn(iceServers[0], { urls: [TURN[0]], ttl: 600, id: /^[0-9a-f]{16}$/ });
        assert.equal((await fetch(ngx.http("/ice-turn"), { method: "HEAD" })).status, 200);
        assert.equal((await fetch(ngx.http("/ice-turn"), { method: "POST", body: "x" })).status, 405);
    });

    test("ignores handle and token where there is no signaller_secret", async () => {
        const ice = await Signaller.iceServers(ngx.http("/ice-turn"), { handle: "abc", token: "junk" });
        checkTurn(ice[0], { urls: [TURN[0]], ttl: 600, id: /^[0-9a-f]{16}$/ });
    });

    test("with signaller_secret: a listen or a connect token for the handle; the id is the handle", async () => {
        const h = handle("k");
        for (const role of ["listen", "connect"]) {
            const ice = await Signaller.iceServers(ngx.http("/ice-signed"), { handle: h, token: mint(role, h) });
            assert.equal(ice.length, 1);
            checkTurn(ice[0], { urls: [TURN[0]], ttl: 600, id: h });
        }
    });

    test("with signaller_secret: a token function is called with (\"connect\", handle)", async () => {
        const h = handle("k");
        const calls = [];
        const ice = await Signaller.iceServers(ngx.http("/ice-signed"), {
            handle: h,
            token: async (role, hh) => { calls.push([role, hh]); return mint(role, hh); },
        });
        checkTurn(ice[0], { urls: [TURN[0]], ttl: 600, id: h });
        assert.deepEqual(calls, [["connect", h]]);
    });

    const refusals = [
        ["no handle, no token", () => ({}), "missing", ""],
        ["a handle, no token", (h) => ({ handle: h }), "missing"],
        ["an invalid handle", (h) => ({ handle: "Not-A-Handle", token: mint("listen", h) }), "malformed", ""],
        ["a token for another handle", (h) => ({ handle: h, token: mint("listen", h + "x") }), "bad signature"],
        ["an expired token", (h) => ({ handle: h, token: mint("connect", h, { ttl: -5 }) }), "expired"],
        ["a token of another secret", (h) => ({ handle: h, token: mint("connect", h, { secret: TURN_SECRET }) }),
         "bad signature"],
    ];
    for (const [what, opts, reason, shown] of refusals) {
        test(`with signaller_secret, ${what}: rejects with status 403, logged for role ice`, async () => {
            const h = handle("k");
            const o = opts(h);
            await assert.rejects(Signaller.iceServers(ngx.http("/ice-signed"), o), (e) => {
                assert.ok(e instanceof Error);
                assert.equal(e.status, 403);
                assert.equal(e.message, "Signaller: iceServers(): 403");
                return true;
            });
            // the handle as given; "" when absent or ill-formed (not echoed)
            const shownRe = shown instanceof RegExp ? shown.source : shown ?? h;
            const query = o.handle ? `handle=${o.handle}` : "/ice-signed HTTP";
            const lines = (await logged(new RegExp(`token refused for ice "${shownRe}": ${reason}`)))
                .filter((l) => l.includes(query));
            assert.ok(lines.length >= 1, `no log line for ${what}`);
            assert.match(ours(lines.at(-1)), new RegExp(`^signaller: token refused for ice "${shownRe}": ${reason}$`));
            if (o.token) {
                assert.ok(!ours(lines.at(-1)).includes(o.token.split(".")[1]));
            }
        });
    }

    test("a page without an endpoint: rejects with status 404", async () => {
        await assert.rejects(Signaller.iceServers(ngx.http("/no-ice-servers-here")), { status: 404 });
    });

    test("relative to the page (location), as in a browser", async () => {
        globalThis.location = { href: ngx.http("/demo/index.html") };
        try {
            const ice = await Signaller.iceServers("/ice-turn");
            checkTurn(ice[0], { urls: [TURN[0]], ttl: 600, id: /^[0-9a-f]{16}$/ });
        } finally {
            delete globalThis.location;
        }
    });
});
