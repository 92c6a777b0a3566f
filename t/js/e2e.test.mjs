// End to end: Debian's Chromium, driven by playwright-core, loads the demo
// from nginx (4 workers) in two pages; one listens, one connects, they set up
// an RTCPeerConnection through the module and chat over a DataChannel.
// Screenshots land in t/js/output/. Chromium's flags: chromium.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startNginx } from "./nginx.mjs";
import { handle } from "./helpers.mjs";
import { CHROMIUM, launchChromium } from "./chromium.mjs";

const OUTPUT = path.join(path.dirname(fileURLToPath(import.meta.url)), "output");
const VIEWPORT = { width: 1280, height: 800 };

// /r/ (nginx.mjs) has signaller_refusal close; these add the other two
// refusals the demo can meet: an origin rule that refuses the page's own
// origin (4030), and a zone that lets one listener wait (4029)
const EXTRA = `
        location /rf/ {
            signaller on;
            signaller_refusal close;
            signaller_origin "^https://nowhere\\.example$";
        }
        location /rl/ {
            signaller on;
            signaller_refusal close;
            signaller_zone rl 64k;
            signaller_max_listeners 1;
        }
`;

let ngx, chromium, browser;
const pageErrors = [];

before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    await mkdir(OUTPUT, { recursive: true });
    ngx = await startNginx({ extraServer: EXTRA });
    chromium = await launchChromium();
    browser = chromium.browser;
});

after(async () => {
    await chromium?.close();
    await ngx?.stop();
});

async function open(name, hash = "") {
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: "light" });
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(`${name}: ${e.message}`));
    page.on("console", (m) => {
        // the demo looks for an ICE servers endpoint next to it; here there is
        // none, and Chromium reports the 404 of that fetch on the console
        if (m.type() === "error" && !(/\/ice-servers$/.test(m.location().url) && /404/.test(m.text()))) {
            pageErrors.push(`${name} console: ${m.text()}`);
        }
    });
    await page.goto(`${ngx.origin}/${hash}`);
    await page.waitForFunction(() => typeof window.Signaller === "function");
    return page;
}

const logText = (page) => page.locator("#log").innerText();

async function shoot(page, name) {
    await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
}

