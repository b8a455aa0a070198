// A head end on a subnet without a BBMD, with the third-party client: it registers as a
// foreign device with a BBMD, discovers every device of the internetwork with a global
// Who-Is sent as Distribute-Broadcast-To-Network, reads each one's Object_Name (and
// AI1's Present_Value from the meters) at the IP address its I-Am came from, and reads
// BBMD tables (Read-Broadcast-Dist-Table, Read-FDT) as raw BVLC on the same socket.
//
//   node fdwho.mjs BBMD_IP:PORT CLIENT_PORT TTL EXPECTED DEADLINE_MS [TABLES_AT_IP:PORT ...]
//
// After registering it waits for 2 s without an I-Am (the meters' start-up I-Ams; 8 s at most), tries
// the library's whoIsThroughBBMD (3 s), then sends its own global Who-Is, again every
// 4 s until EXPECTED devices have answered (or DEADLINE_MS passes), then waits 1 s more
// for late or duplicate answers. Prints JSON lines: {"register":...}, {"announced":[...]},
// {"lib_dbtn":[...]}, {"whois_rounds":N,"last_ms":MS}, one {"dev":...} per device (iams:
// I-Ams seen after our Who-Is, ms: the first one's delay, announced: its start-up I-Am
// seen), then {"bdt":...} and {"fdt":...} per TABLES_AT address.
//
// Why raw datagrams: @bacnet-js/client 3.3.2 has registerForeignDevice() and
// whoIsThroughBBMD(), but the latter sends its Who-Is as Distribute-Broadcast-To-Network
// without the NPDU destination (whoIs() leaves DNET out when distributeBroadcastToNetwork
// is set), so it is a local broadcast on the BBMD's B/IP network that no router passes on
// to its MS/TP trunks; and a plain whoIs({net: 0xffff}) is an Original-Broadcast on our own
// subnet, which no BBMD hears. A foreign device's global Who-Is is a
// Distribute-Broadcast-To-Network carrying DNET 0xFFFF (J.4.5, 6.2.2), built here and sent
// through the client's own transport, so the answers come back to the client's port. The
// library has no Read-BDT/Read-FDT either: their acks are read from the same transport.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Bacnet = require('@bacnet-js/client').default;
const Transport = require('@bacnet-js/client/dist/lib/transport').default;

const [bbmd, clientPortS, ttlS, expectedS, deadlineS, ...tablesAt] = process.argv.slice(2);
const [clientPort, ttl, expected, deadlineMs] = [clientPortS, ttlS, expectedS, deadlineS].map(Number);
const transport = new Transport({ port: clientPort, interface: '0.0.0.0',
  broadcastAddress: '255.255.255.255', reuseAddr: false });
