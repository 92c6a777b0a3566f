// Type definitions for signaller.js 0.1.0 (ngx_http_signaller_module client)
// License: ISC

/** Data a signal can carry: passed to WebSocket#send unchanged. */
type SignallerData = string | ArrayBuffer | ArrayBufferView | Blob;

/** What a WebSocket implementation must look like (browsers' WebSocket, Node 22+'s WebSocket, npm `ws`). */
interface SignallerWebSocketLike {
    readonly readyState: number;
    binaryType: string;
    send(data: any): void;
    close(code?: number, reason?: string): void;
    onopen: ((ev: any) => any) | null;
    onmessage: ((ev: any) => any) | null;
    onerror: ((ev: any) => any) | null;
    onclose: ((ev: any) => any) | null;
}

type SignallerWebSocketConstructor = new (url: string) => SignallerWebSocketLike;

interface SignallerOptions {
    /** WebSocket constructor to use, e.g. `require("ws")`; defaults to `Signaller.WebSocket`, then the global `WebSocket`. */
    WebSocket?: SignallerWebSocketConstructor;
    /** Set on the socket before it opens: the type of binary signals received ("blob", "arraybuffer"; `ws` also has "nodebuffer"). Unset: the implementation's default ("blob" in browsers, Buffer with `ws`). */
    binaryType?: string;
    /**
     * A signed handle token (`signaller_secret`), sent as the `token` query argument of the WebSocket
     * URL (`?token=…`, merged with any query already in the server URL). Either the token itself, or
     * a function called at each listen()/connect() with the role ("listen" or "connect") and the
     * handle, which returns the token or a promise of it (e.g. a fetch from the app's backend, so
     * every attempt gets a fresh one). With a function the socket is created once it resolves:
     * `url` and `socket` stay null meanwhile, signal() buffers, listen()/connect() again return the
     * same promise. If the function throws or rejects, the promise rejects with that error and
     * "error" is emitted with it (no socket, so no "close"). close() while it runs: no socket is
     * created and the promise rejects with code 1000. An empty token (or none) adds no argument.
     * The token is encoded as a form value (URLSearchParams); the module's tokens (digits, ".",
     * base64url) go unchanged.
     */
    token?: string | SignallerTokenFunction;
}

/** Returns the token for `role` on `handle`, or a promise of it. */
type SignallerTokenFunction = (role: "listen" | "connect", handle: string) => string | PromiseLike<string>;

interface SignallerIceServersOptions {
    /** Sent as the `handle` query argument: the endpoint requires it when it has `signaller_secret`. */
    handle?: string;
    /**
     * A listen or connect token for `handle`, sent as the `token` query argument (the endpoint
     * accepts either). A function is called as `token("connect", handle)`: the same function as
     * the `token` option of `new Signaller()` works as it is; wrap it to ask for another role.
     */
    token?: string | SignallerTokenFunction;
}

/** An entry of `iceServers` as the endpoint sends it; assignable to RTCIceServer. */
interface SignallerIceServer {
    urls: string | string[];
    /** TURN REST username, "<expiry>:<id>" */
    username?: string;
    /** base64 HMAC-SHA1 of the username with the TURN secret */
    credential?: string;
}

/** What `Signaller.iceServers()` rejects with when the endpoint answers with a non-2xx status. */
interface SignallerHttpError extends Error {
    /** The HTTP status, e.g. 403 for a refused token, 404 where there is no endpoint. */
    status: number;
}

/** The close event of the underlying WebSocket (a DOM CloseEvent in browsers). */
interface SignallerCloseEvent {
    readonly code: number;
    readonly reason: string;
    readonly wasClean: boolean;
}

/**
 * The error a `listen()`/`connect()` promise rejects with when the socket closes before it is open
 * for good: refused (an HTTP status, or with `signaller_refusal close` a close code such as
 * 4004 No Such Handle) or dropped.
 */
interface SignallerError extends Error {
    /**
     * Close code. Browsers report a handshake refused with an HTTP status (404, 409, 403, 503, ...)
     * as 1006; with `signaller_refusal close` the server answers 101 and closes with 4004, 4009,
     * 4029 or 4030 instead.
     */
    code: number;
    /** The close frame's reason ("" for 1006), e.g. "No Such Handle". */
    reason: string;
    /** The code's reason in `Signaller.REASONS` without spaces, e.g. "NoSuchHandle", "HandleTaken",
     * "Forbidden", "TooManyRequests", "AbnormalClosure"; "Error" for a code not listed there. */
    name: string;
}

interface SignallerEventMap {
    open: Event | any;
    signal: any;
    close: SignallerCloseEvent;
    error: Event | any;
}

declare class Signaller {
    /**
     * @param server base URL: "ws://host", "wss://host/prefix/", "https://host" (http becomes ws),
     *   or, in a browser, a relative one like "/" (resolved against location).
     * @param handle must match Signaller.HANDLE: ^[a-z](?:_?[a-z0-9]){2,31}$
     * @throws TypeError when the handle is invalid.
     */
    constructor(server: string, handle: string, options?: SignallerOptions);

    readonly server: string;
    readonly handle: string;
    readonly options: SignallerOptions;
    /** URL of the current socket (…/listen/<handle> or …/connect/<handle>, with `?token=…` if there is one), null before listen()/connect() (and while a token function runs). */
    readonly url: string | null;
    /** The current WebSocket, null before listen()/connect() (and while a token function runs). */
    readonly socket: SignallerWebSocketLike | null;

