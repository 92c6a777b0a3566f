// signaller.js against the real ngx_http_signaller_module in Debian's nginx
// (4 workers, so a pair may span two workers). Uses `ws` as the WebSocket.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startNginx } from "./nginx.mjs";
import { Signaller, WebSocket, handle, signaller, record, pair, within, sleep } from "./helpers.mjs";

let ngx;

// /r/ (nginx.mjs) has signaller_refusal close; these add an origin rule,
// with and without it, and a zone of the smallest size nginx accepts (8
// pages: 32k) that a couple of hundred listeners fill
const GOOD_ORIGIN = "https://good.example";
const EXTRA = `
        location /ro/ {
            signaller on;
            signaller_refusal close;
            signaller_origin "^https://good\\.example$";
        }
        location /oh/ {
            signaller on;
            signaller_origin "^https://good\\.example$";
        }
        location /rz/ {
            signaller on;
            signaller_refusal close;
            signaller_zone tiny 32k;
        }
        location /hz/ {
            signaller on;
            signaller_zone tiny;
        }
        location /rm/ {
            signaller on;
            signaller_refusal close;
            signaller_zone few;
            signaller_max_listeners 2;
        }
        location /hm/ {
            signaller on;
            signaller_zone few;
            signaller_max_listeners 2;
        }
        location /rl/ {
            signaller on;
            signaller_message_rate 1r/s burst=2;
        }
        location = /status {
            signaller_status;
        }
`;

before(async () => {
    ngx = await startNginx({ extraServer: EXTRA });
});

after(async () => {
    await ngx?.stop();
});

const REASON = Signaller.REASONS;