const client = new Bacnet({ transport, apduTimeout: 3000 });
const guard = setTimeout(() => { console.error('fdwho: timed out'); process.exit(1); }, deadlineMs + 20000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = (o) => console.log(JSON.stringify(o));

// The address a device answers at: its I-Am's originator when a BBMD forwarded it.
const withPort = (a) => (a.includes(':') ? a : `${a}:47808`);
// Phases: 'settle' (the meters' start-up I-Ams, sent when each first gets its trunk's
// token), 'lib' (the library's whoIsThroughBBMD), 'raw' (our global Who-Is).
let phase = 'settle';
const found = { settle: new Map(), lib: new Map(), raw: new Map() };
let lastIAm = Date.now();
let rawSentAt = 0;
client.on('iAm', (d) => {
  const s = d.header.sender;
  const at = withPort(s.forwardedFrom ?? s.address);
  const key = `${at}|${s.net ?? 0}:${(s.adr ?? []).join('.')}`;
  const m = found[phase];
  const e = m.get(key) ?? { at, via: withPort(s.address), net: s.net ?? 0,
    mac: s.adr ? s.adr[0] : null, device: d.payload.deviceId, iams: 0,
    ms: rawSentAt ? Date.now() - rawSentAt : 0 };
  e.iams++;
  m.set(key, e);
  lastIAm = Date.now();
});
const names = (m) => [...m.values()].map((e) => `${e.net}:${e.mac}:${e.device}`).sort();

// Raw BVLC: the acks the library does not decode, matched by function and sender.
const waiters = [];
transport.on('message', (msg, from) => {
  for (const w of waiters.splice(0)) if (!w(msg, withPort(from))) waiters.push(w);
});
function bvlcRequest(to, fn, want) {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), 3000);
    waiters.push((msg, from) => {
      if (from !== to || msg[0] !== 0x81 || (msg[1] !== want && msg[1] !== 0x00)) return false;
      clearTimeout(t);
      resolve(msg);
      return true;
    });
    transport.send(Buffer.from([0x81, fn, 0x00, 0x04]), 4, to);
  });
}
const ip = (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}:${b.readUInt16BE(o + 4)}`;
async function tables(at) {
  for (const [name, fn, ack] of [['bdt', 0x02, 0x03], ['fdt', 0x06, 0x07]]) {
    const r = await bvlcRequest(at, fn, ack);
    const o = { [name]: at };
    if (!r) o.error = 'no answer';
    else if (r[1] === 0x00) o.nak = r.readUInt16BE(4);
    else {
      o.entries = [];
      for (let k = 4; k + 10 <= r.length; k += 10)
        o.entries.push(name === 'bdt'
          ? `${ip(r, k)}/${r[k + 6]}.${r[k + 7]}.${r[k + 8]}.${r[k + 9]}`
          : { addr: ip(r, k), ttl: r.readUInt16BE(k + 6), remaining: r.readUInt16BE(k + 8) });
    }
    out(o);
  }
}

// BVLC Distribute-Broadcast-To-Network; NPDU version 1, DNET 0xFFFF, DLEN 0, hop count
// 255; APDU Unconfirmed-Request Who-Is without limits.
const globalWhoIs = Buffer.from([0x81, 0x09, 0x00, 0x0c, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08]);

client.on('listening', async () => {
  let rc = 0;
  try {
    await client.registerForeignDevice({ address: bbmd }, ttl);
    out({ register: bbmd, ttl });
  } catch (e) {
    out({ register: bbmd, error: e.message });
    process.exit(1);
  }
  // Quiet for 2 s (at most 8 s): the start-up I-Ams that reach us are in.
  for (const t0 = Date.now(); Date.now() - lastIAm < 2000 && Date.now() - t0 < 8000;) await sleep(100);
  out({ announced: names(found.settle) });

  // What the library's own foreign-device Who-Is reaches: no DNET, so the B/IP network only.
  phase = 'lib';
  client.whoIsThroughBBMD({ address: bbmd, net: 0xffff });
  await sleep(3000);
  out({ lib_dbtn: names(found.lib) });

  phase = 'raw';
  const end = Date.now() + deadlineMs;
  let rounds = 0;
  while (Date.now() < end) {
    if (!rawSentAt) rawSentAt = Date.now();
    transport.send(globalWhoIs, globalWhoIs.length, bbmd);
    rounds++;
    for (let k = 0; k < 40 && found.raw.size < expected; k++) await sleep(100);
    if (found.raw.size >= expected) break;
  }
  await sleep(1000);
  out({ whois_rounds: rounds, last_ms: Math.max(...[...found.raw.values()].map((e) => e.ms)) });

  let errors = 0;
  for (const e of found.raw.values()) {
    const rcv = e.net ? { address: e.at, net: e.net, adr: [e.mac] } : { address: e.at };
    const dev = { dev: `${e.net}:${e.mac}:${e.device}`, at: e.at, via: e.via, iams: e.iams, ms: e.ms,
      announced: [...found.settle.values()].some((a) => a.at === e.at && a.device === e.device) };
    if (rc && errors >= 3) {
      dev.error = 'not read: 3 reads failed already';
      out(dev);
      continue;
    }
    try {
      const r = await client.readProperty(rcv, { type: 8, instance: e.device }, 77, {});
      dev.name = r.values[0].value;
      if (e.net) {
        const v = await client.readProperty(rcv, { type: 0, instance: 1 }, 85, {});
        dev.ai1 = v.values[0].value;
      }
    } catch (err) {
      dev.error = err.message;
      rc = 1;
      errors++;
    }
    out(dev);
  }
  for (const at of tablesAt) await tables(at);
  clearTimeout(guard);
  client.close();
  process.exit(rc);
});
