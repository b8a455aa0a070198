// Test rig for a running `s4100 site` (tests/e2e_site_interop.sh starts it): the
// site file read back as the head end's expectation (docs/site.md's rules, not the
// implementation's), and one @bacnet-js/client on loopback talking to the router, with
// a raw tap on every datagram and what the client has no call for (network-layer
// messages, routed requests with a proper hop count) built with its exported encoders.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { outcome } from './harness.mjs';

const require = createRequire(import.meta.url);
const Bacnet = require('@bacnet-js/client').default;
const baNpdu = require('@bacnet-js/client/dist/lib/npdu');
const baApdu = require('@bacnet-js/client/dist/lib/apdu');
const baAsn1 = require('@bacnet-js/client/dist/lib/asn1');

// ---- the site file, as docs/site.md defines it ---------------------------------------
// Only the keys the interop site uses; anything else is refused, so that the test never
// predicts a site it did not understand.
const KEYS = {
  site: ['name', 'router_instance', 'bip_network', 'profile', 'bind', 'broadcast', 'nv_dir'],
  trunk: ['baud', 'router_mac', 'max_master', 'max_info_frames', 'meters', 'instance_base',
    'serial_prefix', 'profile', 'pty'],
  meter: ['instance', 'serial'],
};

function macList(text, what) {
  const out = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    assert.ok(m, `${what}: "${part}" is not a MAC or a range`);
    for (let k = Number(m[1]); k <= Number(m[2] ?? m[1]); k++) out.push(k);
  }
  return out;
}