    /** Called with the socket's open event once it is open for good, as listen()/connect() resolves. */
    onopen: ((this: Signaller, ev: any) => any) | null;
    /** Called with each incoming signal: a string, or binary as set by `binaryType`. */
    onsignal: ((this: Signaller, data: any) => any) | null;
    onclose: ((this: Signaller, ev: SignallerCloseEvent) => any) | null;
    onerror: ((this: Signaller, ev: any) => any) | null;

    /**
     * Open `<server>/listen/<handle>` and wait for a connector. Resolves with this signaller once the
     * socket is open for good: at its first signal, or when it is still open 100 ms after the
     * handshake (a refusal close comes right behind the 101); `open` is emitted then. Rejects with a
     * SignallerError if it closes first (refused, e.g. 4009 Handle Taken or 4030 Forbidden for a
     * refused token, or dropped), or with the error of a `token` function that fails. Calling it
     * again while the socket is connecting or open returns the same promise; after a close it opens
     * a new socket.
     * @throws Error if this signaller is currently connecting (connect()).
     */
    listen(): Promise<this>;
    /** Open `<server>/connect/<handle>` to a waiting listener (4004 No Such Handle if none); see listen(). */
    connect(): Promise<this>;
    /**
     * Send a signal. Before the socket is open (including before listen()/connect()) signals are
     * buffered and sent in order once it opens; they are kept until it is open for good, so a
     * refused socket leaves them for the next listen()/connect().
     * @throws Error once the signaller is closed (by close() or by the server).
     */
    signal(data: SignallerData): void;
    /** Close with `code` (default 1000 Normal Closure); drops buffered signals. */
    close(code?: number, reason?: string): void;

    /** Listeners get the same argument as the matching on<type> handler. */
    addEventListener<K extends keyof SignallerEventMap>(type: K, listener: (this: Signaller, arg: SignallerEventMap[K]) => any): void;
    removeEventListener<K extends keyof SignallerEventMap>(type: K, listener: (this: Signaller, arg: SignallerEventMap[K]) => any): void;

    /** true if `handle` matches the handle grammar. */
    static isValidHandle(handle: unknown): boolean;
    /** A random valid handle (default 16 characters, about 79 bits), from crypto.getRandomValues. `length`: 3 to 32. */
    static randomHandle(length?: number): string;
    /**
     * Fetches a `signaller_ice_servers` endpoint (GET, `cache: "no-store"`; `url` relative to the
     * page in a browser) and resolves to its `iceServers` array, e.g. TURN REST credentials for
     * `new RTCPeerConnection({ iceServers: await Signaller.iceServers("/ice-servers") })`.
     * `handle` and `token` are added as query arguments when given.
     * Rejects with a SignallerHttpError (`status`) on a non-2xx answer, with fetch's error when
     * the request fails, and with the token function's error if it throws or rejects.
     */
    static iceServers(url: string | URL, options?: SignallerIceServersOptions): Promise<SignallerIceServer[]>;

    /** The handle grammar. */
    static readonly HANDLE: RegExp;
    /** Close code to reason text, e.g. REASONS[4003] === "Peer Gone". */
    static readonly REASONS: { readonly [code: number]: string };
    /** Default WebSocket implementation for new signallers (e.g. `Signaller.WebSocket = require("ws")`). */
    static WebSocket: SignallerWebSocketConstructor | null;

    static readonly NORMAL_CLOSURE: 1000;
    static readonly GOING_AWAY: 1001;
    static readonly PROTOCOL_ERROR: 1002;
    static readonly ABNORMAL_CLOSURE: 1006;
    static readonly INVALID_PAYLOAD: 1007;
    static readonly MESSAGE_TOO_BIG: 1009;
    static readonly INTERNAL_ERROR: 1011;
    static readonly LISTEN_TIMEOUT: 4000;
    static readonly PIPE_TIMEOUT: 4001;
    static readonly TOO_MANY_MESSAGES: 4002;
    static readonly PEER_GONE: 4003;
    /** `/connect` with nobody listening on the handle (`signaller_refusal close`). */
    static readonly NO_SUCH_HANDLE: 4004;
    /** A peer sent messages beyond `signaller_message_rate`; the other peer gets 4003. */
    static readonly RATE_LIMITED: 4008;
    /** `/listen` on a handle someone already listens on (`signaller_refusal close`). */
    static readonly HANDLE_TAKEN: 4009;
    /** The zone is full, or `signaller_max_listeners` listeners wait (`signaller_refusal close`). */
    static readonly TOO_MANY_REQUESTS: 4029;
    /** The origin or access control refused the request (`signaller_refusal close`). */
    static readonly FORBIDDEN: 4030;
}

declare namespace Signaller {
    export {
        SignallerData as Data,
        SignallerOptions as Options,
        SignallerCloseEvent as CloseEvent,
        SignallerError as Error,
        SignallerWebSocketLike as WebSocketLike,
        SignallerTokenFunction as TokenFunction,
        SignallerIceServersOptions as IceServersOptions,
        SignallerHttpError as HttpError,
        SignallerIceServer as IceServer,
    };
}

export = Signaller;
export as namespace Signaller;
