// Test rig: one `s4100 run` child process (in its own process group, always killed at
// the end) and one @bacnet-js/client instance talking to it over loopback BACnet/IP.
//
// Loopback broadcasts: the meter binds 0.0.0.0:meterPort and sends its broadcasts (I-Am,
// I-Have) to 127.255.255.255:clientPort; the client binds 0.0.0.0:clientPort and sends
// its broadcasts (Who-Is, Who-Has) to 127.255.255.255:meterPort.
//
// Ports: every rig takes a slot of this run's block of UDP ports (ports()), which
// tests/e2e_interop.sh chooses, checks free and claims (S4100_INTEROP_PORT_BASE,
// S4100_INTEROP_PORT_COUNT), so that two runs of the suite never share a port.
//
// Time: a meter runs on virtual time (`s4100 run --virtual-time`): its clock stands
// still until the test says rig.advance(seconds), which feeds that many seconds of
// samples as fast as the CPU allows and resolves when they are all processed. A test
// that needs meter time to pass (a cycle, a log interval, a full buffer) advances it
// and then checks, with no wall-clock deadline; wall-clock waits are only for replies
// and silence. BACnet timing (DCC durations, APDU timeouts) stays on real time.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERR_CLASS, ERR_CODE, OT, PROP, STEADY_SCENARIO, TAG, scope } from './spec.mjs';

process.env.TZ = 'UTC'; // the client encodes and decodes dates with local-time getters

const require = createRequire(import.meta.url);
const Bacnet = require('@bacnet-js/client').default;
const baNpdu = require('@bacnet-js/client/dist/lib/npdu');
const baApdu = require('@bacnet-js/client/dist/lib/apdu');
const baAsn1 = require('@bacnet-js/client/dist/lib/asn1');
const services = require('@bacnet-js/client/dist/lib/services');

export { sleep };
export const BIN = process.env.S4100_BIN;

// This run's ports: a block from the environment, or (run by hand, without the shell
// wrapper) a random one below Linux's ephemeral range.
const PORT_COUNT = Number(process.env.S4100_INTEROP_PORT_COUNT) || 32;
const PORT_BASE = Number(process.env.S4100_INTEROP_PORT_BASE)
  || 20000 + 32 * Math.floor(Math.random() * ((32768 - 20000 - PORT_COUNT) / 32));
// The meter and client ports of slot `slot` (each test file uses its own slots).
export function ports(slot) {
  assert.ok(Number.isInteger(slot) && slot >= 0 && 2 * slot + 1 < PORT_COUNT,
    `port slot ${slot}: this run has ${PORT_COUNT} ports from ${PORT_BASE}`);
  return { meterPort: PORT_BASE + 2 * slot, clientPort: PORT_BASE + 2 * slot + 1 };
}

// One command to a meter's control socket (what `s4100 ctl` does): the answer, once the
// meter has sent it and (normally) closed the connection. No deadline of its own: an
// advance takes as long as the CPU needs; a meter that dies closes the connection.
export function control(path, line) {
  return new Promise((resolve, reject) => {
    let out = '';
    let done = false;
    const sock = net.createConnection(path, () => sock.write(`${line}\n`));
    const finish = (err) => {
      if (done) return;
      done = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(out);
    };
    sock.setEncoding('utf8');
    sock.on('data', (d) => { out += d; });
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('error', (e) => finish(new Error(`control ${path} '${line}': ${e.message}`)));
  });
}
export const SILENCE_MS = 1000; // how long "no answer" is waited for
const APDU_TIMEOUT_MS = 1000; // the client's wait for a confirmed reply
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

export async function waitFor(fn, { timeout = 5000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await sleep(interval);
  }
}

