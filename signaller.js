/*! signaller.js 0.1.0 | WebRTC signalling client for ngx_http_signaller_module | ISC License */
// One file, no dependencies. Loads as a classic <script> (global `Signaller`),
// from CommonJS (`require`), and as an ES module through signaller.mjs.
(function (root) {
    "use strict";

    var HANDLE = /^[a-z](?:_?[a-z0-9]){2,31}$/;

    /* Close codes the server sends, plus 1006, which a browser reports when
     * the handshake is refused or the connection drops without a close frame.
     * Each one is also a constant: Signaller.LISTEN_TIMEOUT === 4000.
     * 4004, 4009, 4029 and 4030 are refusals ("signaller_refusal close"):
     * the server sends them right behind its 101. */
    var REASONS = {
        1000: "Normal Closure",
        1001: "Going Away",
        1002: "Protocol Error",
        1006: "Abnormal Closure",
        1007: "Invalid Payload",
        1009: "Message Too Big",
        1011: "Internal Error",
        4000: "Listen Timeout",
        4001: "Pipe Timeout",
        4002: "Too Many Messages",
        4003: "Peer Gone",
        4004: "No Such Handle",
        4008: "Rate Limited",
        4009: "Handle Taken",
        4029: "Too Many Requests",
        4030: "Forbidden"
    };

    function noop() {}

    /* url (relative to the page, in a browser) with the query arguments
     * of q that are set */
    function link(url, q) {
        url = new URL(url, root.location && root.location.href);
        for (var k in q) {
            if (q[k]) {
                url.searchParams.set(k, q[k]);
            }
        }
        return url;
    }

    /* the token: a string, or what a function returns or resolves to; a
     * throw rejects */
    function token(t, role, handle) {
        return new Promise((resolve) => {
            resolve(typeof t == "function" ? t(role, handle) : t);
        });
    }

    class Signaller {
        constructor(server, handle, options) {
            if (!Signaller.isValidHandle(handle)) {
                throw new TypeError("Signaller: invalid handle "
                    + JSON.stringify(handle) + ": it must match " + HANDLE);
            }
            this.server = server;
            this.handle = handle;
            this.options = options || {};
            this.url = this.socket = this.onopen = this.onsignal = this.onclose
                = this.onerror = null;
            this._buffer = [];
            this._listeners = {};
        }

        listen() {
            return this._open("listen");
        }

        connect() {
            return this._open("connect");
        }

        signal(data) {
            var ws = this.socket;
            if (this._closed || ws && ws.readyState > 1) {
                throw new Error("Signaller: signal() on a closed signaller ("
                    + this.handle + ")");
            }
            if (ws && ws.readyState == 1) {
                ws.send(data);
            }
            /* kept until the socket is open for good, for a retry if it is
             * refused (_ok is that socket; undefined, never null, before) */
            if (this._ok !== ws) {
                this._buffer.push(data);
            }
        }

        close(code, reason) {
            var ws = this.socket;
            this._closed = true;
            this._buffer = [];
            this._t = 0;
            if (ws && ws.readyState < 2) {
                ws.close(code || 1000, reason);
            }
        }

        addEventListener(type, fn) {
            var l = this._listeners[type] || (this._listeners[type] = []);
            if (l.indexOf(fn) < 0) {
                l.push(fn);
            }
        }

        removeEventListener(type, fn) {
            var l = this._listeners[type] || [], i = l.indexOf(fn);
            if (i >= 0) {
                l.splice(i, 1);
            }
        }

        _emit(type, arg) {
            var self = this, f = self["on" + type];
            if (f) {
                f.call(self, arg);
            }
            (self._listeners[type] || []).slice().forEach((g) => {
                g.call(self, arg);
            });
        }

        _open(mode) {
            var self = this, o = self.options, t = o.token, ws = self.socket,
                WS, p, resolve, reject, error, open;

            if (self._t || ws && ws.readyState < 2) {
                if (self._mode == mode) {
                    return self._promise;
                }
                throw new Error("Signaller: cannot " + mode + "(): already "
                    + self._mode + "ing; close() first");
            }

            WS = o.WebSocket || Signaller.WebSocket || root.WebSocket;
            if (!WS) {
                throw new Error("Signaller: no WebSocket implementation:"
                    + " set options.WebSocket or Signaller.WebSocket");
            }

            self._mode = mode;
            self._closed = false;
            /* the old socket, closing or closed, is no longer this session's:
             * signal() buffers while a token function runs */
            self.socket = self.url = null;
            /* _t: this session's promise while its token is awaited; close()
             * or a later session clears or replaces it */
            p = self._t = self._promise = new Promise((a, b) => {
                resolve = a;
                reject = b;
            });
            /* callers that ignore the promise (the original API) must not get
             * an unhandled rejection; those that await it still see it */
            p.catch(noop);

            /* a closing socket of an earlier session settles its own
             * promise but reports no events into this one */
            function emit(type, arg) {
                if (self.socket == ws) {
                    self._emit(type, arg);
                }
            }

            function closed(c, reason) {
                var r = REASONS[c],
                    e = new Error("Signaller: " + mode + " " + self.handle
                    + " closed: " + c + " " + (reason || r || "")
                    + (error && error.message ? " (" + error.message + ")"
                                              : ""));
                e.code = c;
                e.reason = reason;
                /* "NoSuchHandle", "HandleTaken", "AbnormalClosure"... */
                if (r) {
                    e.name = r.replace(/ /g, "");
                }
                reject(e);
            }

            /* A refused socket opens (101) and is closed at once: the server
             * sends its close frame right behind the 101. So the socket
             * counts as open, the promise resolves and "open" is emitted,
             * only at its first signal, or if it is still open 100 ms after
             * the 101 (not closing: a close frame that has arrived makes
             * readyState 2 before the close event). */
            function ok() {
                if (ws.readyState == 1 && self._ok !== ws) {
                    self._ok = ws;
                    self._buffer = [];
                    resolve(self);
                    emit("open", open);
                }
            }

            function start(token) {
                var url;
                /* close() while the token function ran: no socket */
                if (self._t != p) {
                    return closed(1000, "");
                }
                self._t = 0;
                url = link(self.server, { token: token });
                url.protocol = url.protocol.replace("http", "ws");
                url.pathname = url.pathname.replace(/\/*$/,
                                                    "/" + mode + "/" + self.handle);
                self.url = url.href;
                ws = self.socket = new WS(self.url);
                if (o.binaryType) {
                    ws.binaryType = o.binaryType;
                }

                ws.onopen = (ev) => {
                    open = ev;
                    self._buffer.forEach((data) => {
                        ws.send(data);
                    });
                    setTimeout(ok, 100);
                };

                ws.onmessage = (ev) => {
                    ok();
                    emit("signal", ev.data);
                };

                ws.onerror = (ev) => {
                    error = ev;
                    emit("error", ev);
                };

                ws.onclose = (ev) => {
                    closed(ev.code, ev.reason);
                    emit("close", ev);
                };
            }

            /* a token function's failure rejects and is emitted as "error";
             * a string token (or none) opens the socket at once */
            if (typeof t == "function") {
                token(t, mode, self.handle).then(start).catch((e) => {
                    if (self._t == p) {
                        self._t = 0;
                        self._emit("error", e);
                    }
                    reject(e);
                });
            } else {
                start(t);
            }
            return p;
        }

        static iceServers(url, options) {
            var o = options || {}, h = o.handle;
            return token(o.token, "connect", h).then((t) => fetch(
                link(url, { handle: h, token: t }), { cache: "no-store" }
            )).then((res) => {
                if (!res.ok) {
                    throw Object.assign(new Error("Signaller: iceServers(): "
                        + res.status), { status: res.status });
                }
                return res.json().then((json) => json.iceServers);
            });
        }

        static isValidHandle(handle) {
            return typeof handle == "string" && HANDLE.test(handle);
        }

        static randomHandle(length) {
            var a = "abcdefghijklmnopqrstuvwxyz234567", h = "", i,
                b = root.crypto.getRandomValues(new Uint8Array(length || 16));

            /* the first character is a letter a-p, the rest base32 */
            for (i = 0; i < b.length; i++) {
                h += a[b[i] & (i ? 31 : 15)];
            }
            return h;
        }
    }

    Signaller.HANDLE = HANDLE;
    Signaller.REASONS = REASONS;
    Signaller.WebSocket = null;

    for (var code in REASONS) {
        Signaller[REASONS[code].toUpperCase().replace(/ /g, "_")] = +code;
    }

    if (typeof module == "object" && module.exports) {
        module.exports = Signaller;
    } else {
        root.Signaller = Signaller;
    }
})(typeof globalThis != "undefined" ? globalThis
   : typeof self != "undefined" ? self : this);
