// Small helpers shared by the Node tests.

import { createRequire } from "node:module";
import WebSocket from "ws";

const require = createRequire(import.meta.url);
export const Signaller = require("../../signaller.js");
export { WebSocket };

let counter = 0;

/** A fresh valid handle, unique within this run. */
export function handle(tag = "t") {
    counter++;
    return `${tag}${process.pid.toString(36)}x${counter}${Signaller.randomHandle(6)}`.slice(0, 32);
}

/** A Signaller that uses `ws`. */
export function signaller(server, h, opts = {}) {
    return new Signaller(server, h, { WebSocket, ...opts });
}

/**
 * Records what a signaller reports: `rec.signals`, `rec.closes`, `rec.errors`;
 * `await rec.closed` gives the first close event, `await rec.signal(n)` waits
 * until n signals have arrived.
 */
export function record(s) {
    const rec = { signals: [], closes: [], errors: [], opens: 0 };
    let waiters = [];
    const poke = () => {
        waiters = waiters.filter((w) => !w());
    };
    rec.closed = new Promise((resolve) => {
        s.addEventListener("close", (ev) => {
            rec.closes.push({ code: ev.code, reason: ev.reason });
            resolve({ code: ev.code, reason: ev.reason });
            poke();
        });
    });
    s.addEventListener("signal", (d) => { rec.signals.push(d); poke(); });
    s.addEventListener("error", (e) => { rec.errors.push(e); });
    s.addEventListener("open", () => { rec.opens++; });
    rec.signal = (n, ms = 5000) => new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(
            `timeout waiting for ${n} signals, got ${rec.signals.length}: ${JSON.stringify(rec.signals.map(String))}`)), ms);
        const check = () => {
            if (rec.signals.length >= n) {
                clearTimeout(t);
                resolve(rec.signals.slice(0, n));
                return true;
            }
            return false;
        };
        if (!check()) {
            waiters.push(check);
        }
    });
    return rec;
}

/** Rejects if `p` takes longer than `ms`. */
export function within(p, ms, what = "operation") {
    let t;
    return Promise.race([
        p.finally(() => clearTimeout(t)),
        new Promise((_, reject) => {
            t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
        }),
    ]);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A listener and a connector on `base`, both open and paired. */
export async function pair(base, opts = {}) {
    const h = opts.handle || handle("p");
    const l = signaller(base, h, opts);
    const lr = record(l);
    await l.listen();
    const c = signaller(base, h, opts);
    const cr = record(c);
    await c.connect();
    return { h, l, lr, c, cr };
}

/**
 * A stand-in WebSocket for tests that need no server: it records what is
 * sent and lets the test open, message and close it.
 */
export class FakeWebSocket {
    static instances = [];

    constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.sent = [];
        this.binaryType = "blob";
        this.onopen = this.onmessage = this.onerror = this.onclose = null;
        FakeWebSocket.instances.push(this);
    }

    send(data) {
        if (this.readyState !== 1) {
            throw new Error("FakeWebSocket: send() while not open");
        }
        this.sent.push(data);
    }

    close(code, reason) {
        this.closeCalls = (this.closeCalls || 0) + 1;
        this.closedWith = { code, reason };
        if (this.readyState < 2) {
            this.readyState = 2;
            queueMicrotask(() => this.fireClose(code, reason || ""));
        }
    }

    fireOpen() {
        this.readyState = 1;
        this.onopen && this.onopen({ type: "open" });
    }

    fireMessage(data) {
        this.onmessage && this.onmessage({ type: "message", data });
    }

    fireError(message) {
        this.onerror && this.onerror({ type: "error", message });
    }

    fireClose(code = 1006, reason = "") {
        this.readyState = 3;
        this.onclose && this.onclose({ type: "close", code, reason, wasClean: code !== 1006 });
    }
}