/** One call: returns the pids of the workers that served /listen and /connect. */
async function call(t, attempt) {
    const h = handle("e");
    const listener = await open(`listener#${attempt}`);
    const connector = await open(`connector#${attempt}`, `#${h}`);
    try {
        assert.equal(await listener.locator("#server").inputValue(), ngx.ws());
        assert.equal(await connector.locator("#handle").inputValue(), h, "handle taken from the URL hash");

        await listener.fill("#handle", h);
        await listener.click("#listen");
        await listener.locator('#status[data-state="listening"]').waitFor();
        await listener.locator("#log li.ok", { hasText: "waiting for a peer" }).waitFor();

        await connector.click("#connect");
        const failed = connector.locator('#status[data-state="failed"]')
            .waitFor({ timeout: 30000 })
            .then(async () => { throw new Error(`connector failed:\n${await logText(connector)}`); },
                  () => {});
        await Promise.race([
            failed,
            Promise.all([
                listener.locator("#send:enabled").waitFor({ timeout: 30000 }),
                connector.locator("#send:enabled").waitFor({ timeout: 30000 }),
            ]),
        ]);
        assert.equal(await listener.locator("#status").getAttribute("data-state"), "connected");
        assert.equal(await connector.locator("#status").getAttribute("data-state"), "connected");

        const hello = "hello from the listener ☃";
        await listener.fill("#message", hello);
        await listener.press("#message", "Enter");
        await connector.locator("#chat .msg.peer", { hasText: hello }).waitFor({ timeout: 10000 });
        await listener.locator("#chat .msg.me", { hasText: hello }).waitFor();

        const reply = "and hello back from the connector";
        await connector.fill("#message", reply);
        await connector.click("#send");
        await listener.locator("#chat .msg.peer", { hasText: reply }).waitFor({ timeout: 10000 });

        assert.deepEqual(await listener.locator("#chat .msg .text").allInnerTexts(), [hello, reply]);
        assert.deepEqual(await connector.locator("#chat .msg .text").allInnerTexts(), [hello, reply]);

        // both sides closed the signaller with 1000 once the peer connection was up
        for (const page of [listener, connector]) {
            await page.locator("#log li", { hasText: /Signaller closed: 1000 Normal Closure/ })
                .waitFor({ timeout: 10000 });
            assert.doesNotMatch(await logText(page), /Signaller closed: (?!1000)/);
        }
        assert.match(await logText(listener), /A peer connected: received its offer/);
        assert.match(await logText(connector), /Sending the offer/);
        assert.match(await logText(connector), /Received the answer/);
    } finally {
        await shoot(listener, "e2e-listener");
        await shoot(connector, "e2e-connector");
        await listener.context().close();
        await connector.context().close();
    }

    // the access log line of a WebSocket is written when it ends
    let lines = [];
    for (let i = 0; i < 20; i++) {
        lines = (await ngx.accessLog()).filter((l) => l.includes(`/${h} `));
        if (lines.length >= 2) {
            break;
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(`attempt ${attempt}: ${lines.join(" | ")}`);
    const pid = (mode) => lines.find((l) => l.includes(`/${mode}/${h} `) && /" 101\b/.test(l))
        ?.match(/pid=(\d+)/)?.[1];
    const pids = [pid("listen"), pid("connect")];
    assert.ok(pids[0] && pids[1], `both requests got 101:\n${lines.join("\n")}`);
    return pids;
}

test("two Chromium pages chat over a DataChannel signalled through nginx, across workers",
     { timeout: 180000 }, async (t) => {
    // The kernel picks the worker of each connection (reuseport); call again
    // until the listener and the connector were served by different workers.
    const single = Number(process.env.SIGNALLER_TEST_WORKERS) === 1;
    let crossed = false;
    for (let attempt = 1; attempt <= 8 && !crossed; attempt++) {
        const [lpid, cpid] = await call(t, attempt);
        crossed = lpid !== cpid;
        if (single) {
            break;
        }
    }
    assert.ok(crossed || single, "no call had its listener and connector in different workers");
    assert.deepEqual(pageErrors, []);
});

test("the demo shows the close code and its meaning when Connect finds no listener", async () => {
    const page = await open("failure");
    try {
        await page.fill("#handle", handle("nobody"));
        await page.click("#connect");
        await page.locator('#status[data-state="failed"]').waitFor({ timeout: 10000 });
        const text = await logText(page);
        assert.match(text, /Signaller closed: 1006 Abnormal Closure: nobody is listening on this handle, or the server refused/);
        assert.equal(await page.locator("#log li.error").count(), 1, "reported once");
        assert.equal(await page.locator("#connect").isEnabled(), true, "the user can try again");
        assert.doesNotMatch(text, /ICE servers/, "no ICE servers endpoint here, and the demo says nothing of it");
        assert.equal(await page.locator("#ice").inputValue(), "");
    } finally {
        await shoot(page, "e2e-failure");
    }
});

/**
 * Points the demo at a location with signaller_refusal close: /r/ (nginx.mjs)
 * by default, or /rf/ or /rl/ (EXTRA).
 */
async function useRefusalClose(page, prefix = "/r/") {
    await page.click("#settings summary");
    await page.fill("#server", ngx.ws(prefix));
}

test("with signaller_refusal close, Connect to a handle nobody listens on shows 4004 No Such Handle", async () => {
    const page = await open("refused-connect");
    try {
        await useRefusalClose(page);
        await page.fill("#handle", handle("nobody"));
        await page.click("#connect");
        await page.locator('#status[data-state="failed"]').waitFor({ timeout: 10000 });
        const line = page.locator("#log li.error");
        assert.equal(await line.count(), 1, await logText(page));
        assert.match(await line.innerText(),
                     /The server refused to connect \(NoSuchHandle\): 4004 No Such Handle: nobody is listening on this handle: press Listen/);
        const text = await logText(page);
        assert.doesNotMatch(text, /1006|Signaller closed|Connected to the listener/);
        assert.equal(await page.locator("#connect").isEnabled(), true, "the user can try again");
        // unlike a refused handshake (an HTTP status), no console error
        assert.deepEqual(pageErrors.filter((e) => e.startsWith("refused-connect")), []);
    } finally {
        await shoot(page, "e2e-refused-connect");
        await page.context().close();
    }
});

test("with signaller_refusal close, Listen on a taken handle shows 4009 Handle Taken; the first keeps waiting", async () => {
    const h = handle("taken");
    const first = await open("first-listener");
    const second = await open("second-listener");
    try {
        for (const page of [first, second]) {
            await useRefusalClose(page);
            await page.fill("#handle", h);
        }
        await first.click("#listen");
        await first.locator("#log li.ok", { hasText: "waiting for a peer" }).waitFor();
        await second.click("#listen");
        await second.locator('#status[data-state="failed"]').waitFor({ timeout: 10000 });
        assert.match(await second.locator("#log li.error").innerText(),
                     /The server refused to listen \(HandleTaken\): 4009 Handle Taken: someone else is already listening on this handle/);
        assert.doesNotMatch(await logText(second), /1006|Listening at/);
        assert.equal(await first.locator("#status").getAttribute("data-state"), "listening");
        assert.doesNotMatch(await logText(first), /Signaller closed/);
    } finally {
        await shoot(second, "e2e-refused-listen");
        await first.context().close();
        await second.context().close();
    }
    assert.deepEqual(pageErrors.filter((e) => /^(first|second)-listener/.test(e)), []);
});

test("with signaller_refusal close, a refused origin shows 4030 Forbidden on Listen and on Connect", async () => {
    const page = await open("forbidden");
    try {
        await useRefusalClose(page, "/rf/");
        await page.fill("#handle", handle("forbidden"));
        const line = page.locator("#log li.error");
        for (const [mode, n] of [["listen", 1], ["connect", 2]]) {
            await page.click(`#${mode}`);
            await line.nth(n - 1).waitFor({ timeout: 10000 });
            assert.equal(await page.locator("#status").getAttribute("data-state"), "failed");
            assert.equal(await line.count(), n, await logText(page));
            assert.match(await line.nth(n - 1).innerText(),
                         new RegExp(`The server refused to ${mode} \\(Forbidden\\): 4030 Forbidden: the server does `
                                    + "not accept WebSockets from this page \\(signaller_origin, or access control\\)$"));
            assert.equal(await page.locator(`#${mode}`).isEnabled(), true, "the user can try again");
        }
        assert.doesNotMatch(await logText(page), /1006|Signaller closed|Listening at|Connected to the listener/);
    } finally {
        await shoot(page, "e2e-forbidden");
        await page.context().close();
    }
    assert.deepEqual(pageErrors.filter((e) => e.startsWith("forbidden")), []);
});

test("with signaller_refusal close and signaller_max_listeners 1, a second Listen shows 4029 Too Many Requests", async () => {
    const first = await open("waiting-listener");
    const second = await open("one-too-many");
    try {
        for (const page of [first, second]) {
            await useRefusalClose(page, "/rl/");
            await page.fill("#handle", handle("many"));
        }
        await first.click("#listen");
        await first.locator("#log li.ok", { hasText: "waiting for a peer" }).waitFor();
        await second.click("#listen");
        await second.locator('#status[data-state="failed"]').waitFor({ timeout: 10000 });
        const line = second.locator("#log li.error");
        assert.equal(await line.count(), 1, await logText(second));
        assert.match(await line.innerText(),
                     /The server refused to listen \(TooManyRequests\): 4029 Too Many Requests: the server has too many waiting listeners: try again later/);
        assert.doesNotMatch(await logText(second), /1006|Signaller closed|Listening at/);
        assert.equal(await second.locator("#listen").isEnabled(), true, "the user can try again");
        assert.equal(await first.locator("#status").getAttribute("data-state"), "listening");
        assert.doesNotMatch(await logText(first), /Signaller closed/);
    } finally {
        await shoot(second, "e2e-too-many");
        await first.context().close();
        await second.context().close();
    }
    assert.deepEqual(pageErrors.filter((e) => /^(waiting-listener|one-too-many)/.test(e)), []);
});

test("the demo refuses an invalid handle before connecting", async () => {
    const page = await open("invalid");
    const before = (await ngx.accessLog()).length;
    await page.fill("#handle", "Not_Valid");
    await page.click("#listen");
    await page.locator("#log li.error", { hasText: "Invalid handle" }).waitFor();
    assert.equal(await page.locator("#handle").getAttribute("class"), "invalid");
    await page.click("#generate");
    assert.ok(await page.evaluate(() => Signaller.isValidHandle(document.getElementById("handle").value)));
    assert.equal((await ngx.accessLog()).length, before);
    await page.click("#settings summary");
    await page.fill("#ice", "[not json");
    await page.click("#listen");
    await page.locator("#log li.error", { hasText: "ICE servers: not valid JSON" }).waitFor();
    await shoot(page, "e2e-settings");
    await page.context().close();
});

test("signaller.mjs loads as a native ES module in the browser", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${ngx.origin}/signaller.js`);
    const got = await page.evaluate(async () => {
        const m = await import("/signaller.mjs");
        return [typeof m.default, m.default.PEER_GONE, m.default.isValidHandle("abc"), typeof window.Signaller];
    });
    assert.deepEqual(got, ["function", 4003, true, "function"]);
    await context.close();
});
