// Debian's Chromium for the browser tests (e2e.test.mjs, turn.test.mjs),
// headless, driven by playwright-core over a pipe, with a fresh profile.
//
// Chromium never gathers loopback candidates; with mDNS hiding off it uses
// the machine's own non-loopback address, which stays on the machine.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/** Launches Chromium with exactly FLAGS; close() also removes the profile. */
export async function launchChromium() {
    const profile = await mkdtemp(path.join(tmpdir(), "signaller-chromium-"));
    try {
        const browser = await chromium.launch({
            executablePath: CHROMIUM,
            // exactly the flags above, a fresh profile, and the pipe playwright talks over
            ignoreDefaultArgs: true,
            args: [...FLAGS, `--user-data-dir=${profile}`, "--remote-debugging-pipe", "about:blank"],
            timeout: 30000,
        });
        return {
            browser,
            async close() {
                await browser.close().catch(() => {});
                await rm(profile, { recursive: true, force: true });
            },
        };
    } catch (e) {
        await rm(profile, { recursive: true, force: true });
        throw e;
    }
}
