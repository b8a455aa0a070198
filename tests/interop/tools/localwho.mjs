// A head end on a BBMD's own subnet, with the third-party client: a global Who-Is
// (DNET 0xFFFF) as an Original-Broadcast to the subnet's broadcast address, repeated
// every 4 s until EXPECTED devices have answered (or DEADLINE_MS passes), then 1 s more.
// Prints one JSON line per device: {"dev":"NET:MAC:INSTANCE","at":"IP:PORT"}, where at
// is the I-Am's originator (the router it came through).
//   node localwho.mjs BROADCAST_IP:PORT CLIENT_PORT EXPECTED DEADLINE_MS
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Bacnet = require('@bacnet-js/client').default;
const [bcast, portS, expectedS, deadlineS] = process.argv.slice(2);
const [port, expected, deadlineMs] = [portS, expectedS, deadlineS].map(Number);
const client = new Bacnet({ port, interface: '0.0.0.0', broadcastAddress: bcast, apduTimeout: 3000 });
const guard = setTimeout(() => { console.error('localwho: timed out'); process.exit(1); }, deadlineMs + 10000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withPort = (a) => (a.includes(':') ? a : `${a}:47808`);
const seen = new Map();
client.on('iAm', (d) => {
  const s = d.header.sender;
  const dev = `${s.net ?? 0}:${s.adr ? s.adr[0] : null}:${d.payload.deviceId}`;
  seen.set(dev, withPort(s.forwardedFrom ?? s.address));
});
client.on('listening', async () => {
  for (const end = Date.now() + deadlineMs; Date.now() < end && seen.size < expected;) {
    client.whoIs({ net: 0xffff });
    for (let k = 0; k < 40 && seen.size < expected; k++) await sleep(100);
  }
  await sleep(1000);
  for (const [dev, at] of seen) console.log(JSON.stringify({ dev, at }));
  clearTimeout(guard);
  client.close();
  process.exit(0);
});
