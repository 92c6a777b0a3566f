// Type-checked by types.test.mjs: the package's ES module entry ("exports").
import Signaller from "signaller-nginx";

const s: Signaller = new Signaller("wss://example.com/", Signaller.randomHandle(12));
await s.listen();
s.signal("x");
const code: 4003 = Signaller.PEER_GONE;
console.log(code);
const ice = await Signaller.iceServers("ice-servers", { token: () => Promise.resolve("t") });
new RTCPeerConnection({ iceServers: ice, iceTransportPolicy: "relay" });
