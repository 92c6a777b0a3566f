// Type-checked by types.test.mjs: the global `Signaller` of a classic script.
/// <reference path="../../../signaller.d.ts" />

const g = new Signaller(location.origin, "abc_def");
g.connect().then((s) => s.signal(JSON.stringify({ hello: 1 })));
const reason: string = Signaller.REASONS[Signaller.TOO_MANY_MESSAGES];
console.log(reason);
