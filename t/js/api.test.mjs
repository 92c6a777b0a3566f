// signaller.js without a server: API surface, handle grammar, URL joining,
// buffering and state rules, checked against a stand-in WebSocket, and the
// three ways to load the file. The same behaviours are checked against the
// real module in server.test.mjs.

import { test, describe, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { Signaller, FakeWebSocket } from "./helpers.mjs";

const fake = (server, h = "abc", opts = {}) =>
    new Signaller(server, h, { WebSocket: FakeWebSocket, ...opts });
const last = () => FakeWebSocket.instances.at(-1);
const tick = () => new Promise((r) => setImmediate(r));

/* A socket counts as open 100 ms after its open event (or at its first
 * signal): tests that need it open use mock timers and `opened`. */
const WINDOW = 100;
const mockTimers = (t) => t.mock.timers.enable({ apis: ["setTimeout"] });
const opened = (t, ws = last()) => {
    ws.fireOpen();
    t.mock.timers.tick(WINDOW);
};

/** Settles now or never: "pending", or the value / the rejection. */
async function state(p) {
    const pending = {};
    const v = await Promise.race([p.then((x) => ({ x }), (e) => ({ e })), tick().then(() => pending)]);
    return v === pending ? "pending" : v;
}

beforeEach(() => {
    FakeWebSocket.instances.length = 0;
});

describe("close codes", () => {
    const expected = {
        NORMAL_CLOSURE: [1000, "Normal Closure"],
        GOING_AWAY: [1001, "Going Away"],
        PROTOCOL_ERROR: [1002, "Protocol Error"],
        ABNORMAL_CLOSURE: [1006, "Abnormal Closure"],
        INVALID_PAYLOAD: [1007, "Invalid Payload"],
        MESSAGE_TOO_BIG: [1009, "Message Too Big"],
        INTERNAL_ERROR: [1011, "Internal Error"],
        LISTEN_TIMEOUT: [4000, "Listen Timeout"],
        PIPE_TIMEOUT: [4001, "Pipe Timeout"],
        TOO_MANY_MESSAGES: [4002, "Too Many Messages"],
        PEER_GONE: [4003, "Peer Gone"],
        NO_SUCH_HANDLE: [4004, "No Such Handle"],
        RATE_LIMITED: [4008, "Rate Limited"],
        HANDLE_TAKEN: [4009, "Handle Taken"],
        TOO_MANY_REQUESTS: [4029, "Too Many Requests"],
        FORBIDDEN: [4030, "Forbidden"],
    };
    for (const [name, [code, reason]] of Object.entries(expected)) {
        test(`Signaller.${name} === ${code} "${reason}"`, () => {
            assert.equal(Signaller[name], code);
            assert.equal(Signaller.REASONS[code], reason);
        });
    }
    test("REASONS lists exactly these codes", () => {
        assert.deepEqual(Object.keys(Signaller.REASONS).map(Number).sort(),
                         Object.values(expected).map(([c]) => c).sort());
    });
});

describe("handle grammar", () => {
    const valid = ["abc", "a_bc", "a1b", "abc_def_123", "a" + "b".repeat(31), "a_1_2", "z99",
                   "a" + "_b".repeat(31)];
    const invalid = ["", "ab", "a_b", "a_1", "Abc", "1abc", "_abc", "abc_", "a__b", "ab-c", "ab c", "abc\n",
                     "a" + "b".repeat(32), "ähm", "abC", undefined, null, 123, ["abc"]];
    for (const h of valid) {
        test(`accepts ${JSON.stringify(h)}`, () => {
            assert.equal(Signaller.isValidHandle(h), true);
            assert.equal(new Signaller("ws://x", h).handle, h);
        });
    }
    for (const h of invalid) {
        test(`rejects ${JSON.stringify(h) ?? String(h)} before connecting`, () => {
            assert.equal(Signaller.isValidHandle(h), false);
            assert.throws(() => new Signaller("ws://x", h, { WebSocket: FakeWebSocket }), (e) => {
                assert.ok(e instanceof TypeError);
                assert.match(e.message, /^Signaller: invalid handle/);
                assert.match(e.message, /\^\[a-z\]\(\?:_\?\[a-z0-9\]\)\{2,31\}\$/);
                return true;
            });
            assert.equal(FakeWebSocket.instances.length, 0);
        });
    }
    test("Signaller.HANDLE is the server's grammar", () => {
        assert.equal(Signaller.HANDLE.source, "^[a-z](?:_?[a-z0-9]){2,31}$");
    });
});

describe("randomHandle", () => {
    test("gives valid, distinct handles of 16 characters by default", () => {
        const seen = new Set();
        for (let i = 0; i < 2000; i++) {
            const h = Signaller.randomHandle();
            assert.equal(h.length, 16);
            assert.ok(Signaller.isValidHandle(h), h);
            seen.add(h);
        }
        assert.equal(seen.size, 2000);
    });
    test("takes a length from 3 to 32", () => {
        for (const n of [3, 8, 32]) {
            const h = Signaller.randomHandle(n);
            assert.equal(h.length, n);
            assert.ok(Signaller.isValidHandle(h), h);
        }
    });
    test("uses crypto.getRandomValues", (t) => {
        const spy = t.mock.method(globalThis.crypto, "getRandomValues");
        Signaller.randomHandle();
        assert.equal(spy.mock.callCount(), 1);
    });
});

describe("URL joining", () => {
    const cases = [
        ["ws://example.com", "listen", "ws://example.com/listen/abc"],
        ["ws://example.com/", "connect", "ws://example.com/connect/abc"],
        ["wss://example.com/signal", "listen", "wss://example.com/signal/listen/abc"],
        ["wss://example.com/signal/", "connect", "wss://example.com/signal/connect/abc"],
        ["wss://example.com/a/b//", "listen", "wss://example.com/a/b/listen/abc"],
        ["ws://127.0.0.1:8080", "listen", "ws://127.0.0.1:8080/listen/abc"],
        ["http://example.com:8080/", "listen", "ws://example.com:8080/listen/abc"],
        ["https://example.com/signal", "connect", "wss://example.com/signal/connect/abc"],
        ["wss://example.com/signal?token=x", "listen", "wss://example.com/signal/listen/abc?token=x"],
    ];
    for (const [server, mode, url] of cases) {
        test(`${server} + ${mode} -> ${url}`, () => {
            const s = fake(server);
            s[mode]();
            assert.equal(last().url, url);
            assert.equal(s.url, url);
            assert.equal(s.server, server);
        });
    }
    test("a relative server URL resolves against location (browsers)", () => {
        globalThis.location = { href: "https://example.com/app/page.html" };
        try {
            const s = fake("/signal/");
            s.listen();
            assert.equal(last().url, "wss://example.com/signal/listen/abc");
        } finally {
            delete globalThis.location;
        }
    });
});

describe("buffering", () => {
    test("signals before listen() and while connecting are sent in order on open", async (t) => {
        mockTimers(t);
        const s = fake("ws://x");
        const bin = new Uint8Array([1, 2, 3]);
        s.signal("one");
        s.signal(bin);
        const p = s.listen();
        s.signal("three");
        const ws = last();
        assert.deepEqual(ws.sent, []);
        ws.fireOpen();
        assert.deepEqual(ws.sent, ["one", bin, "three"]);
        assert.strictEqual(ws.sent[1], bin, "binary passed through unchanged");
        t.mock.timers.tick(WINDOW);
        assert.equal(await p, s);
        s.signal("four");
        assert.deepEqual(ws.sent, ["one", bin, "three", "four"]);
        assert.deepEqual(s._buffer, [], "buffer emptied after flush");
    });

    test("a new session after the old one closed does not resend flushed signals", async (t) => {
        mockTimers(t);
        const s = fake("ws://x");
        s.signal("old");
        s.listen();
        opened(t);
        last().fireClose(1000, "Normal Closure");
        s.listen();
        last().fireOpen();
        assert.deepEqual(last().sent, []);
    });

    test("signals buffered when the socket fails before opening are kept for a retry", async () => {
        const s = fake("ws://x");
        s.signal("offer");
        const p = s.connect();
        last().fireClose(1006);
        await assert.rejects(p);
        assert.throws(() => s.signal("x"), /closed/);
        s.connect();
        last().fireOpen();
        assert.deepEqual(last().sent, ["offer"]);
    });

    test("close() drops buffered signals", () => {
        const s = fake("ws://x");
        s.signal("a");
        s.close();
        s.listen();
        last().fireOpen();
        assert.deepEqual(last().sent, []);
    });
});

describe("state", () => {
    test("signal() after close() throws a clear Error", () => {
        const s = fake("ws://x");
        s.listen();
        last().fireOpen();
        s.close();
        assert.deepEqual(last().closedWith, { code: 1000, reason: undefined });
        assert.throws(() => s.signal("x"), { name: "Error", message: "Signaller: signal() on a closed signaller (abc)" });
    });

    test("signal() after the server closed throws", () => {
        const s = fake("ws://x");
        s.listen();
        last().fireOpen();
        last().fireClose(4000, "Listen Timeout");
        assert.throws(() => s.signal("x"), /closed signaller/);
    });

    test("signal() after close() before any listen() throws", () => {
        const s = fake("ws://x");
        s.close();
        assert.throws(() => s.signal("x"), /closed signaller/);
    });

    test("close(code, reason) passes them on", () => {
        const s = fake("ws://x");
        s.listen();
        last().fireOpen();
        s.close(4321, "bye");
        assert.deepEqual(last().closedWith, { code: 4321, reason: "bye" });
    });

    test("listen() twice opens one socket and returns the same promise", () => {
        const s = fake("ws://x");
        const p1 = s.listen();
        const p2 = s.listen();
        assert.strictEqual(p1, p2);
        last().fireOpen();
        assert.strictEqual(s.listen(), p1);
        assert.equal(FakeWebSocket.instances.length, 1);
    });

    test("connect() while listening throws instead of leaking the socket", () => {
        const s = fake("ws://x");
        s.listen();
        assert.throws(() => s.connect(), /cannot connect\(\): already listening/);
        assert.equal(FakeWebSocket.instances.length, 1);
    });

    test("listen() after the socket closed opens a new one; the old one no longer reports", async () => {
        const s = fake("ws://x");
        const closes = [];
        s.onclose = (ev) => closes.push(ev.code);
        s.listen();
        const first = last();
        first.fireOpen();
        first.close(1000);
        s.listen();
        assert.equal(FakeWebSocket.instances.length, 2);
        await tick();
        assert.deepEqual(closes, [], "late close of the first socket is not reported");
        last().fireClose(4000, "Listen Timeout");
        assert.deepEqual(closes, [4000]);
    });

    test("the promise of a socket closed while connecting settles even after a new listen()", async () => {
        const s = fake("ws://x");
        const p1 = s.listen();
        s.close();
        const p2 = s.listen();
        assert.notStrictEqual(p1, p2);
        await assert.rejects(p1, { code: 1000 });
        last().fireOpen();
        assert.equal(await p2, s);
    });
});

describe("promises and events", () => {
    test("listen() resolves with the signaller 100 ms after open; onopen and open listeners run then", async (t) => {
        mockTimers(t);
        const s = fake("ws://x");
        const seen = [];
        s.onopen = function (ev) { seen.push(["onopen", this === s, ev.type]); };
        s.addEventListener("open", function () { seen.push(["listener", this === s]); });
        const p = s.listen();
        last().fireOpen();
        t.mock.timers.tick(WINDOW - 1);
        assert.equal(await state(p), "pending");
        assert.deepEqual(seen, []);
        t.mock.timers.tick(1);
        assert.deepEqual(await state(p), { x: s });
        assert.deepEqual(seen, [["onopen", true, "open"], ["listener", true]]);
        t.mock.timers.tick(1000);
        last().fireMessage("x");
        assert.equal(seen.length, 2, "open is emitted once");
    });

    test("the first signal confirms the socket at once: open, then the signal", async (t) => {
        mockTimers(t);
        const s = fake("ws://x");
        const seen = [];
        s.onopen = (ev) => seen.push(ev.type);
        s.onsignal = (d) => seen.push(d);
        const p = s.connect();
        last().fireOpen();
        last().fireMessage("offer");
        last().fireMessage("candidate");
        assert.deepEqual(await state(p), { x: s });
        assert.deepEqual(seen, ["open", "offer", "candidate"]);
        t.mock.timers.tick(WINDOW);
        assert.deepEqual(seen, ["open", "offer", "candidate"]);
    });

    test("connect() rejects with code and reason when closed before opening", async () => {
        const s = fake("ws://x", "abc");
        const p = s.connect();
        last().fireError("Unexpected server response: 404");
        last().fireClose(1006, "");
        await assert.rejects(p, (e) => {
            assert.equal(e.code, 1006);
            assert.equal(e.reason, "");
            assert.match(e.message, /connect abc closed: 1006 Abnormal Closure \(Unexpected server response: 404\)/);
            return true;
        });
    });

    test("an ignored rejected promise is not an unhandled rejection", async () => {
        let unhandled = 0;
        const on = () => unhandled++;
        process.on("unhandledRejection", on);
        try {
            const s = fake("ws://x");
            s.connect();
            last().fireClose(1006);
            await new Promise((r) => setTimeout(r, 20));
            assert.equal(unhandled, 0);
        } finally {
            process.off("unhandledRejection", on);
        }
    });

    test("onsignal gets the data; listeners too; removeEventListener works", () => {
        const s = fake("ws://x");
        const a = [], b = [];
        s.onsignal = (d) => a.push(d);
        const fn = (d) => b.push(d);
        s.addEventListener("signal", fn);
        s.addEventListener("signal", fn); // same listener once, like EventTarget
        s.listen();
        last().fireOpen();
        last().fireMessage("x");
        s.removeEventListener("signal", fn);
        last().fireMessage("y");
        assert.deepEqual(a, ["x", "y"]);
        assert.deepEqual(b, ["x"]);
    });

    test("a signal without any handler is ignored", () => {
        const s = fake("ws://x");
        s.listen();
        last().fireOpen();
        assert.doesNotThrow(() => last().fireMessage("x"));
    });

    test("onclose and onerror get the socket's events", () => {
        const s = fake("ws://x");
        const got = [];
        s.onerror = (e) => got.push(["error", e.message]);
        s.onclose = (e) => got.push(["close", e.code, e.reason]);
        s.listen();
        last().fireOpen();
        last().fireError("boom");
        last().fireClose(4003, "Peer Gone");
        assert.deepEqual(got, [["error", "boom"], ["close", 4003, "Peer Gone"]]);
    });

    test("binaryType option is applied to the socket", () => {
        const s = fake("ws://x", "abc", { binaryType: "arraybuffer" });
        s.listen();
        assert.equal(last().binaryType, "arraybuffer");
    });
});

describe("refusals (signaller_refusal close: 101, then a close frame)", () => {
    const refusals = [
        ["connect", 4004, "No Such Handle", "NoSuchHandle"],
        ["listen", 4009, "Handle Taken", "HandleTaken"],
        ["connect", 4029, "Too Many Requests", "TooManyRequests"],
        ["listen", 4030, "Forbidden", "Forbidden"],
    ];
    for (const [mode, code, reason, name] of refusals) {
        test(`${mode}() rejects with ${code} "${reason}" (name ${name}) when the close follows the open`, async (t) => {
            mockTimers(t);
            const s = fake("ws://x", "abc");
            const events = [];
            s.onopen = () => events.push("open");
            s.onclose = (ev) => events.push(["close", ev.code, ev.reason]);
            s.signal("offer");
            const p = s[mode]();
            const ws = last();
            ws.fireOpen();
            assert.deepEqual(ws.sent, ["offer"], "buffered signals go out with the 101");
            ws.fireClose(code, reason);
            await assert.rejects(p, (e) => {
                assert.ok(e instanceof Error);
                assert.equal(e.code, code);
                assert.equal(e.reason, reason);
                assert.equal(e.name, name);
                assert.equal(e.message, `Signaller: ${mode} abc closed: ${code} ${reason}`);
                assert.equal(String(e), `${name}: Signaller: ${mode} abc closed: ${code} ${reason}`);
                return true;
            });
            assert.deepEqual(events, [["close", code, reason]], "no open event; onclose has the event");
            t.mock.timers.tick(WINDOW);
            assert.deepEqual(events, [["close", code, reason]]);
            // the refused socket's signals are kept for the next attempt
            assert.throws(() => s.signal("x"), /closed signaller/);
            s[mode]();
            opened(t);
            assert.deepEqual(last().sent, ["offer"]);
        });
    }

    test("a close frame that arrived before the window ends (readyState 2) is not an open", async (t) => {
        mockTimers(t);
        const s = fake("ws://x");
        let opens = 0;
        s.onopen = () => opens++;
        const p = s.connect();
        const ws = last();
        ws.fireOpen();
        ws.readyState = 2; // the browser has the close frame; its close event comes later
        t.mock.timers.tick(WINDOW * 10);
        assert.equal(await state(p), "pending");
        ws.fireClose(4004, "No Such Handle");
        await assert.rejects(p, { code: 4004, name: "NoSuchHandle" });
        assert.equal(opens, 0);
    });

    test("a refusal close after the window is only a close event (the promise has resolved)", async (t) => {
        mockTimers(t);
        const s = fake("ws://x");
        const closes = [];
        s.onclose = (ev) => closes.push(ev.code);
        const p = s.listen();
        opened(t);
        assert.deepEqual(await state(p), { x: s });
        last().fireClose(4030, "Forbidden");
        assert.deepEqual(closes, [4030]);
    });

    test("close() before the window ends rejects with its code", async (t) => {
        mockTimers(t);
        const s = fake("ws://x");
        const p = s.listen();
        last().fireOpen();
        s.close();
        t.mock.timers.tick(WINDOW);
        await assert.rejects(p, { code: 1000, name: "NormalClosure" });
    });

    test("the name is the reason without spaces; Error for a code not in REASONS", async () => {
        for (const [code, reason, name] of [[1006, "", "AbnormalClosure"], [4003, "Peer Gone", "PeerGone"],
                                            [4008, "Rate Limited", "RateLimited"], [4321, "", "Error"],
                                            [1005, "", "Error"]]) {
            const s = fake("ws://x");
            const p = s.connect();
            last().fireClose(code, reason);
            await assert.rejects(p, (e) => {
                assert.equal(e.name, name, String(code));
                assert.equal(e.code, code);
                assert.equal(e.reason, reason);
                return true;
            });
        }
    });
});

describe("WebSocket implementation", () => {
    test("Signaller.WebSocket is used when no option is given", () => {
        const saved = Signaller.WebSocket;
        Signaller.WebSocket = FakeWebSocket;
        try {
            new Signaller("ws://x", "abc").listen();
            assert.equal(FakeWebSocket.instances.length, 1);
        } finally {
            Signaller.WebSocket = saved;
        }
    });

    test("a clear error when there is none", () => {
        const saved = globalThis.WebSocket;
        delete globalThis.WebSocket;
        try {
            assert.throws(() => new Signaller("ws://x", "abc").listen(), /no WebSocket implementation/);
        } finally {
            if (saved) {
                globalThis.WebSocket = saved;
            }
        }
    });
});

describe("loading", () => {
    const file = fileURLToPath(new URL("../../signaller.js", import.meta.url));

    test("CommonJS: require() returns the class and sets no global", () => {
        assert.equal(typeof Signaller, "function");
        assert.equal(Signaller.name, "Signaller");
        assert.equal(globalThis.Signaller, undefined);
    });

    test("ES module: signaller.mjs default-exports the same class", async () => {
        const mod = await import("../../signaller.mjs");
        assert.strictEqual(mod.default, Signaller);
    });

    test("package exports: import and require of the package name", async () => {
        const { createRequire } = await import("node:module");
        const req = createRequire(new URL("../../package.json", import.meta.url));
        assert.strictEqual(req("signaller-nginx"), Signaller);
        const mod = await import("signaller-nginx");
        assert.strictEqual(mod.default, Signaller);
    });

    test("classic script: defines a global Signaller", async () => {
        const src = await readFile(file, "utf8");
        const ctx = vm.createContext({ URL, Promise, JSON, Object, Uint8Array });
        vm.runInContext(src, ctx, { filename: "signaller.js" });
        const S = vm.runInContext("Signaller", ctx);
        assert.equal(typeof S, "function");
        assert.equal(S.PEER_GONE, 4003);
        assert.equal(vm.runInContext("typeof module", ctx), "undefined");
    });

    test("classic script run as a module script (browser ESM): defines the global", async () => {
        // A browser evaluates signaller.js in strict mode with `this`
        // undefined and no module/exports when signaller.mjs imports it.
        const src = await readFile(file, "utf8");
        const ctx = vm.createContext({ URL, Promise, JSON, Object, Uint8Array });
        vm.runInContext(`(function () { "use strict"; ${src}\n}).call(undefined)`, ctx);
        assert.equal(typeof vm.runInContext("globalThis.Signaller", ctx), "function");
    });
});

describe("token option", () => {
    const deferred = () => {
        let resolve, reject;
        const promise = new Promise((a, b) => { resolve = a; reject = b; });
        return { promise, resolve, reject };
    };

    test("a string token is the token query argument; the socket opens at once", () => {
        const s = fake("wss://example.com/signal/", "abc", { token: "1700000000.AbC-_9" });
        s.listen();
        assert.equal(last().url, "wss://example.com/signal/listen/abc?token=1700000000.AbC-_9");
        assert.equal(s.url, last().url);
    });

    test("a query already in the server URL is kept; a token there is replaced", () => {
        fake("wss://example.com/signal?app=1&x=y", "abc", { token: "t1" }).connect();
        assert.equal(last().url, "wss://example.com/signal/connect/abc?app=1&x=y&token=t1");
        fake("wss://example.com/?token=old&app=1", "abc", { token: "new" }).connect();
        assert.equal(last().url, "wss://example.com/connect/abc?token=new&app=1");
    });

    test("the token is URL-encoded", () => {
        fake("ws://x", "abc", { token: "a b+c/d=&e" }).listen();
        assert.equal(new URL(last().url).searchParams.get("token"), "a b+c/d=&e");
        assert.equal(new URL(last().url).search, "?token=a+b%2Bc%2Fd%3D%26e");
    });

    test("an empty token adds no argument", () => {
        fake("ws://x", "abc", { token: "" }).listen();
        assert.equal(last().url, "ws://x/listen/abc");
    });

    test("a function is called with (role, handle) at each listen()/connect()", async () => {
        const calls = [];
        const s = fake("ws://x", "abc", { token: (role, h) => { calls.push([role, h]); return role + "-tok"; } });
        const p = s.listen();
        assert.equal(FakeWebSocket.instances.length, 0, "the socket waits for the token");
        assert.equal(s.socket, null);
        await tick();
        assert.equal(last().url, "ws://x/listen/abc?token=listen-tok");
        last().fireClose(1006);
        await assert.rejects(p, { code: 1006 });
        s.connect();
        await tick();
        assert.equal(last().url, "ws://x/connect/abc?token=connect-tok");
        assert.deepEqual(calls, [["listen", "abc"], ["connect", "abc"]]);
    });

    test("an async function: signals buffer, listen() again returns the same promise, connect() throws", async (t) => {
        mockTimers(t);
        const d = deferred();
        let calls = 0;
        const s = fake("ws://x", "abc", { token: () => { calls++; return d.promise; } });
        s.signal("early");
        const p = s.listen();
        s.signal("while the token is fetched");
        assert.strictEqual(s.listen(), p);
        assert.throws(() => s.connect(), /cannot connect\(\): already listening/);
        assert.equal(s.url, null);
        assert.equal(await state(p), "pending");
        d.resolve("fresh");
        await tick();
        assert.equal(calls, 1);
        assert.equal(FakeWebSocket.instances.length, 1);
        assert.equal(s.url, "ws://x/listen/abc?token=fresh");
        opened(t);
        assert.equal(await p, s);
        assert.deepEqual(last().sent, ["early", "while the token is fetched"]);
    });

    test("after a closed session, signals made while the next token is fetched are buffered", async () => {
        const d = deferred();
        const s = fake("ws://x", "abc", { token: () => d.promise });
        const p = s.listen();
        d.resolve("x");
        await tick();
        last().fireClose(1006);
        await assert.rejects(p);
        const old = last();
        let closes = 0;
        s.onclose = () => closes++;
        s.listen();
        assert.equal(s.socket, null, "the old socket is not this session's");
        assert.equal(s.url, null);
        s.signal("again");
        old.fireClose(1006); // a late event of the old socket is not reported
        assert.equal(closes, 0);
        await tick();
        last().fireOpen();
        assert.deepEqual(last().sent, ["again"]);
    });

    test("a rejecting or throwing function rejects with its error and emits it as error; no socket", async () => {
        for (const token of [() => Promise.reject(new Error("no token for you")),
                             () => { throw new Error("no token for you"); }]) {
            const s = fake("ws://x", "abc", { token });
            const errors = [], closes = [];
            s.onerror = (e) => errors.push(e);
            s.onclose = (e) => closes.push(e);
            const p = s.connect();
            await assert.rejects(p, { message: "no token for you" });
            assert.equal(errors.length, 1);
            assert.equal(errors[0].message, "no token for you");
            assert.deepEqual(closes, []);
            assert.equal(FakeWebSocket.instances.length, 0);
            assert.equal(s.socket, null);
            // not stuck: the next attempt calls the function again
            s.options.token = () => "ok";
            s.listen();
            await tick();
            assert.equal(last().url, "ws://x/listen/abc?token=ok");
            FakeWebSocket.instances.length = 0;
        }
    });

    test("close() while the function runs: no socket, the promise rejects with 1000", async () => {
        const d = deferred();
        const s = fake("ws://x", "abc", { token: () => d.promise });
        const errors = [];
        s.onerror = (e) => errors.push(e);
        const p = s.listen();
        s.close();
        assert.throws(() => s.signal("x"), /closed signaller/);
        d.resolve("late");
        await assert.rejects(p, { code: 1000, name: "NormalClosure" });
        await tick();
        assert.equal(FakeWebSocket.instances.length, 0);
        assert.deepEqual(errors, []);
        assert.equal(s.socket, null);
    });

    test("close() then listen() while the first function runs: only the second opens", async () => {
        const d1 = deferred(), d2 = deferred();
        const ds = [d1, d2];
        const s = fake("ws://x", "abc", { token: () => ds.shift().promise });
        const p1 = s.listen();
        s.close();
        const p2 = s.listen();
        assert.notStrictEqual(p1, p2);
        d2.resolve("second");
        await tick();
        d1.resolve("first");
        await assert.rejects(p1, { code: 1000 });
        await tick();
        assert.deepEqual(FakeWebSocket.instances.map((w) => w.url), ["ws://x/listen/abc?token=second"]);
        last().fireOpen();
        last().fireMessage("hi");
        assert.equal(await p2, s);
    });
});

describe("Signaller.iceServers", () => {
    const ICE = [{ urls: ["stun:stun.example.org"] },
                 { urls: ["turn:turn.example.org?transport=udp"], username: "1:abc", credential: "c2VjcmV0" }];
    const answer = (status, body) => async () => new Response(body === undefined ? JSON.stringify({ iceServers: ICE }) : body,
                                                               { status, headers: { "Content-Type": "application/json" } });

    test("GETs the URL with cache: no-store and resolves to iceServers", async (t) => {
        const spy = t.mock.method(globalThis, "fetch", answer(200));
        assert.deepEqual(await Signaller.iceServers("https://example.com/ice-servers"), ICE);
        assert.equal(spy.mock.callCount(), 1);
        const [url, init] = spy.mock.calls[0].arguments;
        assert.equal(String(url), "https://example.com/ice-servers");
        assert.deepEqual(init, { cache: "no-store" });
    });

    test("adds handle and token, keeping the URL's query", async (t) => {
        const spy = t.mock.method(globalThis, "fetch", answer(200));
        await Signaller.iceServers("https://example.com/ice?v=2", { handle: "abc", token: "123.mac" });
        assert.equal(String(spy.mock.calls[0].arguments[0]), "https://example.com/ice?v=2&handle=abc&token=123.mac");
    });

    test("a token function is called with (\"connect\", handle); async ones are awaited", async (t) => {
        const spy = t.mock.method(globalThis, "fetch", answer(200));
        const calls = [];
        await Signaller.iceServers("https://example.com/ice", {
            handle: "abc", token: async (role, h) => { calls.push([role, h]); return "9.tok"; },
        });
        assert.deepEqual(calls, [["connect", "abc"]]);
        assert.equal(String(spy.mock.calls[0].arguments[0]), "https://example.com/ice?handle=abc&token=9.tok");
    });

    test("a relative URL resolves against location (browsers)", async (t) => {
        const spy = t.mock.method(globalThis, "fetch", answer(200));
        globalThis.location = { href: "https://example.com/app/page.html" };
        try {
            await Signaller.iceServers("ice-servers");
        } finally {
            delete globalThis.location;
        }
        assert.equal(String(spy.mock.calls[0].arguments[0]), "https://example.com/app/ice-servers");
    });

    test("a non-2xx answer rejects with its status", async (t) => {
        for (const status of [403, 404, 500]) {
            t.mock.method(globalThis, "fetch", answer(status, "{}"));
            await assert.rejects(Signaller.iceServers("https://example.com/ice"), (e) => {
                assert.ok(e instanceof Error);
                assert.equal(e.status, status);
                assert.equal(e.message, `Signaller: iceServers(): ${status}`);
                return true;
            });
        }
    });

    test("a failed fetch and a failing token function reject with their errors; no fetch without a token", async (t) => {
        t.mock.method(globalThis, "fetch", async () => { throw new TypeError("fetch failed"); });
        await assert.rejects(Signaller.iceServers("https://example.com/ice"), { name: "TypeError", message: "fetch failed" });
        const spy = t.mock.method(globalThis, "fetch", answer(200));
        await assert.rejects(Signaller.iceServers("https://example.com/ice", { token: () => { throw new Error("nope"); } }),
                             { message: "nope" });
        assert.equal(spy.mock.callCount(), 0);
    });
});