function bytes(data) {
    if (typeof data === "string") {
        return data;
    }
    if (data instanceof ArrayBuffer) {
        return [...new Uint8Array(data)];
    }
    return [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

describe("open, pair, relay", () => {
    test("listen() and connect() resolve with the signaller; signals flow both ways", async () => {
        const h = handle();
        const l = signaller(ngx.ws(), h);
        const lr = record(l);
        assert.strictEqual(await l.listen(), l);
        assert.equal(l.url, ngx.ws(`/listen/${h}`));
        const c = signaller(ngx.ws(), h);
        const cr = record(c);
        assert.strictEqual(await c.connect(), c);
        assert.equal(c.url, ngx.ws(`/connect/${h}`));
        c.signal("offer");
        assert.deepEqual(await lr.signal(1), ["offer"]);
        l.signal("answer");
        assert.deepEqual(await cr.signal(1), ["answer"]);
        c.close();
        await Promise.all([lr.closed, cr.closed]);
    });

    test("original API: no promise handling, only onsignal/onclose", async () => {
        const h = handle();
        const l = signaller(ngx.ws(), h);
        const got = [];
        const closed = new Promise((resolve) => { l.onclose = (ev) => resolve(ev.code); });
        l.onsignal = (d) => got.push(d);
        l.listen();
        l.signal("from listener");
        await sleep(100);
        const c = signaller(ngx.ws(), h);
        const cr = record(c);
        c.connect();
        c.signal("from connector");
        assert.deepEqual(await cr.signal(1), ["from listener"]);
        for (let i = 0; i < 50 && !got.length; i++) {
            await sleep(20);
        }
        assert.deepEqual(got, ["from connector"]);
        c.close();
        assert.equal(await closed, 1000);
    });
});

describe("across workers", () => {
    test("a pair whose listener and connector are in different workers relays both ways",
         { skip: Number(process.env.SIGNALLER_TEST_WORKERS) === 1 && "SIGNALLER_TEST_WORKERS=1" }, async (t) => {
        // the kernel spreads connections over the workers (reuseport): pair
        // until the two ends are in different workers
        for (let attempt = 1; attempt <= 20; attempt++) {
            const { l, lr, c, cr } = await pair(ngx.ws(), { binaryType: "arraybuffer" });
            const [lw, cw] = [await ngx.workerOf(l), await ngx.workerOf(c)];
            assert.ok(lw && cw, "ss shows the workers");
            if (lw === cw) {
                c.close();
                await Promise.all([lr.closed, cr.closed]);
                continue;
            }
            t.diagnostic(`attempt ${attempt}: listener in worker ${lw}, connector in ${cw}`);
            for (let i = 0; i < 10; i++) {
                c.signal(`c${i}`);
                l.signal(`l${i}`);
            }
            c.signal(new Uint8Array([1, 2, 3]));
            const lg = await lr.signal(11);
            const cg = await cr.signal(10);
            assert.deepEqual(lg.slice(0, 10), [...Array(10).keys()].map((i) => `c${i}`));
            assert.deepEqual([...new Uint8Array(lg[10])], [1, 2, 3]);
            assert.deepEqual(cg, [...Array(10).keys()].map((i) => `l${i}`));
            l.close(4321);
            assert.deepEqual(await within(cr.closed, 3000, "close"), { code: 4003, reason: "Peer Gone" });
            assert.deepEqual(await lr.closed, { code: 4321, reason: "" });
            return;
        }
        assert.fail("20 pairs all landed in one worker");
    });
});

describe("buffering", () => {
    test("signals before listen() and while connecting are flushed in order, then the buffer is empty", async () => {
        const h = handle();
        const l = signaller(ngx.ws(), h);
        const lr = record(l);
        l.signal("1 before listen");
        l.signal("2 before listen");
        const p = l.listen();
        assert.equal(l.socket.readyState, 0);
        l.signal("3 connecting");
        await p;
        assert.deepEqual(l._buffer, []);
        l.signal("4 open");
        // the server holds a waiting listener's messages for the connector
        const c = signaller(ngx.ws(), h);
        const cr = record(c);
        c.signal("a before connect");
        await c.connect();
        assert.deepEqual(c._buffer, []);
        l.signal("5 paired");
        assert.deepEqual(await cr.signal(5),
                         ["1 before listen", "2 before listen", "3 connecting", "4 open", "5 paired"]);
        assert.deepEqual(await lr.signal(1), ["a before connect"]);
        c.close();
        await lr.closed;
    });

    test("flushed signals are not sent again by the next session", async () => {
        const h = handle();
        const l = signaller(ngx.ws(), h);
        const lr = record(l);
        l.signal("first session");
        await l.listen();
        const c1 = signaller(ngx.ws(), h);
        const c1r = record(c1);
        await c1.connect();
        assert.deepEqual(await c1r.signal(1), ["first session"]);
        c1.close();
        assert.equal((await lr.closed).code, 1000);

        const lr2 = record(l);
        await l.listen();
        const c2 = signaller(ngx.ws(), h);
        const c2r = record(c2);
        await c2.connect();
        l.signal("second session");
        assert.deepEqual(await c2r.signal(1), ["second session"]);
        await sleep(100);
        assert.deepEqual(c2r.signals, ["second session"]);
        c2.close();
        await lr2.closed;
    });
});

describe("promises", () => {
    test("connect() to a handle nobody listens on rejects (404)", async () => {
        const c = signaller(ngx.ws(), handle());
        const cr = record(c);
        await assert.rejects(within(c.connect(), 3000, "connect"), (e) => {
            assert.equal(e.code, 1006);
            assert.equal(e.name, "AbnormalClosure");
            assert.match(e.message, /^Signaller: connect \w+ closed: 1006 Abnormal Closure \(Unexpected server response: 404\)$/);
            return true;
        });
        assert.equal(cr.errors.length, 1);
        assert.equal(cr.closes[0].code, 1006);
        assert.throws(() => c.signal("x"), /closed signaller/);
    });

    test("listen() on a handle that has a waiting listener rejects (409); the first keeps working", async () => {
        const h = handle();
        const l1 = signaller(ngx.ws(), h);
        const l1r = record(l1);
        await l1.listen();
        const l2 = signaller(ngx.ws(), h);
        await assert.rejects(l2.listen(), /closed: 1006 .*409/);
        const c = signaller(ngx.ws(), h);
        await c.connect();
        c.signal("still here");
        assert.deepEqual(await l1r.signal(1), ["still here"]);
        c.close();
        await l1r.closed;
    });

    test("a refused handle is checked before connecting: no request is made", async () => {
        const before = (await ngx.accessLog()).length;
        assert.throws(() => signaller(ngx.ws(), "Bad-Handle"), TypeError);
        await sleep(50);
        assert.equal((await ngx.accessLog()).length, before);
    });

    test("listen() twice opens one socket", async () => {
        const h = handle();
        const l = signaller(ngx.ws(), h);
        const lr = record(l);
        const p1 = l.listen();
        const p2 = l.listen();
        assert.strictEqual(p1, p2);
        const ws = l.socket;
        await p1;
        assert.strictEqual(l.listen(), p1);
        assert.strictEqual(l.socket, ws);
        assert.equal(lr.errors.length, 0);
        // exactly one listener is registered: one connector pairs, the next finds none
        const c1 = signaller(ngx.ws(), h);
        await c1.connect();
        const c2 = signaller(ngx.ws(), h);
        await assert.rejects(c2.connect(), /404/);
        c1.close();
        await lr.closed;
        await sleep(100);
        const lines = (await ngx.accessLog()).filter((x) => x.includes(`/listen/${h} `));
        assert.equal(lines.length, 1, lines.join("\n"));
    });
});

describe("refusals with signaller_refusal close: 101, then a close code", () => {
    /** Rejects like a refused listen()/connect() with code, reason and name. */
    async function refused(p, code) {
        const reason = Signaller.REASONS[code];
        await assert.rejects(within(p, 3000, "refusal"), (e) => {
            assert.ok(e instanceof Error);
            assert.equal(e.code, code);
            assert.equal(e.reason, reason);
            assert.equal(e.name, reason.replace(/ /g, ""));
            assert.match(e.message, new RegExp(`^Signaller: (listen|connect) \\w+ closed: ${code} ${reason}$`));
            return true;
        });
    }

    /** A `ws` WebSocket that sends this Origin header (or none). */
    const withOrigin = (origin) => class extends WebSocket {
        constructor(url) {
            super(url, origin ? { origin } : {});
        }
    };

    test(`4004 "No Such Handle": connect() with nobody listening`, async () => {
        const h = handle();
        const c = signaller(ngx.ws("/r/"), h);
        const cr = record(c);
        c.signal("offer");
        await refused(c.connect(), Signaller.NO_SUCH_HANDLE);
        assert.equal(cr.opens, 0, "no open event");
        assert.deepEqual(cr.closes, [{ code: 4004, reason: "No Such Handle" }]);
        assert.throws(() => c.signal("x"), /closed signaller/);
        await sleep(100);
        assert.match((await ngx.accessLog()).join("\n"), new RegExp(`"GET /r/connect/${h} HTTP/1.1" 101`));

        // the buffered offer was kept: once someone listens, a retry delivers it
        const l = signaller(ngx.ws("/r/"), h);
        const lr = record(l);
        await l.listen();
        assert.strictEqual(await c.connect(), c);
        assert.deepEqual(await lr.signal(1), ["offer"]);
        c.close();
        await Promise.all([lr.closed, record(c).closed]);
    });

    test(`4009 "Handle Taken": listen() on a handle with a waiting listener; the first keeps working`, async () => {
        const h = handle();
        const l1 = signaller(ngx.ws("/r/"), h);
        const l1r = record(l1);
        await l1.listen();
        const l2 = signaller(ngx.ws("/r/"), h);
        const l2r = record(l2);
        await refused(l2.listen(), Signaller.HANDLE_TAKEN);
        assert.equal(l2r.opens, 0);
        assert.deepEqual(l2r.closes, [{ code: 4009, reason: "Handle Taken" }]);
        const c = signaller(ngx.ws("/r/"), h);
        await c.connect();
        c.signal("still here");
        assert.deepEqual(await l1r.signal(1), ["still here"]);
        c.close();
        await l1r.closed;
    });

    test(`4030 "Forbidden": signaller_origin refuses the Origin (a wrong one, or none)`, async () => {
        for (const origin of ["https://evil.example", "https://good.example.evil.net", null]) {
            const s = signaller(ngx.ws("/ro/"), handle(), { WebSocket: withOrigin(origin) });
            const sr = record(s);
            await refused(s.listen(), Signaller.FORBIDDEN);
            assert.equal(sr.opens, 0, String(origin));
            const c = signaller(ngx.ws("/ro/"), handle(), { WebSocket: withOrigin(origin) });
            await refused(c.connect(), Signaller.FORBIDDEN);
        }
        // the right origin pairs
        const W = withOrigin(GOOD_ORIGIN);
        const { lr, c, cr } = await pair(ngx.ws("/ro/"), { WebSocket: W });
        c.signal("from a good origin");
        assert.deepEqual(await lr.signal(1), ["from a good origin"]);
        c.close();
        await Promise.all([lr.closed, cr.closed]);
    });

    test(`4029 "Too Many Requests": listeners fill a 32k zone; freed, it admits again`, async (t) => {
        const open = [];
        let refusals = [];
        for (let batch = 0; batch < 20 && !refusals.length; batch++) {
            const ss = Array.from({ length: 50 }, () => signaller(ngx.ws("/rz/"), handle("z")));
            const rs = await Promise.allSettled(ss.map((s) => s.listen()));
            rs.forEach((r, i) => (r.status === "fulfilled" ? open.push(ss[i]) : refusals.push(r.reason)));
        }
        t.diagnostic(`${open.length} listeners filled the zone`);
        const status = await (await fetch(ngx.http("/status"))).text();
        try {
            assert.ok(refusals.length > 0, `no refusal after ${open.length} listeners`);
            for (const e of refusals) {
                assert.deepEqual([e.code, e.reason, e.name], [4029, "Too Many Requests", "TooManyRequests"]);
            }
            assert.match(status, new RegExp(`^tiny waiting ${open.length} workers \\d+ pages \\d+ free \\d+$`, "m"));

            // the default, http: the same full zone refuses with 503, which is 1006 here
            await assert.rejects(signaller(ngx.ws("/hz/"), handle()).listen(),
                                 { code: 1006, name: "AbnormalClosure", message: /503/ });
            await refused(signaller(ngx.ws("/rz/"), handle()).listen(), Signaller.TOO_MANY_REQUESTS);
        } finally {
            await Promise.all(open.map((s) => {
                const closed = record(s).closed;
                s.close();
                return closed;
            }));
        }
        const l = signaller(ngx.ws("/rz/"), handle());
        await l.listen();
        l.close();
        assert.match((await ngx.errorLog()), /signaller zone "tiny" is full/);
    });

    test(`4029 "Too Many Requests": signaller_max_listeners 2 (503, so 1006, without refusal close)`, async () => {
        const l1 = signaller(ngx.ws("/rm/"), handle());
        const l2 = signaller(ngx.ws("/hm/"), handle());
        await l1.listen();
        await l2.listen();
        const l3 = signaller(ngx.ws("/rm/"), handle());
        const l3r = record(l3);
        await refused(l3.listen(), Signaller.TOO_MANY_REQUESTS);
        assert.equal(l3r.opens, 0);
        await assert.rejects(signaller(ngx.ws("/hm/"), handle()).listen(),
                             { code: 1006, name: "AbnormalClosure", message: /503/ });
        // a connector is not a listener: it pairs
        const c = signaller(ngx.ws("/rm/"), l1.handle);
        const cr = record(c);
        await c.connect();
        c.close();
        await cr.closed;
        const l4 = signaller(ngx.ws("/rm/"), handle());
        for (let i = 0; i < 20 && await l4.listen().then(() => false, () => true); i++) {
            await sleep(50); // until the paired listener has left the zone
        }
        assert.equal(l4.socket.readyState, 1);
        l2.close();
        l4.close();
    });

    test("a listener and a connector pair and relay as usual", async () => {
        const { l, lr, c, cr } = await pair(ngx.ws("/r/"));
        c.signal("offer");
        assert.deepEqual(await lr.signal(1), ["offer"]);
        l.signal("answer");
        assert.deepEqual(await cr.signal(1), ["answer"]);
        c.close();
        assert.deepEqual(await lr.closed, { code: 1000, reason: "Normal Closure" });
    });

    test("a signal from the peer confirms the socket before the 100 ms", async () => {
        const h = handle();
        const l = signaller(ngx.ws("/r/"), h);
        const lr = record(l);
        l.signal("waiting with an answer");
        await l.listen();
        const c = signaller(ngx.ws("/r/"), h);
        const t0 = Date.now();
        await c.connect();
        const dt = Date.now() - t0;
        assert.ok(dt < 90, `connect() took ${dt} ms`);
        c.close();
        await lr.closed;
    });

    test("malformed handshakes keep their HTTP status", async () => {
        const h = handle();
        // not an upgrade: 400; not GET: 405
        assert.equal((await fetch(ngx.http(`/r/connect/${h}`))).status, 400);
        const post = await fetch(ngx.http(`/r/connect/${h}`), { method: "POST", body: "x" });
        assert.equal(post.status, 405);
        assert.equal(post.headers.get("allow"), "GET");
        // a version other than 13: 426
        const res = await new Promise((resolve, reject) => {
            const req = http.request(ngx.http(`/r/listen/${h}`), {
                headers: {
                    Connection: "Upgrade",
                    Upgrade: "websocket",
                    "Sec-WebSocket-Version": "12",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                },
            });
            req.on("response", resolve);
            req.on("upgrade", () => reject(new Error("upgraded")));
            req.on("error", reject);
            req.end();
        });
        res.resume();
        assert.equal(res.statusCode, 426);
        assert.equal(res.headers["sec-websocket-version"], "13");
    });

    test("without signaller_refusal close (the default), refusals are HTTP statuses: 1006", async () => {
        const h = handle();
        await assert.rejects(signaller(ngx.ws(), h).connect(),
                             { code: 1006, name: "AbnormalClosure", reason: "", message: /404/ });
        const l = signaller(ngx.ws(), h);
        await l.listen();
        await assert.rejects(signaller(ngx.ws(), h).listen(), { code: 1006, name: "AbnormalClosure", message: /409/ });
        l.close();
        await assert.rejects(signaller(ngx.ws("/oh/"), handle(), { WebSocket: withOrigin("https://evil.example") }).listen(),
                             { code: 1006, name: "AbnormalClosure", message: /403/ });
    });
});

describe("close codes from the server", () => {
    test(`1000 "Normal Closure": a peer closes with 1000`, async () => {
        const { lr, c, cr } = await pair(ngx.ws());
        c.close();
        assert.deepEqual(await lr.closed, { code: 1000, reason: "Normal Closure" });
        assert.deepEqual(await cr.closed, { code: 1000, reason: "Normal Closure" });
        assert.equal(Signaller.NORMAL_CLOSURE, 1000);
    });

    for (const code of [1001, 4321]) {
        test(`4003 "Peer Gone": a peer closes with ${code}`, async () => {
            const { l, lr, cr } = await pair(ngx.ws());
            l.close(code);
            assert.deepEqual(await cr.closed, { code: Signaller.PEER_GONE, reason: REASON[4003] });
            assert.deepEqual(await lr.closed, { code, reason: REASON[code] || "" });
        });
    }

    test(`4003 "Peer Gone": a peer's TCP connection drops`, async () => {
        const { c, lr } = await pair(ngx.ws());
        c.socket.terminate();
        assert.deepEqual(await within(lr.closed, 3000, "close"), { code: 4003, reason: "Peer Gone" });
    });

    test(`4000 "Listen Timeout" (signaller_listen_timeout 1s)`, async () => {
        const l = signaller(ngx.ws("/lt/"), handle());
        const lr = record(l);
        // listen() resolves 100 ms after the 101, when the timeout runs
        let t0 = 0;
        l.onopen = () => { t0 = Date.now() - 100; };
        await l.listen();
        const ev = await within(lr.closed, 3000, "listen timeout");
        const dt = Date.now() - t0;
        assert.deepEqual(ev, { code: Signaller.LISTEN_TIMEOUT, reason: "Listen Timeout" });
        assert.ok(dt >= 900 && dt <= 1400, `closed after ${dt} ms`);
        assert.throws(() => l.signal("late"), /closed signaller/);
        // the handle is free again and the same signaller can listen anew
        await l.listen();
        l.close();
    });

    test(`4001 "Pipe Timeout" (signaller_pipe_timeout 1s) to both peers`, async () => {
        const h = handle();
        const l = signaller(ngx.ws("/pt/"), h);
        const lr = record(l);
        await l.listen();
        const c = signaller(ngx.ws("/pt/"), h);
        const cr = record(c);
        const t0 = Date.now(); // the pipe starts when the connector's 101 goes out
        await c.connect();
        const [a, b] = await within(Promise.all([lr.closed, cr.closed]), 3000, "pipe timeout");
        const dt = Date.now() - t0;
        assert.deepEqual(a, { code: Signaller.PIPE_TIMEOUT, reason: "Pipe Timeout" });
        assert.deepEqual(b, { code: 4001, reason: "Pipe Timeout" });
        assert.ok(dt >= 850 && dt <= 1400, `closed after ${dt} ms`);
    });

    test(`4002 "Too Many Messages" (signaller_max_messages 3): counted per peer`, async () => {
        const { l, lr, c, cr } = await pair(ngx.ws("/mm/"));
        l.signal("l1");
        l.signal("l2");
        c.signal("c1");
        c.signal("c2");
        assert.deepEqual(await cr.signal(2), ["l1", "l2"]);
        assert.deepEqual(await lr.signal(2), ["c1", "c2"]);
        await sleep(100);
        assert.equal(lr.closes.length + cr.closes.length, 0, "2+2 messages are within the limit");
        c.signal("c3");
        assert.deepEqual(await lr.signal(3), ["c1", "c2", "c3"], "the 3rd message is delivered");
        assert.deepEqual(await within(lr.closed, 3000, "close"),
                         { code: Signaller.TOO_MANY_MESSAGES, reason: "Too Many Messages" });
        assert.deepEqual(await within(cr.closed, 3000, "close"), { code: 4002, reason: "Too Many Messages" });
    });

    test(`4008 "Rate Limited" (signaller_message_rate 1r/s burst=2) to the sender, 4003 to the other`, async () => {
        const { lr, c, cr } = await pair(ngx.ws("/rl/"));
        for (let i = 0; i < 10; i++) {
            c.signal(`m${i}`);
        }
        assert.deepEqual(await within(cr.closed, 3000, "close"),
                         { code: Signaller.RATE_LIMITED, reason: "Rate Limited" });
        assert.deepEqual(await within(lr.closed, 3000, "close"), { code: 4003, reason: "Peer Gone" });
        assert.ok(lr.signals.length >= 1 && lr.signals.length < 10, `${lr.signals.length} relayed`);
        assert.deepEqual(lr.signals, lr.signals.map((_, i) => `m${i}`));
    });

    test(`1009 "Message Too Big" (signaller_max_message_size 100) to the sender, 4003 to the other`, async () => {
        const { lr, c, cr } = await pair(ngx.ws("/ms/"));
        c.signal("x".repeat(100));
        assert.deepEqual(await lr.signal(1), ["x".repeat(100)]);
        c.signal("y".repeat(101));
        assert.deepEqual(await within(cr.closed, 3000, "close"),
                         { code: Signaller.MESSAGE_TOO_BIG, reason: "Message Too Big" });
        assert.deepEqual(await within(lr.closed, 3000, "close"), { code: 4003, reason: "Peer Gone" });
        assert.equal(lr.signals.length, 1);
    });
});

describe("URL joining", () => {
    for (const [lbase, cbase] of [["/", ""], ["/signal", "/signal/"], ["/signal//", "/signal"]]) {
        test(`listener on "${lbase}", connector on "${cbase}"`, async () => {
            const h = handle();
            const { l, lr, c, cr } = await pair(ngx.ws(lbase), { handle: h });
            assert.equal(l.url, ngx.ws(`${lbase === "/" ? "" : "/signal"}/listen/${h}`));
            c.signal("ok");
            assert.deepEqual(await lr.signal(1), ["ok"]);
            c.close();
            await Promise.all([lr.closed, cr.closed]);
        });
    }

    test("an http:// server URL is turned into ws://", async () => {
        const h = handle();
        const l = signaller(ngx.http("/signal/"), h);
        const lr = record(l);
        await l.listen();
        const c = signaller(ngx.origin, h);
        await c.connect();
        c.signal("via http url");
        assert.deepEqual(await lr.signal(1), ["via http url"]);
        c.close();
        await lr.closed;
        await sleep(100);
        const log = (await ngx.accessLog()).join("\n");
        assert.match(log, new RegExp(`"GET /signal/listen/${h} HTTP/1.1" 101`));
        assert.match(log, new RegExp(`"GET /connect/${h} HTTP/1.1" 101`));
    });
});

describe("binary data", () => {
    const text = "héllo ☃ 👋";
    const sent = () => {
        const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
        return [
            ["string", text],
            ["empty string", ""],
            ["ArrayBuffer", new Uint8Array([0, 1, 2, 255]).buffer],
            ["empty ArrayBuffer", new ArrayBuffer(0)],
            ["Uint8Array view with offset", backing.subarray(2, 5)],
            ["Float64Array", new Float64Array([Math.PI, -0])],
            ["DataView", new DataView(new Uint8Array([7, 8, 9, 10]).buffer, 1, 2)],
            ["Buffer", Buffer.from("buffer bytes")],
        ];
    };

    test("strings, ArrayBuffers and typed arrays arrive unchanged and in order (binaryType arraybuffer)", async () => {
        const { lr, c, cr } = await pair(ngx.ws(), { binaryType: "arraybuffer" });
        const items = sent();
        for (const [, d] of items) {
            c.signal(d);
        }
        const got = await lr.signal(items.length);
        items.forEach(([name, d], i) => {
            if (typeof d === "string") {
                assert.equal(got[i], d, name);
            } else {
                assert.ok(got[i] instanceof ArrayBuffer, `${name} arrives as an ArrayBuffer`);
                assert.deepEqual(bytes(got[i]), bytes(d), name);
            }
        });
        c.close();
        await Promise.all([lr.closed, cr.closed]);
    });

    test("Blob is sent as binary and can be received as a Blob", { skip: typeof Blob === "undefined" }, async () => {
        const { l, lr, c, cr } = await pair(ngx.ws(), { binaryType: "blob" });
        c.signal(new Blob([new Uint8Array([1, 2, 3]), "abc"]));
        c.signal("after the blob");
        const got = await lr.signal(2);
        assert.ok(got[0] instanceof Blob, "received as a Blob");
        assert.deepEqual([...new Uint8Array(await got[0].arrayBuffer())], [1, 2, 3, 97, 98, 99]);
        assert.equal(got[1], "after the blob");
        l.signal(new Uint8Array([42]));
        const [back] = await cr.signal(1);
        assert.deepEqual([...new Uint8Array(await back.arrayBuffer())], [42]);
        c.close();
        await Promise.all([lr.closed, cr.closed]);
    });

    test("a large binary message (60 KiB) within the default 64k limit", async () => {
        const { lr, c, cr } = await pair(ngx.ws(), { binaryType: "arraybuffer" });
        const big = new Uint8Array(60 * 1024).map((_, i) => (i * 31) & 255);
        c.signal(big);
        const [got] = await lr.signal(1);
        assert.equal(got.byteLength, big.length);
        assert.ok(Buffer.from(got).equals(Buffer.from(big)));
        c.close();
        await Promise.all([lr.closed, cr.closed]);
    });
});

describe("1001 \"Going Away\" when nginx shuts down", () => {
    // A pair (likely across workers) and a waiting listener on a nginx of
    // their own; `stop` shuts it down and must reach all three with 1001.
    async function goingAway(t, opts, stop) {
        const own = await startNginx(opts);
        try {
            // four pairs: most likely some across workers and some within one
            const recs = [], where = [];
            for (let i = 0; i < 4; i++) {
                const { l, lr, c, cr } = await pair(own.ws());
                recs.push(["listener", lr], ["connector", cr]);
                where.push(`${await own.workerOf(l)}/${await own.workerOf(c)}`);
            }
            t.diagnostic(`pairs in workers (listener/connector): ${where.join(" ")}`);
            const w = signaller(own.ws(), handle());
            recs.push(["waiting listener", record(w)]);
            await w.listen();
            const t0 = Date.now();
            await stop(own);
            const codes = await within(Promise.all(recs.map(([, r]) => r.closed)), 5000, "going away");
            codes.forEach((ev, i) => {
                const [who] = recs[i];
                const pairNo = Math.floor(i / 2);
                assert.deepEqual(ev, { code: Signaller.GOING_AWAY, reason: "Going Away" },
                                 `${who}${pairNo < 4 ? ` of pair ${pairNo} (workers ${where[pairNo]})` : ""}`);
            });
            await within(own.exited, 5000, "nginx exit");
            return Date.now() - t0;
        } finally {
            await own.stop();
        }
    }

    test("fast shutdown (SIGTERM, nginx -s stop)", async (t) => {
        const dt = await goingAway(t, {}, (own) => own.kill("SIGTERM"));
        assert.ok(dt < 1000, `took ${dt} ms`);
    });

    test("graceful shutdown (SIGQUIT) with worker_shutdown_timeout 1s", async (t) => {
        const dt = await goingAway(t, { extraMain: "worker_shutdown_timeout 1s;\n" },
                                   (own) => own.kill("SIGQUIT"));
        // at the latest when worker_shutdown_timeout cuts the sessions
        assert.ok(dt < 2500, `took ${dt} ms`);
    });

    test("graceful shutdown (SIGQUIT) cut short by a fast one (SIGTERM)", async (t) => {
        await goingAway(t, {}, async (own) => {
            own.kill("SIGQUIT");
            await sleep(500);
            own.kill("SIGTERM");
        });
    });
});
