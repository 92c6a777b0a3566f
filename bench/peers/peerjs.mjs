// The PeerJS server (npm package "peer", pinned in package.json) as
// bench/run.sh runs it: the library's PeerServer on 127.0.0.1:<port>,
// path "/", so clients connect to ws://127.0.0.1:<port>/peerjs?key=peerjs&...
// The CLI (peerjs --port N) is the same server but logs a line per
// connection and disconnection; this one logs nothing per client.  The
// limits are raised so that they do not get in the benchmark's way:
// concurrent_limit (5000 by default) and alive_timeout (clients that send
// no HEARTBEAT are dropped after it).
import { PeerServer } from "peer";

const port = Number(process.argv[2] || 9000);

PeerServer({
    host: "127.0.0.1",
    port,
    path: "/",
    key: "peerjs",
    concurrent_limit: 1000000,
    alive_timeout: 3600000,
    expire_timeout: 5000,
}, () => console.log(`peerjs: listening on 127.0.0.1:${port}`));

const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
