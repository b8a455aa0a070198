// Read one property with the third-party client and print its value(s) as JSON:
//   node bacread.mjs METER_PORT CLIENT_PORT TYPE INSTANCE PROPERTY
// Used by tests/e2e_panel.sh to check, over BACnet, what was set on the front panel.
import { createRequire } from 'node:module';

process.env.TZ = 'UTC';
const require = createRequire(import.meta.url);
const Bacnet = require('@bacnet-js/client').default;
const [meterPort, clientPort, type, instance, prop] = process.argv.slice(2).map(Number);
const client = new Bacnet({ port: clientPort, interface: '127.0.0.1', reuseAddr: false, apduTimeout: 2000 });
const timer = setTimeout(() => { console.error('bacread: no answer'); process.exit(1); }, 5000);
client.on('listening', async () => {
  try {
    const r = await client.readProperty({ address: `127.0.0.1:${meterPort}` }, { type, instance }, prop, {});
    console.log(JSON.stringify(r.values.map((v) => v.value)));
    clearTimeout(timer);
    client.close();
  } catch (e) {
    console.error(`bacread: ${e.message}`);
    process.exit(1);
  }
});
