// Type-checked by types.test.mjs (tsc --noEmit); never run.
import Signaller = require("../../../signaller");

declare const WS: Signaller.Options["WebSocket"];

async function main(): Promise<void> {
    const s = new Signaller("wss://example.com/signal", Signaller.randomHandle(), { WebSocket: WS, binaryType: "arraybuffer" });
    s.onsignal = (data) => console.log(data);
    s.onclose = (ev) => {
        const code: number = ev.code;
        if (code === Signaller.PEER_GONE) {
            console.log(Signaller.REASONS[code]);
        }
    };
    s.addEventListener("close", (ev) => console.log(ev.reason));
    s.signal("text");
    s.signal(new Uint8Array([1]));
    s.signal(new ArrayBuffer(1));
    s.signal(new Blob([]));
    const same: Signaller = await s.listen();
    same.close(1000, "bye");
    const four: 4000 = Signaller.LISTEN_TIMEOUT;
    const ok: boolean = Signaller.isValidHandle("abc");
    Signaller.WebSocket = WebSocket;
    try {
        await new Signaller("ws://x", "abc").connect();
    } catch (e) {
        const err = e as Signaller.Error;
        console.log(err.code, err.reason, four, ok);
        if (err.code === Signaller.NO_SUCH_HANDLE || err.name === "HandleTaken") {
            const refused: 4004 | 4009 | 4029 | 4030 = err.code === 4004 ? Signaller.NO_SUCH_HANDLE
                : err.code === 4009 ? Signaller.HANDLE_TAKEN
                : err.code === 4029 ? Signaller.TOO_MANY_REQUESTS : Signaller.FORBIDDEN;
            const rate: 4008 = Signaller.RATE_LIMITED;
            console.log(refused, rate, Signaller.REASONS[refused]);
        }
    }
    // @ts-expect-error a number is not a signal
    s.signal(42);
    // @ts-expect-error unknown event
    s.addEventListener("message", () => {});
}
void main;

// signed handle tokens and the ICE servers endpoint
async function tokens(): Promise<void> {
    const h = Signaller.randomHandle();
    const fixed = new Signaller("wss://example.com/", h, { token: "1700000000.abc" });
    await fixed.listen();
    const fresh: Signaller.TokenFunction = async (role, handle) => {
        const r = await fetch(`/token?role=${role}&handle=${handle}`);
        return r.text();
    };
    await new Signaller("wss://example.com/", h, { token: fresh }).connect();
    await new Signaller("wss://example.com/", h, { token: (role) => (role === "listen" ? "a" : "b") }).listen();
    const servers: RTCIceServer[] = await Signaller.iceServers("/ice-servers");
    const pc = new RTCPeerConnection({ iceServers: await Signaller.iceServers(new URL("https://example.com/ice"), { handle: h, token: fresh }) });
    const first: Signaller.IceServer | undefined = (await Signaller.iceServers("/ice", { handle: h, token: "t" }))[0];
    try {
        await Signaller.iceServers("/ice");
    } catch (e) {
        const status: number = (e as Signaller.HttpError).status;
        console.log(status, servers, pc, first);
    }
    // @ts-expect-error a token is a string or a function
    new Signaller("ws://x", "abc", { token: 42 });
    // @ts-expect-error there is no "ice" role
    const bad: Signaller.TokenFunction = (role: "ice") => role;
    void bad;
}
void tokens;