// Parses what the client reports for a failed confirmed request.
export function classify(err) {
  const m = /BacnetError - Class:(\d+) - Code:(\d+)/.exec(err?.message ?? '');
  if (m) return { kind: 'error', errorClass: Number(m[1]), errorCode: Number(m[2]) };
  const a = /BacnetAbort - Reason:(\d+)/.exec(err?.message ?? '');
  if (a) return { kind: 'abort-or-reject', reason: Number(a[1]) };
  if (err?.message === 'ERR_TIMEOUT') return { kind: 'timeout' };
  return { kind: 'other', message: String(err?.message ?? err) };
}

export async function outcome(promise) {
  try {
    const value = await promise;
    return { kind: 'ok', value };
  } catch (e) {
    return classify(e);
  }
}

export async function expectError(promise, errorClass, errorCode, what = '') {
  const got = await outcome(promise);
  assert.deepEqual(
    { kind: got.kind, errorClass: got.errorClass, errorCode: got.errorCode },
    { kind: 'error', errorClass, errorCode },
    `${what}: expected Error class ${errorClass} code ${errorCode}, got ${JSON.stringify(got, (k, v) => (k === 'value' ? undefined : v))}`,
  );
}

export async function expectSilence(promise, what = '') {
  const got = await outcome(promise);
  assert.equal(got.kind, 'timeout', `${what}: expected no answer, got ${JSON.stringify(got, (k, v) => (k === 'value' ? undefined : v))}`);
}

// Decodes the headers of a BACnet/IP datagram (BVLL, NPDU, APDU) for wire-level checks.
export function decodeHeaders(buf) {
  const h = { bvlcFunc: buf[1], length: buf.readUInt16BE(2) };
  let o = 4;
  if (h.bvlcFunc === 0x04) o += 6;
  h.npduVersion = buf[o];
  const ctl = buf[o + 1];
  h.npduControl = ctl;
  o += 2;
  if (ctl & 0x20) {
    h.dnet = buf.readUInt16BE(o); h.dlen = buf[o + 2]; o += 3 + h.dlen;
  }
  if (ctl & 0x08) {
    h.snet = buf.readUInt16BE(o); h.slen = buf[o + 2]; o += 3 + h.slen;
  }
  if (ctl & 0x20) { h.hopCount = buf[o]; o += 1; }
  if (ctl & 0x80) { h.networkMessage = true; return h; }
  h.apdu = buf.subarray(o);
  h.pduType = buf[o] >> 4;
  switch (h.pduType) {
    case 0: h.invokeId = buf[o + 2]; h.service = buf[o + 3]; break;
    case 1: h.service = buf[o + 1]; break;
    case 2: case 3: case 5: h.invokeId = buf[o + 1]; h.service = buf[o + 2]; break;
    case 6: case 7: h.invokeId = buf[o + 1]; h.reason = buf[o + 2]; break;
    default: break;
  }
  return h;
}
export const PDU = { CONFIRMED: 0, UNCONFIRMED: 1, SIMPLE_ACK: 2, COMPLEX_ACK: 3, ERROR: 5, REJECT: 6, ABORT: 7 };

export class Rig {
  // opts: slot (ports(slot)) or meterPort and clientPort, deviceId, serial, password,
  // args (extra CLI args), virtualTime (default true; false: the meter runs on wall time).
  constructor(opts) {
    this.opts = { serial: '4100123456', deviceId: 1234, virtualTime: true, ...(opts.slot === undefined ? {} : ports(opts.slot)), ...opts };
    this.deviceId = this.opts.deviceId;
    this.serial = this.opts.serial;
    this.addr = { address: `127.0.0.1:${this.opts.meterPort}` };
    this.output = [];
    this.stdoutLines = 0; // lines the meter printed on stdout
    this.rx = []; // every datagram the client received: { n, t, from, headers, raw }
    this.rxCount = 0;
    this.iAms = [];
    this.iHaves = [];
    this.exit = null;
    this.advanced = 0; // meter seconds advanced by this rig (virtual time)
    this.cycle = 0; // the meter's cycle count after the last advance
  }

  get device() { return { type: OT.DEVICE, instance: this.deviceId }; }

