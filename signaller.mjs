/*! signaller.js ES module entry | ISC License */
// Node and bundlers load signaller.js as CommonJS and hand us module.exports
// as the default; a browser runs it as a module script with no exports, in
// which case it has set globalThis.Signaller.
import * as ns from "./signaller.js";

const Signaller = ns.default || globalThis.Signaller;

export default Signaller;
