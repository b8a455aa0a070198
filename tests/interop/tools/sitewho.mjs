// A head end's first look at a site, with the third-party client: a global Who-Is
// (DNET 0xFFFF) to the router, every I-Am collected for WAIT_MS, then each device's
// Object_Name read through the router at the network and MAC its I-Am came from.
// Prints one JSON line per device: {"net":10,"mac":3,"device":10003,"name":"..."}.
//   node sitewho.mjs ROUTER_PORT CLIENT_PORT WAIT_MS
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Bacnet = require('@bacnet-js/client').default;
const [routerPort, clientPort, waitMs] = process.argv.slice(2).map(Number);
const client = new Bacnet({ port: clientPort, interface: '0.0.0.0',
  broadcastAddress: `127.255.255.255:${routerPort}`, apduTimeout: 4000 });
const seen = new Map();
const guard = setTimeout(() => { console.error('sitewho: timed out'); process.exit(1); }, waitMs + 120000);
client.on('iAm', (d) => {
  const s = d.header.sender;
  const key = `${s.net ?? 0}:${(s.adr ?? []).join('.')}`;
  if (!seen.has(key)) seen.set(key, { sender: s, device: d.payload.deviceId });
});
client.on('listening', async () => {
  client.whoIs({ net: 0xffff });
  await new Promise((r) => setTimeout(r, waitMs));
  let rc = 0;
  for (const { sender, device } of seen.values()) {
    const out = { net: sender.net ?? 0, mac: sender.adr ? sender.adr[0] : null, device };
    try {
      const r = await client.readProperty({ address: sender.address, net: sender.net, adr: sender.adr },
        { type: 8, instance: device }, 77, {});
      out.name = r.values[0].value;
    } catch (e) {
      out.error = e.message;
      rc = 1;
    }
    console.log(JSON.stringify(out));
  }
  clearTimeout(guard);
  client.close();
  process.exit(rc);
});