  args() {
    const o = this.opts;
    const a = ['run', '--bip-port', String(o.meterPort), '--bind', '0.0.0.0',
      '--broadcast', `127.255.255.255:${o.clientPort}`, '--device-id', String(o.deviceId),
      '--serial', o.serial, '--scenario', o.scenario ?? STEADY_SCENARIO, '--no-panel'];
    if (o.password) a.push('--bacnet-password', o.password);
    // Every meter starts from the factory state: its own fresh NV file (the default one
    // under ~/.local/state would carry state from run to run), in its own directory with
    // its control socket.
    // (S4100_INTEROP_STATE: a directory on tmpfs, where an NV file's fdatasync costs
    // nothing, so that a disk's speed does not matter either.)
    if (!this.dir) this.dir = mkdtempSync(join(process.env.S4100_INTEROP_STATE || tmpdir(), 's4100-rig-'));
    this.nvPath = join(this.dir, 'meter.nv');
    this.controlPath = join(this.dir, 'ctl.sock');
    a.push('--nv', this.nvPath, '--control', this.controlPath);
    if (o.virtualTime) a.push('--virtual-time');
    return a.concat(o.args ?? []);
  }

  // ---- the control socket and virtual time ----
  control(line) { return control(this.controlPath, line); }

  // Makes the meter process `seconds` meter seconds (every sample, the engine, trend logs,
  // demand, NV) and resolves with its cycle count when it has. It answers BACnet all the
  // while; only this promise waits for it.
  async advance(seconds) {
    assert.ok(this.opts.virtualTime, 'advance() needs a meter on virtual time');
    assert.ok(Number.isInteger(seconds) && seconds > 0, `advance(${seconds})`);
    const ans = await this.control(`advance ${seconds}`);
    const m = /^ok: advanced (\d+) s \(cycle (\d+)\)/.exec(ans);
    assert.ok(m && Number(m[1]) === seconds, `advance ${seconds}: the meter answered ${JSON.stringify(ans)}\n${this.log()}`);
    this.advanced += seconds;
    this.cycle = Number(m[2]);
    return this.cycle;
  }

