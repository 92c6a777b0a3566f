/*! signaller.js 0.1.0 | WebRTC signalling client for ngx_http_signaller_module | ISC License */
// One file, no dependencies. Loads as a classic <script> (global `Signaller`),
// from CommonJS (`require`), and as an ES module through signaller.mjs.
(function (root, factory) {
    var Signaller = factory(root);
    if (typeof module == "object" && module.exports) {
        module.exports = Signaller;
    } else {
        root.Signaller = Signaller;
    }
})(typeof globalThis != "undefined" ? globalThis
   : typeof self != "undefined" ? self : this, function (root) {
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

    class Signaller {
        constructor(server, handle, options) {
            if (!Signaller.isValidHandle(handle)) {
                throw new TypeError("Signaller: invalid handle "
                    + JSON.stringify(handle) + ": it must match " + HANDLE);
            }
            this.server = server;
            this.handle = handle;
            this.options = options || {};
            this.url = null;
            this.socket = null;
            this.onopen = this.onsignal = this.onclose = this.onerror = null;
            this._buffer = [];
            this._listeners = {};
            this._closed = false;
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
            (self._listeners[type] || []).slice().forEach(function (g) {
                g.call(self, arg);
            });
        }

        _open(mode) {
            var self = this, ws = self.socket, WS, url, p;

            if (ws && ws.readyState < 2) {
                if (self._mode == mode) {
                    return self._promise;
                }
                throw new Error("Signaller: cannot " + mode + "(): already "
                    + self._mode + "ing; close() first");
            }

            WS = self.options.WebSocket || Signaller.WebSocket || root.WebSocket;
            if (!WS) {
                throw new Error("Signaller: no WebSocket implementation; pass"
                    + " {WebSocket: require(\"ws\")} or set Signaller.WebSocket");
            }

            url = new URL(self.server, root.location && root.location.href);
            url.protocol = url.protocol.replace("http", "ws");
            url.pathname = url.pathname.replace(/\/*$/,
                                                "/" + mode + "/" + self.handle);
            self.url = url.href;
            self._mode = mode;
            self._closed = false;
            ws = self.socket = new WS(self.url);
            if (self.options.binaryType) {
                ws.binaryType = self.options.binaryType;
            }

            /* a closing socket of an earlier session settles its own
             * promise but reports no events into this one */
            function emit(type, arg) {
                if (self.socket == ws) {
                    self._emit(type, arg);
                }
            }

            p = self._promise = new Promise(function (resolve, reject) {
                var error, open;

                /* A refused socket opens (101) and is closed at once: the
                 * server sends its close frame right behind the 101. So the
                 * socket counts as open, the promise resolves and "open" is
                 * emitted, only at its first signal, or if it is still open
                 * 100 ms after the 101 (not closing: a close frame that has
                 * arrived makes readyState 2 before the close event). */
                function ok() {
                    if (ws.readyState == 1 && self._ok !== ws) {
                        self._ok = ws;
                        self._buffer = [];
                        resolve(self);
                        emit("open", open);
                    }
                }

                ws.onopen = function (ev) {
                    open = ev;
                    self._buffer.forEach(function (data) {
                        ws.send(data);
                    });
                    setTimeout(ok, 100);
                };

                ws.onmessage = function (ev) {
                    ok();
                    emit("signal", ev.data);
                };

                ws.onerror = function (ev) {
                    error = ev;
                    emit("error", ev);
                };

                ws.onclose = function (ev) {
                    var c = ev.code, r = REASONS[c],
                        e = new Error("Signaller: " + mode + " " + self.handle
                        + " closed: " + c + " " + (ev.reason || r || "")
                        + (error && error.message ? " (" + error.message + ")"
                                                  : ""));
                    e.code = c;
                    e.reason = ev.reason;
                    /* "NoSuchHandle", "HandleTaken", "AbnormalClosure"... */
                    if (r) {
                        e.name = r.replace(/ /g, "");
                    }
                    reject(e);
                    emit("close", ev);
                };
            });

            /* callers that ignore the promise (the original API) must not get
             * an unhandled rejection; those that await it still see it */
            p.catch(noop);
            return p;
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

    Object.keys(REASONS).forEach(function (code) {
        Signaller[REASONS[code].toUpperCase().replace(/ /g, "_")] = +code;
    });

    return Signaller;
});
