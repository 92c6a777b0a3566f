// signaller demo: a WebRTC DataChannel chat signalled through
// ngx_http_signaller_module. No third-party code.
//
// Flow: the listener waits on /listen/<handle> and creates nothing until the
// connector arrives. The connector opens /connect/<handle>, creates the
// DataChannel and the offer; the listener answers; both trickle their ICE
// candidates through the signaller and close it with 1000 as soon as the peer
// connection is up.
//
// Where the server has an ICE servers endpoint next to this page
// (signaller_ice_servers at "ice-servers"), the page takes its STUN/TURN
// servers from there, and renews them at each call (TURN REST credentials
// expire). A token (signaller_secret) comes from Settings or ?token= in the
// page's URL, and goes to the signaller and to the endpoint.
"use strict";

(function () {
    var $ = function (id) { return document.getElementById(id); };
    var ui = {
        handle: $("handle"), generate: $("generate"), hint: $("handle-hint"),
        listen: $("listen"), connect: $("connect"), hangup: $("hangup"),
        server: $("server"), ice: $("ice"), token: $("token"), status: $("status"), log: $("log"),
        chat: $("chat"), chatForm: $("chat-form"), message: $("message"), send: $("send")
    };

    /* what each close code means for someone using this page */
    var MEANING = {
        1000: "the other peer finished signalling",
        1001: "the server is shutting down",
        1002: "the server saw a WebSocket protocol error",
        1006: "the server refused the WebSocket or the connection dropped (a browser does not "
            + "tell which)",
        /* a refusal as an HTTP status, which a browser hides: a guess (with
         * "signaller_refusal close" the server sends one of 4004-4030) */
        connect1006: "nobody is listening on this handle, or the server refused the WebSocket "
            + "(a browser hides the HTTP status)",
        listen1006: "someone else is already listening on this handle, or the server refused the "
            + "WebSocket (a browser hides the HTTP status)",
        1007: "a signal was not valid UTF-8",
        1009: "a signal was larger than the server allows (signaller_max_message_size)",
        1011: "the server hit an internal error",
        4000: "nobody connected within the listen timeout (signaller_listen_timeout)",
        4001: "signalling took longer than the pipe timeout (signaller_pipe_timeout)",
        4002: "a peer sent more signals than the server allows (signaller_max_messages)",
        4003: "the other peer left or failed",
        4004: "nobody is listening on this handle: press Listen in the other tab first, or "
            + "check the handle",
        4008: "a peer sent signals faster than the server allows (signaller_message_rate)",
        4009: "someone else is already listening on this handle: press Connect to reach them, "
            + "or pick another handle",
        4029: "the server has too many waiting listeners: try again later",
        4030: "the server does not accept WebSockets from this page (signaller_origin, or "
            + "access control)"
    };

    /* what listen()/connect() rejects with when the server refuses the
     * WebSocket with "signaller_refusal close": error.code and error.name */
    var REFUSALS = [Signaller.NO_SUCH_HANDLE, Signaller.HANDLE_TAKEN, Signaller.TOO_MANY_REQUESTS,
                    Signaller.FORBIDDEN];

    var sig = null, pc = null, dc = null, chain = null, up = false, t0 = 0, sent = 0, received = 0,
        role = null, opened = false, closing = false;

    /* the ICE servers endpoint: iceEndpoint once it has answered (or asked
     * for a token); iceText is what it last put into the ICE servers field,
     * which is renewed at each call while the user leaves it alone */
    var ICE_URL = "ice-servers", iceEndpoint = false, iceText = null;

    function describe(code, reason) {
        var m = !opened && MEANING[role + code] || MEANING[code];
        return code + " " + (reason || Signaller.REASONS[code] || "") + ": "
            + (m || "an unexpected close code");
    }

    function log(text, kind) {
        var li = document.createElement("li"), time = document.createElement("time");
        if (!t0) {
            t0 = performance.now();
        }
        time.textContent = ((performance.now() - t0) / 1000).toFixed(2) + "s";
        li.className = kind || "info";
        li.appendChild(time);
        li.appendChild(document.createTextNode(" " + text));
        ui.log.appendChild(li);
        ui.log.scrollTop = ui.log.scrollHeight;
        return li;
    }

    /* a URL as logged: the token's signature left out */
    function redact(url) {
        return url.replace(/(token=[^&.]*\.)[^&]+/, "$1...");
    }

    function setStatus(state) {
        ui.status.textContent = state;
        ui.status.setAttribute("data-state", state);
        document.title = "(" + state + ") signaller demo";
    }

    function setBusy(busy) {
        ui.listen.disabled = ui.connect.disabled = ui.handle.disabled = ui.generate.disabled = busy;
        ui.hangup.disabled = !busy;
    }

    function setChat(on) {
        ui.message.disabled = ui.send.disabled = !on;
        if (on) {
            ui.message.focus();
        }
    }

    function addChat(who, text) {
        var div = document.createElement("div"), name = document.createElement("span"),
            body = document.createElement("span"), empty = $("chat-empty");
        if (empty) {
            empty.remove();
        }
        div.className = "msg " + who;
        name.className = "who";
        name.textContent = who === "me" ? "you" : who;
        body.className = "text";
        body.textContent = text;
        div.appendChild(name);
        div.appendChild(body);
        ui.chat.appendChild(div);
        ui.chat.scrollTop = ui.chat.scrollHeight;
    }

    function checkHandle() {
        var h = ui.handle.value.trim(), ok = Signaller.isValidHandle(h);
        ui.handle.classList.toggle("invalid", h !== "" && !ok);
        ui.hint.classList.toggle("error", h !== "" && !ok);
        return ok ? h : null;
    }

    function iceServers() {
        var text = ui.ice.value.trim(), v;
        if (!text) {
            return [];
        }
        v = JSON.parse(text);
        return Array.isArray(v) ? v : [v];
    }

    function showIce(servers) {
        iceText = ui.ice.value = "[\n" + servers.map(function (s) {
            return JSON.stringify(s);
        }).join(",\n") + "\n]";
    }

    /* "stun:..., turn:...; TURN credentials valid until 11:32:07" */
    function iceSummary(servers) {
        var urls = [], until = "";
        servers.forEach(function (s) {
            urls = urls.concat(s.urls);
            if (/^\d+:/.test(s.username)) {
                until = "; TURN credentials valid until "
                    + new Date(parseInt(s.username, 10) * 1000).toLocaleTimeString();
            }
        });
        return urls.join(", ") + until;
    }

    /* The servers for a call: the field's (servers), or fresh ones from the
     * endpoint if the field holds what it gave, or nothing. Never rejects. */
    function iceServersFor(h, servers) {
        var text = ui.ice.value.trim();
        if (!iceEndpoint || text && text !== iceText) {
            return Promise.resolve(servers);
        }
        return Signaller.iceServers(ICE_URL, { handle: h, token: ui.token.value.trim() })
            .then(function (fresh) {
                showIce(fresh);
                log("ICE servers from " + ICE_URL + ": " + iceSummary(fresh));
                return fresh;
            }, function (e) {
                log("ICE servers: " + ICE_URL + " answered " + (e.status || e.message)
                    + (e.status === 403 ? " (it wants a token for this handle: Settings)" : "")
                    + "; going on with " + (servers.length ? "the previous ones" : "host candidates only"));
                return servers;
            });
    }

    /* "candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host ..." */
    function candidateText(c) {
        var f = (c.candidate || "").split(" ");
        return f.length > 7 ? f[7] + " " + f[2] + " " + f[4] + ":" + f[5] : "(end of candidates)";
    }

    function send(obj) {
        if (!sig) {
            return;
        }
        try {
            sig.signal(JSON.stringify(obj));
            sent++;
        } catch (e) {
            /* the signaller is closed: late candidates are not needed */
        }
    }

    function teardown() {
        if (dc) {
            dc.onclose = dc.onmessage = dc.onopen = null;
            dc.close();
        }
        if (pc) {
            pc.onconnectionstatechange = pc.onicecandidate = pc.ondatachannel = null;
            pc.close();
        }
        if (sig) {
            sig.onclose = sig.onsignal = null;
            sig.close();
        }
        dc = pc = sig = null;
        setChat(false);
        setBusy(false);
    }

    function fail(text) {
        log(text, "error");
        setStatus("failed");
        teardown();
    }

    function createPeerConnection(servers) {
        pc = new RTCPeerConnection({ iceServers: servers });
        pc.onicecandidate = function (e) {
            if (e.candidate) {
                log("Sending ICE candidate " + candidateText(e.candidate));
                send({ candidate: e.candidate });
            } else {
                log("ICE gathering complete");
            }
        };
        pc.oniceconnectionstatechange = function () {
            log("ICE connection state: " + pc.iceConnectionState);
        };
        pc.onconnectionstatechange = function () {
            var state = pc.connectionState;
            log("Peer connection state: " + state, state === "connected" ? "ok" : "info");
            if (state === "connected" && !up) {
                up = true;
                setStatus("connected");
                if (sig) {
                    log("Peer connection is up after " + sent + " signals sent and " + received
                        + " received: closing the signaller (1000)");
                    closing = true;
                    sig.close(1000);
                }
            } else if (state === "failed") {
                fail("The peer connection failed: no ICE candidate pair worked. Across networks, "
                    + "add STUN/TURN servers in Settings.");
            }
        };
        pc.ondatachannel = function (e) {
            log("Data channel \"" + e.channel.label + "\" announced by the peer");
            setupChannel(e.channel);
        };
    }

    function setupChannel(channel) {
        dc = channel;
        dc.onopen = function () {
            log("Data channel open: chat away", "ok");
            setStatus("connected");
            setChat(true);
        };
        dc.onclose = function () {
            log("Data channel closed: the peer has left");
            setStatus("closed");
            setChat(false);
        };
        dc.onmessage = function (e) {
            addChat("peer", String(e.data));
        };
    }

    function onSignal(data, servers) {
        var msg = JSON.parse(data);
        received++;
        if (msg.description) {
            if (!pc) {
                log("A peer connected: received its " + msg.description.type, "ok");
                setStatus("negotiating");
                createPeerConnection(servers);
            } else {
                log("Received the " + msg.description.type);
            }
            return pc.setRemoteDescription(msg.description).then(function () {
                if (msg.description.type !== "offer") {
                    return;
                }
                return pc.setLocalDescription().then(function () {
                    log("Sending the answer");
                    send({ description: pc.localDescription });
                });
            });
        }
        if (msg.candidate && pc) {
            log("Received ICE candidate " + candidateText(msg.candidate));
            return pc.addIceCandidate(msg.candidate);
        }
    }

    function onSignallerClose(ev) {
        var text = "Signaller closed: " + describe(ev.code, ev.reason);
        if (!opened) {
            return; /* listen()/connect() rejects: start() reports it */
        }
        sig = null;
        if (closing && ev.code === 1000) {
            log("Signaller closed: 1000 Normal Closure: signalling is done");
        } else if (up) {
            log(text);
        } else if (ev.code === 1000) {
            log(text + "; waiting for the peer connection", "info");
        } else {
            fail(text);
        }
    }

    function start(mode) {
        var h = checkHandle(), servers, server = ui.server.value.trim(), s;
        if (!h) {
            log("Invalid handle \"" + ui.handle.value + "\": " + ui.hint.textContent.trim(), "error");
            ui.handle.focus();
            return;
        }
        try {
            servers = iceServers();
        } catch (e) {
            log("ICE servers: not valid JSON (" + e.message + ")", "error");
            return;
        }
        teardown();
        up = opened = closing = false;
        role = mode;
        sent = received = 0;
        /* signals wait for the ICE servers: the listener creates its peer
         * connection at the offer */
        chain = iceServersFor(h, servers).then(function (v) {
            servers = v;
        });
        history.replaceState(null, "", "#" + h);
        setBusy(true);
        setStatus(mode === "listen" ? "listening" : "connecting");

        s = sig = new Signaller(server, h, ui.token.value.trim() ? { token: ui.token.value.trim() } : {});
        sig.onsignal = function (data) {
            chain = chain.then(function () {
                return onSignal(data, servers);
            }).catch(function (e) {
                fail("Could not handle a signal: " + e);
            });
        };
        sig.onclose = onSignallerClose;
        sig[mode]().then(function () {
            opened = true;
            if (mode === "listen") {
                log("Listening at " + redact(sig.url) + ": waiting for a peer to connect to \"" + h
                    + "\" (open " + location.href + " in another tab)", "ok");
                return;
            }
            log("Connected to the listener at " + redact(sig.url), "ok");
            setStatus("negotiating");
            return chain.then(function () {
                if (s !== sig) {
                    return; /* hung up meanwhile */
                }
                createPeerConnection(servers);
                setupChannel(pc.createDataChannel("chat"));
                return pc.setLocalDescription().then(function () {
                    log("Sending the offer");
                    send({ description: pc.localDescription });
                });
            });
        }).catch(function (e) {
            if (!e || e.code === undefined) {
                if (s === sig) {
                    fail("Could not start the call: " + e);
                }
            } else if (s === sig) {
                /* refused or dropped before it was open; not an earlier,
                 * hung-up session's socket */
                fail((REFUSALS.indexOf(e.code) >= 0
                    ? "The server refused to " + mode + " (" + e.name + "): "
                    : "Signaller closed: ") + describe(e.code, e.reason));
            }
        });
        log((mode === "listen" ? "Opening " : "Connecting to ") + redact(sig.url));
    }

    ui.generate.addEventListener("click", function () {
        ui.handle.value = Signaller.randomHandle();
        checkHandle();
    });
    ui.handle.addEventListener("input", checkHandle);
    ui.listen.addEventListener("click", function () { start("listen"); });
    ui.connect.addEventListener("click", function () { start("connect"); });
    ui.hangup.addEventListener("click", function () {
        log("Hung up");
        setStatus("idle");
        teardown();
    });
    ui.chatForm.addEventListener("submit", function (e) {
        var text = ui.message.value;
        e.preventDefault();
        if (!text || !dc || dc.readyState !== "open") {
            return;
        }
        dc.send(text);
        addChat("me", text);
        ui.message.value = "";
        ui.message.focus();
    });

    ui.server.value = /^https?:$/.test(location.protocol)
        ? location.origin.replace(/^http/, "ws") : "ws://127.0.0.1:8080";
    if (Signaller.isValidHandle(location.hash.slice(1))) {
        ui.handle.value = location.hash.slice(1);
    }
    ui.token.value = new URLSearchParams(location.search).get("token") || "";
    /* an ICE servers endpoint next to the page? Silent if there is none. */
    if (/^https?:$/.test(location.protocol)) {
        Signaller.iceServers(ICE_URL).then(function (servers) {
            iceEndpoint = true;
            if (!ui.ice.value.trim()) {
                showIce(servers);
                log("ICE servers from " + ICE_URL + ": " + iceSummary(servers)
                    + " (renewed at each call; see Settings)", "ok");
            }
        }, function (e) {
            if (e.status === 403) {
                iceEndpoint = true;
                log("ICE servers: " + ICE_URL + " wants a token for the handle: asked at each call");
            } else if (e.status !== 404) {
                log("No ICE servers from " + ICE_URL + " (" + (e.status || e.message)
                    + "): host candidates only, unless set in Settings");
            }
        });
    }
    if (typeof RTCPeerConnection === "undefined") {
        log("This browser has no RTCPeerConnection: WebRTC is unavailable", "error");
        ui.listen.disabled = ui.connect.disabled = true;
    }
    setStatus("idle");
})();