  // Advances the meter `step` seconds at a time until `pred()` holds (checked first
  // before any advance), at most `max` meter seconds: what a wait for "the next cycle"
  // or "the next log interval" becomes on virtual time. Resolves to pred()'s value.
  async advanceUntil(pred, { step = 1, max = 3, what = 'condition' } = {}) {
    let last;
    for (let spent = 0; ; spent += step) {
      try {
        last = await pred();
        if (last) return last;
      } catch (e) {
        last = e;
      }
      if (spent + step > max) {
        throw new Error(`${what}: not after ${spent} s of meter time (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
      }
      await this.advance(step);
    }
  }

  // The meter's `ctl status`, parsed.
  async status() {
    const ans = await this.control('status');
    try { return JSON.parse(ans); } catch { throw new Error(`ctl status: not JSON: ${ans}`); }
  }

  async start() {
    assert.ok(BIN, 'S4100_BIN must name the s4100 binary');
    this.startClient();
    await new Promise((resolve, reject) => {
      this.client.once('listening', resolve);
      this.client.once('error', reject);
    });
    this.child = spawn(BIN, this.args(), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    // For the shell wrapper's cleanup: "<pid> <port>", one meter per line.
    if (process.env.S4100_INTEROP_PIDS) appendFileSync(process.env.S4100_INTEROP_PIDS, `${this.child.pid} ${this.opts.meterPort}\n`);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    for (const s of [this.child.stdout, this.child.stderr]) {
      s.setEncoding('utf8');
      s.on('data', (d) => {
        for (const line of d.split(/[\r\n]+/)) {
          if (!line.trim()) continue;
          this.output.push(line);
          if (s === this.child.stdout) this.stdoutLines++;
        }
        if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
      });
    }
    await this.waitReady();
  }

  startClient() {
    this.client = new Bacnet({
      port: this.opts.clientPort,
      interface: '0.0.0.0',
      broadcastAddress: `127.255.255.255:${this.opts.meterPort}`,
      reuseAddr: false,
      apduTimeout: APDU_TIMEOUT_MS,
    });
    this.client.on('error', (e) => this.output.push(`client error: ${e.message}`));
    // The client's transport keeps each broadcast for 10 s (to drop its own echo) with a
    // timer that would keep the test process alive that long after its last test.
    const transport = this.client._transport;
    const send = transport.send.bind(transport);
    transport.send = (...a) => {
      const set = globalThis.setTimeout;
      globalThis.setTimeout = (...t) => set(...t).unref();
      try { return send(...a); } finally { globalThis.setTimeout = set; }
    };
    this.client.on('iAm', (m) => this.iAms.push({ t: Date.now(), ...m.payload, from: m.header?.sender?.address }));
    this.client.on('iHave', (m) => this.iHaves.push({ t: Date.now(), ...m.payload, from: m.header?.sender?.address }));
    // Raw tap: the client's transport emits every datagram; keep the headers.
    this.client._transport.on('message', (raw, from) => {
      let headers;
      try { headers = decodeHeaders(raw); } catch { headers = { undecodable: true }; }
      this.rx.push({ n: this.rxCount++, t: Date.now(), from, headers, raw: Buffer.from(raw) });
      if (this.rx.length > 2000) this.rx.splice(0, this.rx.length - 2000);
    });
  }

  // Ready = answers a unicast Who-Is (sent every 50 ms, so that readiness is seen within
  // 50 ms of the meter's socket opening) and then a ReadProperty.
  async waitReady(timeout = 15000) {
    const end = Date.now() + timeout;
    for (;;) {
      if (this.exit) throw new Error(`s4100 run exited early ${JSON.stringify(this.exit)}:\n${this.output.join('\n')}`);
      if (Date.now() > end) throw new Error(`s4100 run on port ${this.opts.meterPort} did not answer Who-Is within ${timeout} ms:\n${this.log()}`);
      const t0 = Date.now();
      this.whoIs({ unicast: true, low: this.deviceId, high: this.deviceId });
      await sleep(50);
      if (this.iAms.some((x) => x.t >= t0 && x.deviceId === this.deviceId)) break;
    }
    const r = await this.readProperty(this.device, PROP.OBJECT_NAME);
    assert.equal(r.values.length, 1, 'Device Object_Name');
  }

  // Sends SIGTERM (or `signal`) to the meter and waits for it to exit.
  async stop(timeout = 5000, signal = 'SIGTERM') {
    if (!this.child || this.exit) return this.exit;
    try { process.kill(this.child.pid, signal); } catch { /* gone */ }
    let timer;
    const res = await Promise.race([this.exited, new Promise((r) => { timer = setTimeout(r, timeout, null); })]);
    clearTimeout(timer); // (a pending timer would keep the test process alive)
    if (!res) {
      try { process.kill(-this.child.pid, 'SIGKILL'); } catch { /* gone */ }
      await this.exited;
      return { timedOut: true, ...this.exit };
    }
    return res;
  }

  async close() {
    try { await this.stop(); } finally {
      try { this.client?.close(); } catch { /* closed */ }
      if (this.dir && !process.env.INTEROP_KEEP) rmSync(this.dir, { recursive: true, force: true });
    }
  }

  log() { return this.output.slice(-20).join('\n'); }

  // ---- confirmed services ----
  readProperty(objectId, prop, arrayIndex) {
    const opts = arrayIndex === undefined ? {} : { arrayIndex };
    return this.client.readProperty(this.addr, objectId, prop, opts);
  }

  async read(objectId, prop, arrayIndex) {
    const r = await this.readProperty(objectId, prop, arrayIndex);
    return r.values;
  }

  async readValue(objectId, prop, arrayIndex) {
    const v = await this.read(objectId, prop, arrayIndex);
    assert.equal(v.length, 1, `${JSON.stringify(objectId)} property ${prop}: expected one value, got ${JSON.stringify(v)}`);
    return v[0].value;
  }

  rpm(specs) {
    return this.client.readPropertyMultiple(this.addr, specs.map((s) => ({
      objectId: s.objectId,
      properties: s.props.map((p) => (typeof p === 'number' ? { id: p, index: 0xFFFFFFFF } : p)),
    })));
  }

  write(objectId, prop, values, opts = {}) {
    return this.client.writeProperty(this.addr, objectId, prop, values, opts);
  }

  writeReal(objectId, value) {
    return this.write(objectId, PROP.PRESENT_VALUE, [{ type: TAG.REAL, value }]);
  }

  dcc(state, { minutes = 0, password } = {}) {
    return this.client.deviceCommunicationControl(this.addr, minutes, state, password ? { password } : {});
  }

  reinit(state, { password } = {}) {
    return this.client.reinitializeDevice(this.addr, state, password ? { password } : {});
  }

  // ---- unconfirmed services ----
  whoIs({ unicast = false, low, high } = {}) {
    const opts = low === undefined ? undefined : { lowLimit: low, highLimit: high };
    if (unicast) this.client.whoIs(this.addr, opts ?? {});
    else this.client.whoIs(opts ?? {});
  }

  // Who-Has through the client's exported encoders (it has no whoHas call).
  whoHas({ unicast = false, low, high, objectId, objectName }) {
    const receiver = unicast ? this.addr : undefined;
    const buffer = { buffer: Buffer.alloc(1482), offset: 4 };
    baNpdu.encode(buffer, 0 /* normal priority */, receiver);
    baApdu.encodeUnconfirmedServiceRequest(buffer, 0x10 /* unconfirmed request */, 7 /* who-Has */);
    services.WhoHas.encode(buffer, low ?? -1, high ?? -1, objectId ?? { type: 0, instance: 0 }, objectName);
    this.client.sendBvlc(receiver, buffer);
  }

  timeSync(date, { unicast = true } = {}) {
    this.client.timeSync(unicast ? this.addr : undefined, date);
  }

  // TimeSynchronization with raw date and time octets (for wildcards).
  timeSyncRaw(dateOctets, timeOctets) {
    const buffer = { buffer: Buffer.alloc(1482), offset: 4 };
    baNpdu.encode(buffer, 0, this.addr);
    baApdu.encodeUnconfirmedServiceRequest(buffer, 0x10, 6 /* timeSynchronization */);
    baAsn1.encodeTag(buffer, TAG.DATE, false, 4);
    for (const b of dateOctets) buffer.buffer[buffer.offset++] = b;
    baAsn1.encodeTag(buffer, TAG.TIME, false, 4);
    for (const b of timeOctets) buffer.buffer[buffer.offset++] = b;
    this.client.sendBvlc(this.addr, buffer);
  }

  // Collects what arrives after running `action`: for `ms` milliseconds, or, with
  // `until` (a predicate over the collection), until it holds and then `extra` more.
  async collect(action, { ms = SILENCE_MS, until, extra = 300, max = 3000 } = {}) {
    const t0 = Date.now();
    await action();
    if (until) {
      const end = t0 + max;
      while (Date.now() < end && !until(this.since(t0))) await sleep(10);
      await sleep(extra);
    } else {
      await sleep(ms);
    }
    return this.since(t0);
  }

  since(t0) {
    return {
      iAms: this.iAms.filter((x) => x.t >= t0),
      iHaves: this.iHaves.filter((x) => x.t >= t0),
      rx: this.rx.filter((x) => x.t >= t0),
    };
  }

  // Waits until something matching `pred` is in `list` (arrived at or after t0).
  async waitUnconfirmed(list, t0, pred, timeout = 3000) {
    return waitFor(() => this[list].find((x) => x.t >= t0 && pred(x)), { timeout, interval: 20, what: list });
  }

  // A mark in the stream of received datagrams, and what came after it.
  mark() { return this.rxCount; }

  rxAfter(mark) { return this.rx.filter((x) => x.n >= mark); }
}

// The bit numbers that are set in a BACnet bit string as decoded by the client.
export function bitsSet(bs) {
  const out = [];
  for (let i = 0; i < bs.bitsUsed; i++) if ((bs.value[i >> 3] >> (i & 7)) & 1) out.push(i);
  return out;
}

export function approx(actual, expected, relTol, what) {
  const tol = Math.abs(expected) * relTol + 1e-6;
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected} +- ${tol}, got ${actual}`);
}

// Reads Present_Value and Reliability in one ReadPropertyMultiple (a consistent pair).
export async function pvAndReliability(rig, objectId) {
  const r = await rig.rpm([{ objectId, props: [PROP.PRESENT_VALUE, PROP.RELIABILITY] }]);
  const vals = r.values[0].values;
  const pv = vals.find((v) => v.id === PROP.PRESENT_VALUE).value[0];
  const rel = vals.find((v) => v.id === PROP.RELIABILITY).value[0];
  return { pv: pv.value, pvType: pv.type, reliability: rel.value };
}

// Whether the meter has the Trend Log objects (sets scope.trendLogs, see spec.mjs).
export async function detectTrendLogs(rig) {
  const got = await outcome(rig.readProperty({ type: OT.TREND_LOG, instance: 1 }, PROP.OBJECT_IDENTIFIER));
  if (got.kind === 'ok') scope.trendLogs = true;
  else if (got.kind === 'error' && got.errorClass === ERR_CLASS.OBJECT && got.errorCode === ERR_CODE.UNKNOWN_OBJECT) scope.trendLogs = false;
  else throw new Error(`ReadProperty TL1 Object_Identifier: ${JSON.stringify(got)}`);
  return scope.trendLogs;
}

// ---- raw confirmed requests (services or encodings the client has no call for) -------
// Sends a confirmed request whose service data `encode(buffer)` writes with the client's
// exported encoders, and waits for the answer through the client's own request manager
// (so Error, Reject and Abort come back as they do for the client's calls). Resolves to
// outcome()'s { kind, value | errorClass, errorCode | reason } plus `pdu`: the headers
// (decodeHeaders) of the datagram that answered, with the raw APDU in pdu.apdu.
// maxApdu: the request's max-APDU-length-accepted code (0 = 50 ... 3 = 480, 5 = 1476).
export const asn1 = baAsn1;
export const bacnetServices = services;
export async function confirmedRequest(rig, service, encode, { maxApdu = 5, maxSegments = 0 } = {}) {
  const c = rig.client;
  const invokeId = c._getInvokeId();
  const buffer = { buffer: Buffer.alloc(1482), offset: 4 };
  baNpdu.encode(buffer, 0x04 /* expecting reply */, rig.addr);
  baApdu.encodeConfirmedServiceRequest(buffer, 0x00 /* confirmed request */, service, maxSegments, maxApdu, invokeId, 0, 0);
  encode(buffer);
  const m = rig.mark();
  const pending = c._requestManager.add(invokeId);
  c.sendBvlc(rig.addr, buffer);
  const got = await outcome(pending);
  const answer = rig.rxAfter(m).filter((x) => x.headers.invokeId === invokeId && x.headers.pduType >= PDU.SIMPLE_ACK).pop();
  return { ...got, pdu: answer?.headers };
}

// WriteProperty whose value (inside [3]) is written by `encodeValue(buffer)`.
export function writeRaw(rig, objectId, prop, encodeValue, { priority } = {}) {
  return confirmedRequest(rig, 15 /* writeProperty */, (b) => {
    baAsn1.encodeContextObjectId(b, 0, objectId.type, objectId.instance);
    baAsn1.encodeContextEnumerated(b, 1, prop);
    baAsn1.encodeOpeningTag(b, 3);
    encodeValue(b);
    baAsn1.encodeClosingTag(b, 3);
    if (priority !== undefined) baAsn1.encodeContextUnsigned(b, 4, priority);
  });
}