// { name, routerInstance, bipNet, trunks: [{ net, baud, routerMac, maxMaster,
//   maxInfoFrames, pty, meters: [{ net, mac, instance, serial }] }] sorted by network,
//   meters: every meter }
export function readSite(path) {
  const sections = [];
  let cur;
  for (const [i, raw] of readFileSync(path, 'utf8').split('\n').entries()) {
    const line = raw.replace(/\s;.*$/, '').trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const h = /^\[(\w+)(?:\s+(\S+))?\]$/.exec(line);
    if (h) {
      cur = { kind: h[1].toLowerCase(), id: h[2], keys: {} };
      assert.ok(KEYS[cur.kind], `${path}:${i + 1}: section [${h[1]}] not understood by the test`);
      sections.push(cur);
      continue;
    }
    const kv = /^(\w+)\s*=\s*(.*)$/.exec(line);
    assert.ok(kv && cur, `${path}:${i + 1}: "${line}"`);
    const key = kv[1].toLowerCase();
    assert.ok(KEYS[cur.kind].includes(key), `${path}:${i + 1}: key ${key} not understood by the test`);
    cur.keys[key] = key === 'meters' && cur.keys.meters ? `${cur.keys.meters},${kv[2]}` : kv[2];
  }
  const site = sections.find((s) => s.kind === 'site')?.keys ?? {};
  const num = (v, dflt) => (v === undefined ? dflt : Number(v));
  const trunks = sections.filter((s) => s.kind === 'trunk').map((s) => {
    const net = Number(s.id);
    const k = s.keys;
    const base = num(k.instance_base, net * 1000); // "network x 1000 + MAC"
    const prefix = k.serial_prefix ?? `41${String(net).padStart(5, '0')}`;
    const t = {
      net,
      baud: num(k.baud, 38400),
      routerMac: num(k.router_mac, 0),
      maxMaster: num(k.max_master, 127),
      maxInfoFrames: num(k.max_info_frames, 1),
      pty: k.pty, // a trunk bridged to a line: its stations there are not the site's
    };
    // (No `meters`: a trunk without meters of the site's, docs/site.md.)
    t.meters = (k.meters === undefined ? [] : macList(k.meters, `[trunk ${net}] meters`)).map((mac) => {
      const o = sections.find((x) => x.kind === 'meter' && x.id === `${net}:${mac}`)?.keys ?? {};
      return { net, mac, instance: num(o.instance, base + mac), serial: o.serial ?? `${prefix}${String(mac).padStart(3, '0')}`, trunk: t };
    });
    return t;
  }).sort((a, b) => a.net - b.net);
  return {
    name: site.name ?? path.replace(/^.*\//, '').replace(/\.ini$/, ''),
    routerInstance: num(site.router_instance, 4194000),
    bipNet: num(site.bip_network, 1),
    trunks,
    meters: trunks.flatMap((t) => t.meters),
  };
}

// ---- the NPDU of a datagram ------------------------------------------------------------
// BVLC function, NPDU control, DNET/DADR, SNET/SADR, hop count; then either the network
// message (type and body) or the APDU (type, invoke ID, service).
export function decodeDatagram(buf) {
  const d = { bvlc: buf[1], length: buf.readUInt16BE(2) };
  let o = d.bvlc === 0x04 ? 10 : 4;
  d.version = buf[o];
  const ctl = buf[o + 1];
  d.control = ctl;
  o += 2;
  if (ctl & 0x20) {
    d.dnet = buf.readUInt16BE(o); d.dadr = [...buf.subarray(o + 3, o + 3 + buf[o + 2])]; o += 3 + buf[o + 2];
  }
  if (ctl & 0x08) {
    d.snet = buf.readUInt16BE(o); d.sadr = [...buf.subarray(o + 3, o + 3 + buf[o + 2])]; o += 3 + buf[o + 2];
  }
  if (ctl & 0x20) d.hopCount = buf[o++];
  if (ctl & 0x80) {
    d.messageType = buf[o];
    d.body = buf.subarray(o + 1);
    return d;
  }
  d.apdu = buf.subarray(o);
  d.pduType = buf[o] >> 4;
  if (d.pduType === 0) { d.invokeId = buf[o + 2]; d.service = buf[o + 3]; }
  else if (d.pduType === 1) d.service = buf[o + 1];
  else if (d.pduType >= 2) { d.invokeId = buf[o + 1]; d.service = buf[o + 2]; }
  return d;
}

export const NET_MSG = { WHO_IS_ROUTER: 0x00, I_AM_ROUTER: 0x01, REJECT: 0x03 };
// The DNETs of an I-Am-Router-To-Network body.
export function dnetList(body) {
  const out = [];
  for (let k = 0; k + 1 < body.length; k += 2) out.push(body.readUInt16BE(k));
  return out;
}

// ---- the head end -----------------------------------------------------------------------
export class SiteClient {
  constructor({ routerPort, clientPort, apduTimeout = 6000 }) {
    this.routerPort = routerPort;
    this.router = { address: `127.0.0.1:${routerPort}` };
    this.rx = []; // { n, t, from, d: decodeDatagram(), raw }
    this.count = 0;
    this.events = []; // { t, kind: 'iAm' | 'iHave', from: { net, adr }, payload }
    this.client = new Bacnet({ port: clientPort, interface: '0.0.0.0', reuseAddr: false,
      broadcastAddress: `127.255.255.255:${routerPort}`, apduTimeout });
    // (A broadcast is kept 10 s by the client's transport to drop its own echo, on a
    // timer that would keep the process alive: unref it, as harness.mjs does.)
    const transport = this.client._transport;
    const send = transport.send.bind(transport);
    transport.send = (...a) => {
      const set = globalThis.setTimeout;
      globalThis.setTimeout = (...t) => set(...t).unref();
      try { return send(...a); } finally { globalThis.setTimeout = set; }
    };
    transport.on('message', (raw, from) => {
      let d;
      try { d = decodeDatagram(raw); } catch { d = { undecodable: true }; }
      this.rx.push({ n: this.count++, t: Date.now(), from, d, raw: Buffer.from(raw) });
    });
    for (const kind of ['iAm', 'iHave']) {
      this.client.on(kind, (m) => this.events.push({
        n: this.count, kind, from: { net: m.header.sender.net ?? 0, adr: m.header.sender.adr ?? [], address: m.header.sender.address }, payload: m.payload,
      }));
    }
    this.client.on('error', (e) => { this.error = e; });
  }

  async start() {
    await new Promise((resolve, reject) => {
      this.client.once('listening', resolve);
      this.client.once('error', reject);
    });
  }

  close() { try { this.client.close(); } catch { /* closed */ } }

  mark() { return this.count; }
  after(mark) { return this.rx.filter((x) => x.n >= mark); }
  eventsAfter(mark, kind) { return this.events.filter((e) => e.n >= mark && e.kind === kind); }

  // What the client library calls a receiver: the router's address, and the meter's
  // network and MAC behind it.
  at(meter) { return { address: this.router.address, net: meter.net, adr: [meter.mac] }; }

  // An NPDU (octets from the version on) in a BVLC: unicast to the router, or broadcast.
  sendNpdu(npdu, { broadcast = false } = {}) {
    const buf = Buffer.alloc(4 + npdu.length);
    buf[0] = 0x81;
    buf[1] = broadcast ? 0x0b : 0x0a;
    buf.writeUInt16BE(buf.length, 2);
    Buffer.from(npdu).copy(buf, 4);
    this.client._transport.send(buf, buf.length, broadcast ? undefined : this.router.address);
  }

  // Waits until `pred(list of datagrams since mark)` holds, then `settle` ms more (to see
  // what should not come), at most `max` ms. Wall-clock waits for real I/O only.
  async collect(mark, pred, { max = 15000, settle = 1500 } = {}) {
    const end = Date.now() + max;
    while (Date.now() < end && !pred(this.after(mark))) await sleep(20);
    await sleep(settle);
    return this.after(mark);
  }

  // A confirmed request routed to `receiver` ({ net, adr } behind the router, or the
  // router itself), hop count 255 as clause 6.2.2 wants of an originator; the service
  // data written by `encode(buffer)` with the client's encoders; the answer through
  // the client's request manager. Resolves to outcome() plus the answering datagram.
  async confirmed(receiver, service, encode, { maxApdu = 5 } = {}) {
    const c = this.client;
    const invokeId = c._getInvokeId();
    const buffer = { buffer: Buffer.alloc(1482), offset: 4 };
    baNpdu.encode(buffer, 0x04 /* expecting reply */, receiver.net ? receiver : undefined, null, 0xff);
    baApdu.encodeConfirmedServiceRequest(buffer, 0x00, service, 0, maxApdu, invokeId, 0, 0);
    encode(buffer);
    const m = this.mark();
    const pending = c._requestManager.add(invokeId);
    c.sendBvlc({ address: this.router.address }, buffer);
    const got = await outcome(pending);
    const answer = this.after(m).filter((x) => x.d.invokeId === invokeId && x.d.pduType >= 2).pop();
    return { ...got, answer };
  }

  // An unconfirmed request to DNET `net` (0xFFFF: everyone), broadcast on B/IP.
  unconfirmedTo(net, service, encode) {
    const buffer = { buffer: Buffer.alloc(1482), offset: 4 };
    baNpdu.encode(buffer, 0, { net }, null, 0xff);
    baApdu.encodeUnconfirmedServiceRequest(buffer, 0x10, service);
    encode(buffer);
    this.client.sendBvlc(undefined, buffer);
  }
}

export const asn1 = baAsn1;
