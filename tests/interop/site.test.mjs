// Issue 12: interop through the BACnet router of `s4100 site` with the third-party
// client @bacnet-js/client. tests/e2e_site_interop.sh starts the site (three MS/TP
// trunks at 9600, 38400 and 76800 baud, real time) and runs this file with the site
// file and the ports in the environment; anywhere else (e2e_interop.sh runs every
// *.test.mjs) it is skipped. Expectations come from the site file read by docs/site.md's
// rules, from docs/network.md and docs/router-device.md (the router's choices, with
// their clauses of ASHRAE 135), from data/objects.csv and the datasheet (spec.mjs) —
// never from what the implementation answered.
//
// Every request goes to the router's B/IP address with the meter's network and MAC
// ({ address, net, adr }); waits are for real I/O only and bounded.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { bacnetServices, bitsSet, control, expectError, outcome, waitFor } from './lib/harness.mjs';
import { DEVICE, ERR_CLASS, ERR_CODE, OT, PROP, TAG, TL_PROP, expectedObjectList, scope } from './lib/spec.mjs';
import { NET_MSG, SiteClient, asn1, dnetList, readSite } from './lib/site.mjs';

const env = process.env;
const SKIP = env.S4100_SITE_FILE ? false : 'needs a running site: tests/e2e_site_interop.sh runs it';
const T = { timeout: 60000 };
const SETTLE_MS = 1500; // how long "nothing more" and "no answer" are waited for

// ASHRAE 135 numbers the meter's tests do not use (clause 12.56, 21).
const OT_NETWORK_PORT = 56;
const NP = {
  APDU_LENGTH: 399, IP_ADDRESS: 400, BACNET_IP_MODE: 408, IP_SUBNET_MASK: 411,
  BACNET_IP_UDP_PORT: 412, LINK_SPEED: 420, MAC_ADDRESS: 423, NETWORK_NUMBER: 425,
  NETWORK_NUMBER_QUALITY: 426, NETWORK_TYPE: 427, PROTOCOL_LEVEL: 482,
};
const NETWORK_TYPE = { MSTP: 2, IPV4: 5 };
const QUALITY_CONFIGURED = 3;
const PROTOCOL_LEVEL_BACNET_APPLICATION = 2;
const SVC = { READ_RANGE: 26, WHO_HAS: 7 };
const AV1_LOG_A_RECORD = 21211; // datasheet AV1: "log another data value on TL1-TL3"
const LOG_BUFFER_SIZE = 5760; // datasheet "Data Logging"
const STEADY_VOLTS = 277; // tests/interop/steady.ini, the meters' load

const site = SKIP ? null : readSite(env.S4100_SITE_FILE);
const routerPort = Number(env.S4100_SITE_ROUTER_PORT);
const hc = SKIP ? null : new SiteClient({ routerPort, clientPort: Number(env.S4100_SITE_CLIENT_PORT) });
scope.trendLogs = true; // the meter has TL1..TL3 (objects.test.mjs proves it)

const key = (net, adr) => `${net}:${adr.join('.')}`;
const meterKey = (m) => key(m.net, [m.mac]);
const ROUTER_KEY = key(0, []); // a local station of the B/IP network: no SNET
const show = (list) => [...list].sort().join(' ');
const DEV = (instance) => ({ type: OT.DEVICE, instance });
const AI = (instance) => ({ type: OT.AI, instance });
const AV = (instance) => ({ type: OT.AV, instance });
const TL1 = { type: OT.TREND_LOG, instance: 1 };
const NPORT = (instance) => ({ type: OT_NETWORK_PORT, instance });
const value = (r) => {
  assert.equal(r.values.length, 1, `one value, got ${JSON.stringify(r.values)}`);
  return r.values[0].value;
};
// A failed request says what it was (the client's message stays, for classify()).
const where = (to) => (to.net ? `network ${to.net} MAC ${to.adr}` : 'the router');
const labelled = (label, promise) => promise.catch((e) => { throw new Error(`${e.message} (${label})`); });
const rp = (to, obj, prop, arrayIndex) => labelled(`ReadProperty ${where(to)} ${obj.type}:${obj.instance} property ${prop}${arrayIndex === undefined ? '' : `[${arrayIndex}]`}`,
  hc.client.readProperty(to, obj, prop, arrayIndex === undefined ? {} : { arrayIndex }));
const rpm = (to, specs) => labelled(`ReadPropertyMultiple ${where(to)} ${JSON.stringify(specs)}`,
  hc.client.readPropertyMultiple(to, specs.map(([objectId, props]) => ({
    objectId, properties: props.map((p) => (typeof p === 'number' ? { id: p, index: 0xFFFFFFFF } : p)),
  }))));
const wp = (to, obj, prop, values) => labelled(`WriteProperty ${where(to)} ${obj.type}:${obj.instance} property ${prop} = ${JSON.stringify(values)}`,
  hc.client.writeProperty(to, obj, prop, values, {}));
// The results of an RPM as { 'type:instance': { prop: value | { error: [class, code] } } }.
function rpmTable(res) {
  const out = {};
  for (const o of res.values) {
    const row = (out[`${o.objectId.type}:${o.objectId.instance}`] = {});
    for (const v of o.values) {
      const e = v.value[0]?.type === 105 ? v.value[0].value : null;
      row[v.id] = e ? { error: [e.errorClass, e.errorCode] } : v.value.length === 1 ? v.value[0].value : v.value.map((x) => x.value);
    }
  }
  return out;
}
const octets = (v) => (Array.isArray(v) ? v : [...Buffer.from(v)]);

// I-Ams that answer `send()`: { key: [deviceId, ...] } once `want` keys all came and
// SETTLE_MS passed with nothing more (or 15 s at most).
async function iAmsAfter(send, wantKeys) {
  const m = hc.mark();
  send();
  const got = () => hc.eventsAfter(m, 'iAm');
  const end = Date.now() + 15000;
  while (Date.now() < end && !wantKeys.every((k) => got().some((e) => key(e.from.net, e.from.adr) === k))) await sleep(20);
  await sleep(SETTLE_MS);
  const by = {};
  for (const e of got()) (by[key(e.from.net, e.from.adr)] ??= []).push(e.payload.deviceId);
  return by;
}

// Every device answers once, with its own instance.
function expectDevices(by, want, what) {
  const wantKeys = Object.keys(want);
  assert.equal(show(Object.keys(by)), show(wantKeys), `${what}: the devices that answered (network:MAC)`);
  for (const k of wantKeys) assert.deepEqual(by[k], [want[k]], `${what}: I-Ams from ${k} (expected device ${want[k]} once)`);
}

const expected = (meters, withRouter) => Object.fromEntries([
  ...(withRouter ? [[ROUTER_KEY, site.routerInstance]] : []),
  ...meters.map((m) => [meterKey(m), m.instance]),
]);

// A meter's AV: Present_Value and Reliability in one RPM.
async function pvRel(m, obj) {
  const t = rpmTable(await rpm(hc.at(m), [[obj, [PROP.PRESENT_VALUE, PROP.RELIABILITY]]]));
  const row = t[`${obj.type}:${obj.instance}`];
  return { pv: row[PROP.PRESENT_VALUE], reliability: row[PROP.RELIABILITY] };
}

async function routerStats() {
  const s = JSON.parse(await control(env.S4100_SITE_CONTROL, 'status'));
  return s.router;
}

describe('s4100 site: interop through the router with @bacnet-js/client', { skip: SKIP, timeout: 240000 }, () => {
  const oneOf = () => site.trunks.map((t) => t.meters[0]);
  let stats0;
  const haves = {};

  before(async () => {
    assert.ok(site.trunks.length >= 3 && site.trunks.every((t) => t.meters.length >= 3), 'the site has 3 trunks of 3 meters or more');
    await hc.start();
    stats0 = await routerStats();
    // Barrier: a global Who-Has for AI1 is answered by every meter with an I-Have that
    // waits in its queue behind its start-up I-Am, so once every I-Have came, no
    // start-up I-Am is still on its way to count twice in the Who-Is tests.
    const m = hc.mark();
    hc.unconfirmedTo(0xFFFF, SVC.WHO_HAS, (b) => asn1.encodeContextObjectId(b, 2, OT.AI, 1));
    const missing = () => site.meters.map(meterKey).filter((k) => !hc.eventsAfter(m, 'iHave').some((e) => key(e.from.net, e.from.adr) === k));
    // (Not thrown here: the Who-Has test says what is missing, the others go on.)
    await waitFor(() => missing().length === 0, { timeout: 30000, interval: 20 }).catch(() => {});
    await sleep(SETTLE_MS);
    for (const e of hc.eventsAfter(m, 'iHave')) (haves[key(e.from.net, e.from.adr)] ??= []).push(e.payload);
  });
  after(() => hc?.close());

  describe('discovery', () => {
    it('Who-Has (global, AI1): one I-Have from each meter, with its network, MAC and instance; none from the router', T, () => {
      assert.equal(show(Object.keys(haves)), show(site.meters.map(meterKey)), 'who answered');
      for (const m of site.meters) {
        const h = haves[meterKey(m)];
        assert.equal(h.length, 1, `${meterKey(m)}: ${h.length} I-Haves`);
        assert.deepEqual({ device: h[0].deviceId, object: h[0].objectId, name: h[0].objectName },
          { device: { type: OT.DEVICE, instance: m.instance }, object: AI(1), name: 'KWh_Net' }, `I-Have of ${meterKey(m)}`);
      }
    });

    it('global Who-Is (DNET 0xFFFF): every meter once at its network and MAC with its instance, and the router device (no SNET)', T, async () => {
      const want = expected(site.meters, true);
      const m = hc.mark();
      const by = await iAmsAfter(() => hc.client.whoIs({ net: 0xFFFF }), Object.keys(want));
      expectDevices(by, want, 'global Who-Is');
      // On the wire: each meter's I-Am is a global broadcast the router passed on with
      // SNET/SADR and one hop spent (clause 6.5); the router's own carries no SNET.
      const iAms = hc.after(m).filter((x) => x.d.pduType === 1 && x.d.service === 0);
      for (const x of iAms) {
        const k = x.d.snet === undefined ? ROUTER_KEY : key(x.d.snet, x.d.sadr);
        assert.equal(x.from, hc.router.address, `${k}: from the router's address`);
        assert.deepEqual({ bvlc: x.d.bvlc, dnet: x.d.dnet }, { bvlc: 0x0b, dnet: 0xFFFF }, `${k}: a global broadcast`);
        if (k !== ROUTER_KEY) assert.equal(x.d.hopCount, 254, `${k}: hop count after one router`);
      }
      for (const x of hc.eventsAfter(m, 'iAm')) {
        const p = x.payload;
        assert.deepEqual({ maxApdu: p.maxApdu, segmentation: p.segmentation },
          { maxApdu: DEVICE.maxApdu, segmentation: DEVICE.segmentation }, `I-Am of ${key(x.from.net, x.from.adr)}`);
        if (x.from.net) assert.equal(p.vendorId, DEVICE.vendorIdentifier, `I-Am of ${key(x.from.net, x.from.adr)}: vendor`);
      }
    });

    it('Who-Is with a range across two trunks: exactly the meters in it', T, async () => {
      const [low, high] = [site.trunks[0].meters[1].instance, site.trunks[1].meters[2].instance];
      const inside = site.meters.filter((m) => m.instance >= low && m.instance <= high);
      assert.ok(new Set(inside.map((m) => m.net)).size >= 2, 'the range spans two trunks');
      const by = await iAmsAfter(() => hc.client.whoIs({ net: 0xFFFF }, { lowLimit: low, highLimit: high }), inside.map(meterKey));
      expectDevices(by, expected(inside, false), `Who-Is ${low}..${high}`);
    });

    it('Who-Is with the router\'s instance: the router alone; above it: nobody', T, async () => {
      const r = site.routerInstance;
      expectDevices(await iAmsAfter(() => hc.client.whoIs({ net: 0xFFFF }, { lowLimit: r, highLimit: r }), [ROUTER_KEY]),
        expected([], true), `Who-Is ${r}..${r}`);
      expectDevices(await iAmsAfter(() => hc.client.whoIs({ net: 0xFFFF }, { lowLimit: r + 1, highLimit: 4194302 }), []),
        {}, `Who-Is ${r + 1}..4194302`);
    });

    it('Who-Is to one remote network (DNET = a trunk, DLEN 0): that trunk\'s meters, and the router as a station of it (docs/network.md)', T, async () => {
      const t = site.trunks[1];
      const by = await iAmsAfter(() => hc.client.whoIs({ net: t.net }), [ROUTER_KEY, ...t.meters.map(meterKey)]);
      expectDevices(by, expected(t.meters, true), `Who-Is to network ${t.net}`);
    });

    it('Who-Is to one remote network with a range: only that trunk\'s meters in the range', T, async () => {
      const t = site.trunks[2];
      const ms = t.meters.map((m) => m.instance).sort((a, b) => a - b);
      // From the site's lowest instance: the other trunks' meters are in the range too,
      // and must not answer; the trunk's highest is not.
      const [low, high] = [Math.min(...site.meters.map((m) => m.instance)), ms[ms.length - 2]];
      const inside = t.meters.filter((m) => m.instance >= low && m.instance <= high);
      assert.ok(site.meters.some((m) => m.net !== t.net && m.instance >= low && m.instance <= high) &&
        inside.length < t.meters.length, `the range ${low}..${high} holds other trunks' meters and not all of network ${t.net}'s`);
      const by = await iAmsAfter(() => hc.client.whoIs({ net: t.net }, { lowLimit: low, highLimit: high }), inside.map(meterKey));
      expectDevices(by, expected(inside, false), `Who-Is ${low}..${high} to network ${t.net}`);
    });
  });

  describe('meters through the router, on every trunk', () => {
    before(async () => {
      // The first 1 s cycle of every meter done (its readings measured).
      for (const m of oneOf()) {
        await waitFor(async () => Math.abs(value(await rp(hc.at(m), AI(16), PROP.PRESENT_VALUE)) - STEADY_VOLTS) < 3,
          { timeout: 20000, interval: 200, what: `${meterKey(m)} AI16 to read ${STEADY_VOLTS} V` });
      }
    });

    it('ReadProperty: every meter\'s Device Object_Identifier and Object_Name (its serial, docs/site.md)', T, async () => {
      for (const m of site.meters) {
        const at = `meter ${meterKey(m)} (baud ${m.trunk.baud})`;
        assert.deepEqual(value(await rp(hc.at(m), DEV(m.instance), PROP.OBJECT_IDENTIFIER)), DEV(m.instance), `${at}: Object_Identifier`);
        assert.equal(value(await rp(hc.at(m), DEV(4194303), PROP.OBJECT_NAME)), DEVICE.objectName(m.serial), `${at}: Object_Name through the wildcard instance`);
      }
    });

    it('ReadProperty: readings and arrays on each trunk (AI16, Object_List[0], Object_List[1])', T, async () => {
      for (const m of oneOf()) {
        const at = `meter ${meterKey(m)}`;
        const v = value(await rp(hc.at(m), AI(16), PROP.PRESENT_VALUE));
        assert.ok(Math.abs(v - STEADY_VOLTS) <= STEADY_VOLTS * 0.01, `${at}: AI16 Volts_LN_Avg ${v}, expected ${STEADY_VOLTS} +- 1 %`);
        assert.equal(value(await rp(hc.at(m), DEV(m.instance), PROP.OBJECT_LIST, 0)), expectedObjectList(m.instance).length, `${at}: Object_List[0]`);
        assert.deepEqual(value(await rp(hc.at(m), DEV(m.instance), PROP.OBJECT_LIST, 1)), DEV(m.instance), `${at}: Object_List[1]`);
        await expectError(rp(hc.at(m), AI(84), PROP.PRESENT_VALUE), ERR_CLASS.OBJECT, ERR_CODE.UNKNOWN_OBJECT, `${at}: AI84`);
      }
    });

    it('ReadPropertyMultiple: several objects and properties, an error inside the ACK, on each trunk', T, async () => {
      for (const m of oneOf()) {
        const at = `meter ${meterKey(m)} (baud ${m.trunk.baud})`;
        const t = rpmTable(await rpm(hc.at(m), [
          [DEV(m.instance), [PROP.OBJECT_IDENTIFIER, PROP.OBJECT_NAME, PROP.PROTOCOL_REVISION, PROP.MAX_MASTER, PROP.MAX_INFO_FRAMES, PROP.VENDOR_IDENTIFIER]],
          [AI(16), [PROP.PRESENT_VALUE, PROP.UNITS, PROP.OBJECT_NAME]],
          [AV(2), [PROP.PRESENT_VALUE, PROP.POLARITY]],
          [TL1, [TL_PROP.LOG_INTERVAL, TL_PROP.BUFFER_SIZE]],
          [AI(84), [PROP.PRESENT_VALUE]],
        ]));
        const d = t[`8:${m.instance}`];
        assert.deepEqual(d, {
          [PROP.OBJECT_IDENTIFIER]: DEV(m.instance), [PROP.OBJECT_NAME]: DEVICE.objectName(m.serial),
          [PROP.PROTOCOL_REVISION]: DEVICE.protocolRevision,
          [PROP.MAX_MASTER]: m.trunk.maxMaster, [PROP.MAX_INFO_FRAMES]: m.trunk.maxInfoFrames,
          [PROP.VENDOR_IDENTIFIER]: DEVICE.vendorIdentifier,
        }, `${at}: Device (Max_Master and Max_Info_Frames as the site file commissions them)`);
        const ai = t['0:16'];
        assert.ok(Math.abs(ai[PROP.PRESENT_VALUE] - STEADY_VOLTS) <= STEADY_VOLTS * 0.01, `${at}: AI16 ${ai[PROP.PRESENT_VALUE]}`);
        assert.deepEqual([ai[PROP.UNITS], ai[PROP.OBJECT_NAME]], [5, 'Volts_LN_Avg'], `${at}: AI16 Units (volts), Object_Name`);
        assert.deepEqual(t['2:2'], { [PROP.PRESENT_VALUE]: 40, [PROP.POLARITY]: { error: [ERR_CLASS.PROPERTY, ERR_CODE.UNKNOWN_PROPERTY] } },
          `${at}: AV2 System_Type 40, and no Polarity`);
        assert.deepEqual(t['20:1'], { [TL_PROP.LOG_INTERVAL]: 0, [TL_PROP.BUFFER_SIZE]: LOG_BUFFER_SIZE },
          `${at}: TL1 (Log_Interval 0: sync-to-comms, the site's profile)`);
        assert.deepEqual(t['0:84'], { [PROP.PRESENT_VALUE]: { error: [ERR_CLASS.OBJECT, ERR_CODE.UNKNOWN_OBJECT] } }, `${at}: AI84`);
      }
    });

    it('WriteProperty: an AV setting written and read back; bad values refused with their error; on each trunk', T, async () => {
      const AV8 = AV(8); // Phase_Loss_Voltage_Threshold, 1..99 %, default 10
      for (const m of oneOf()) {
        const at = `meter ${meterKey(m)} (baud ${m.trunk.baud})`;
        const before = await pvRel(m, AV8);
        assert.deepEqual(before, { pv: 10, reliability: 0 }, `${at}: AV8 before`);
        const w = await outcome(wp(hc.at(m), AV8, PROP.PRESENT_VALUE, [{ type: TAG.REAL, value: 15 }]));
        assert.equal(w.kind, 'ok', `${at}: AV8 = 15: expected Simple-ACK, got ${JSON.stringify(w)}`);
        // Committed at the end of the next 1 s cycle (DECISIONS M14); until then
        // Reliability says the value is not current.
        await waitFor(async () => {
          const r = await pvRel(m, AV8);
          return r.pv === 15 && r.reliability === 0 ? r : false;
        }, { timeout: 10000, interval: 200, what: `${at}: AV8 to read 15 with Reliability no-fault` });
        for (const [v, cls, code] of [[100, ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE], [0, ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE]]) {
          await expectError(wp(hc.at(m), AV8, PROP.PRESENT_VALUE, [{ type: TAG.REAL, value: v }]), cls, code, `${at}: AV8 = ${v}`);
        }
        await expectError(wp(hc.at(m), AV8, PROP.PRESENT_VALUE, [{ type: TAG.CHARACTER_STRING, value: '15' }]),
          ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, `${at}: AV8 = "15"`);
        await expectError(wp(hc.at(m), AI(16), PROP.PRESENT_VALUE, [{ type: TAG.REAL, value: 1 }]),
          ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, `${at}: AI16`);
        assert.deepEqual(await pvRel(m, AV8), { pv: 15, reliability: 0 }, `${at}: AV8 after the refused writes`);
      }
    });

    it('ReadRange: AV1 = 21211 logs one record (sync-to-comms), read back by position from TL1, on each trunk', T, async () => {
      const counts = async (m) => {
        const t = rpmTable(await rpm(hc.at(m), [[TL1, [TL_PROP.RECORD_COUNT, TL_PROP.TOTAL_RECORD_COUNT]]]))['20:1'];
        return { count: t[TL_PROP.RECORD_COUNT], total: t[TL_PROP.TOTAL_RECORD_COUNT] };
      };
      for (const m of site.trunks.map((t) => t.meters[t.meters.length - 1])) {
        const at = `meter ${meterKey(m)} (baud ${m.trunk.baud})`;
        const c0 = await counts(m);
        const w = await outcome(wp(hc.at(m), AV(1), PROP.PRESENT_VALUE, [{ type: TAG.REAL, value: AV1_LOG_A_RECORD }]));
        assert.equal(w.kind, 'ok', `${at}: AV1 = ${AV1_LOG_A_RECORD}: ${JSON.stringify(w)}`);
        const c1 = await waitFor(async () => {
          const c = await counts(m);
          return c.total > c0.total ? c : false;
        }, { timeout: 10000, interval: 200, what: `${at}: a TL1 record after AV1 = ${AV1_LOG_A_RECORD}` });
        assert.deepEqual(c1, { count: c0.count + 1, total: c0.total + 1 }, `${at}: exactly one record more`);
        const kwh = value(await rp(hc.at(m), AI(2), PROP.PRESENT_VALUE));
        // By position, every record, routed with hop count 255 (see the next test for why
        // not the client's readRange).
        const got = await hc.confirmed(hc.at(m), SVC.READ_RANGE, (b) => {
          asn1.encodeContextObjectId(b, 0, TL1.type, TL1.instance);
          asn1.encodeContextEnumerated(b, 1, TL_PROP.LOG_BUFFER);
          asn1.encodeOpeningTag(b, 3);
          asn1.encodeApplicationUnsigned(b, 1);
          asn1.encodeApplicationSigned(b, c1.count);
          asn1.encodeClosingTag(b, 3);
        }, { maxApdu: 3 });
        assert.equal(got.kind, 'ok', `${at}: ReadRange: ${JSON.stringify({ ...got, answer: undefined })}`);
        assert.deepEqual({ snet: got.answer.d.snet, sadr: got.answer.d.sadr }, { snet: m.net, sadr: [m.mac] }, `${at}: the ACK's source`);
        const apdu = got.answer.d.apdu;
        const r = bacnetServices.ReadRange.decodeAcknowledge(apdu, 3, apdu.length - 3);
        assert.ok(r, `${at}: the ReadRange-ACK decodes: ${apdu.toString('hex')}`);
        assert.deepEqual({ object: r.objectId, prop: r.property.id, items: r.itemCount, records: r.values.length, flags: bitsSet(r.resultFlag) },
          { object: TL1, prop: TL_PROP.LOG_BUFFER, items: c1.count, records: c1.count, flags: [0, 1] }, `${at}: ReadRange-ACK (first-item, last-item)`);
        const last = r.values[r.values.length - 1];
        assert.ok(!last.isLogStatus && !last.isTimeChange && typeof last.value === 'number', `${at}: the newest record is a data record: ${JSON.stringify(last)}`);
        assert.ok(last.value >= 0 && last.value <= kwh, `${at}: the logged energy ${last.value} kWh, at most AI2 now (${kwh})`);
      }
    });

    it('ReadProperty to the router at its MAC on each trunk (DNET = the trunk, DADR = the router\'s MAC there: for the router)', T, async () => {
      for (const t of site.trunks) {
        const r = await rp({ address: hc.router.address, net: t.net, adr: [t.routerMac] }, DEV(4194303), PROP.OBJECT_IDENTIFIER);
        assert.deepEqual(value(r), DEV(site.routerInstance), `network ${t.net} MAC ${t.routerMac}: the router device`);
      }
    });
  });

  describe('the router', () => {
    it('Who-Is-Router-To-Network (broadcast, no DNET): one I-Am-Router-To-Network, broadcast, listing every trunk', T, async () => {
      const m = hc.mark();
      hc.sendNpdu([0x01, 0x80, NET_MSG.WHO_IS_ROUTER], { broadcast: true });
      const got = await hc.collect(m, (l) => l.some((x) => x.d.messageType === NET_MSG.I_AM_ROUTER));
      const ans = got.filter((x) => x.d.messageType === NET_MSG.I_AM_ROUTER);
      assert.equal(ans.length, 1, `I-Am-Router-To-Network answers: ${ans.map((x) => x.raw.toString('hex')).join(' ')}`);
      assert.deepEqual({ from: ans[0].from, bvlc: ans[0].d.bvlc, control: ans[0].d.control, dnets: dnetList(ans[0].d.body).sort((a, b) => a - b) },
        { from: hc.router.address, bvlc: 0x0b, control: 0x80, dnets: site.trunks.map((t) => t.net) },
        `I-Am-Router-To-Network ${ans[0].raw.toString('hex')}`);
    });

    it('Who-Is-Router-To-Network unicast for one trunk: that network alone', T, async () => {
      const t = site.trunks[2];
      const m = hc.mark();
      hc.sendNpdu([0x01, 0x80, NET_MSG.WHO_IS_ROUTER, t.net >> 8, t.net & 0xFF]);
      const got = await hc.collect(m, (l) => l.some((x) => x.d.messageType === NET_MSG.I_AM_ROUTER));
      const ans = got.filter((x) => x.d.messageType === NET_MSG.I_AM_ROUTER);
      assert.equal(ans.length, 1, `answers: ${ans.map((x) => x.raw.toString('hex')).join(' ')}`);
      assert.deepEqual(dnetList(ans[0].d.body), [t.net], `I-Am-Router-To-Network ${ans[0].raw.toString('hex')}`);
    });

    it('Who-Is-Router-To-Network for an unknown network, or for the asker\'s own: no answer on B/IP', T, async () => {
      for (const net of [999, site.bipNet]) {
        const m = hc.mark();
        hc.sendNpdu([0x01, 0x80, NET_MSG.WHO_IS_ROUTER, net >> 8, net & 0xFF], { broadcast: true });
        await sleep(SETTLE_MS);
        const ans = hc.after(m).filter((x) => x.from === hc.router.address);
        assert.deepEqual(ans.map((x) => x.raw.toString('hex')), [], `network ${net}: expected silence`);
      }
    });

    it('a request to an unknown network: Reject-Message-To-Network, reason 1, DNET 999, to the sender', T, async () => {
      const m = hc.mark();
      // ReadProperty of Device 4194303 Object_Identifier to network 999, MAC 5.
      hc.sendNpdu([0x01, 0x24, 0x03, 0xE7, 0x01, 0x05, 0xFF, 0x02, 0x05, 0x7E, 0x0C, 0x0C, 0x02, 0x3F, 0xFF, 0xFF, 0x19, 0x4B]);
      const got = await hc.collect(m, (l) => l.some((x) => x.d.messageType === NET_MSG.REJECT));
      const ans = got.filter((x) => x.from === hc.router.address);
      assert.deepEqual(ans.map((x) => x.raw.toString('hex')), ['810a000a0180030103e7'],
        'expected exactly one Original-Unicast Reject-Message-To-Network (reason 1: no route to 999), nothing else');
    });

    it('an NPDU arriving with hop count 0 is not forwarded (clause 6.2.2) — what the client\'s readRange sends', T, async () => {
      const m = hc.mark();
      const target = site.trunks[0].meters[0];
      const p = outcome(hc.client.readRange(hc.at(target), TL1, 1, 1));
      await sleep(SETTLE_MS);
      const sent = hc.after(m);
      assert.equal(sent.length, 0, `no answer expected, got ${sent.map((x) => x.raw.toString('hex')).join(' ')}`);
      p.then(() => {}); // times out later, or the client closes it
    });

    it('its Device object by ReadProperty: identity, Protocol_Revision 19, the Object_List (Device + a Network_Port a port)', T, async () => {
      const dev = DEV(site.routerInstance);
      const nports = site.trunks.length + 1;
      const rd = async (p, i) => value(await rp(hc.router, dev, p, i));
      assert.deepEqual(await rd(PROP.OBJECT_IDENTIFIER), dev, 'Object_Identifier');
      assert.equal(await rd(PROP.OBJECT_NAME), site.name, 'Object_Name: the site\'s name');
      assert.equal(await rd(PROP.OBJECT_TYPE), OT.DEVICE, 'Object_Type');
      assert.equal(await rd(PROP.PROTOCOL_VERSION), 1, 'Protocol_Version');
      assert.equal(await rd(PROP.PROTOCOL_REVISION), 19, 'Protocol_Revision (docs/router-device.md)');
      assert.equal(await rd(PROP.SYSTEM_STATUS), 0, 'System_Status operational');
      assert.equal(await rd(PROP.SEGMENTATION_SUPPORTED), 3, 'no segmentation');
      assert.equal(await rd(PROP.MAX_APDU_LENGTH_ACCEPTED), 480, 'Max_APDU_Length_Accepted');
      const list = (await rp(hc.router, dev, PROP.OBJECT_LIST)).values.map((v) => v.value);
      assert.deepEqual(list, [dev, ...Array.from({ length: nports }, (_, k) => NPORT(k + 1))], 'Object_List');
      assert.equal(await rd(PROP.OBJECT_LIST, 0), nports + 1, 'Object_List[0]');
      assert.deepEqual(await rd(PROP.OBJECT_LIST, nports + 1), NPORT(nports), `Object_List[${nports + 1}]`);
      await expectError(rp(hc.router, dev, PROP.OBJECT_LIST, nports + 2), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_ARRAY_INDEX, `Object_List[${nports + 2}]`);
      await expectError(rp(hc.router, NPORT(nports + 1), PROP.OBJECT_NAME), ERR_CLASS.OBJECT, ERR_CODE.UNKNOWN_OBJECT, `Network_Port ${nports + 1}`);
    });

    // Port 0 is B/IP, port k the k-th trunk by network (docs/router-device.md, site.md).
    const ports = () => [
      { instance: 1, net: site.bipNet, type: NETWORK_TYPE.IPV4, speed: 100e6 },
      ...site.trunks.map((t, k) => ({ instance: k + 2, net: t.net, type: NETWORK_TYPE.MSTP, apdu: 480, speed: t.baud, trunk: t })),
    ];

    it('each Network_Port by ReadProperty: number, type, MAC, link speed, Max_Master on MS/TP', T, async () => {
      for (const p of ports()) {
        const at = `Network_Port ${p.instance}`;
        const rd = async (prop) => value(await rp(hc.router, NPORT(p.instance), prop));
        assert.equal(await rd(PROP.OBJECT_NAME), `Network Port ${p.instance}`, `${at}: Object_Name`);
        assert.equal(await rd(NP.NETWORK_NUMBER), p.net, `${at}: Network_Number`);
        assert.equal(await rd(NP.NETWORK_NUMBER_QUALITY), QUALITY_CONFIGURED, `${at}: Network_Number_Quality`);
        assert.equal(await rd(NP.NETWORK_TYPE), p.type, `${at}: Network_Type`);
        assert.equal(await rd(NP.PROTOCOL_LEVEL), PROTOCOL_LEVEL_BACNET_APPLICATION, `${at}: Protocol_Level`);
        if (p.trunk) assert.equal(await rd(NP.APDU_LENGTH), p.apdu, `${at}: APDU_Length`);
        assert.equal(await rd(NP.LINK_SPEED), p.speed, `${at}: Link_Speed`);
        const mac = octets(await rd(NP.MAC_ADDRESS));
        if (p.trunk) {
          assert.deepEqual(mac, [p.trunk.routerMac], `${at}: MAC_Address (the router's MAC on network ${p.net})`);
          assert.equal(await rd(PROP.MAX_MASTER), p.trunk.maxMaster, `${at}: Max_Master`);
          assert.equal(await rd(PROP.MAX_INFO_FRAMES), p.trunk.maxInfoFrames, `${at}: Max_Info_Frames`);
          await expectError(rp(hc.router, NPORT(p.instance), NP.IP_ADDRESS), ERR_CLASS.PROPERTY, ERR_CODE.UNKNOWN_PROPERTY, `${at}: IP_Address`);
        } else {
          assert.equal(mac.length, 6, `${at}: MAC_Address is a B/IP address: ${mac}`);
          assert.equal(mac[4] << 8 | mac[5], routerPort, `${at}: MAC_Address's port`);
          assert.equal(await rd(NP.BACNET_IP_UDP_PORT), routerPort, `${at}: BACnet_IP_UDP_Port`);
          assert.deepEqual(octets(await rd(NP.IP_ADDRESS)), mac.slice(0, 4), `${at}: IP_Address = MAC_Address's address`);
          assert.equal(await rd(NP.BACNET_IP_MODE), 0, `${at}: BACnet_IP_Mode normal`);
          await expectError(rp(hc.router, NPORT(p.instance), PROP.MAX_MASTER), ERR_CLASS.PROPERTY, ERR_CODE.UNKNOWN_PROPERTY, `${at}: Max_Master`);
        }
      }
    });

    it('the Device and every Network_Port in one ReadPropertyMultiple, errors inside the ACK', T, async () => {
      const dev = DEV(site.routerInstance);
      const t = rpmTable(await rpm(hc.router, [
        // (Index 0 cannot be asked: the client drops a falsy index from the request.)
        [dev, [PROP.OBJECT_NAME, PROP.PROTOCOL_REVISION, { id: PROP.OBJECT_LIST, index: ports().length + 1 }]],
        ...ports().map((p) => [NPORT(p.instance), [NP.NETWORK_NUMBER, NP.NETWORK_TYPE, NP.MAC_ADDRESS, NP.LINK_SPEED, PROP.MAX_MASTER]]),
      ]));
      assert.deepEqual(t[`8:${site.routerInstance}`], { [PROP.OBJECT_NAME]: site.name, [PROP.PROTOCOL_REVISION]: 19, [PROP.OBJECT_LIST]: NPORT(ports().length) }, 'Device');
      for (const p of ports()) {
        const row = t[`56:${p.instance}`];
        const at = `Network_Port ${p.instance}`;
        assert.deepEqual({ ...row, [NP.MAC_ADDRESS]: undefined }, {
          [NP.NETWORK_NUMBER]: p.net, [NP.NETWORK_TYPE]: p.type, [NP.LINK_SPEED]: p.speed, [NP.MAC_ADDRESS]: undefined,
          [PROP.MAX_MASTER]: p.trunk ? p.trunk.maxMaster : { error: [ERR_CLASS.PROPERTY, ERR_CODE.UNKNOWN_PROPERTY] },
        }, at);
        assert.equal(octets(row[NP.MAC_ADDRESS]).length, p.trunk ? 1 : 6, `${at}: MAC_Address length`);
        if (p.trunk) assert.deepEqual(octets(row[NP.MAC_ADDRESS]), [p.trunk.routerMac], `${at}: MAC_Address`);
      }
    });

    it('the B/IP Network_Port names an address a client can reach (not 0.0.0.0 when bound to every interface)',
      T, async () => {
        const ip = octets(value(await rp(hc.router, NPORT(1), NP.IP_ADDRESS)));
        assert.deepEqual(ip, [127, 0, 0, 1], 'IP_Address: where its broadcasts to 127.255.255.255 leave from');
        const mask = octets(value(await rp(hc.router, NPORT(1), NP.IP_SUBNET_MASK)));
        assert.deepEqual(mask, [255, 0, 0, 0], 'IP_Subnet_Mask: lo is a /8');
      });

    it('the B/IP Network_Port\'s APDU_Length is what this router carries there, 480 (docs/router-device.md)',
      T, async () => {
        assert.equal(value(await rp(hc.router, NPORT(1), NP.APDU_LENGTH)), 480);
      });

    it('its counters: nothing dropped but the hop-count-0 NPDU, one Reject (network 999)', T, async () => {
      const s = await routerStats();
      assert.deepEqual({ dropped: s.dropped - stats0.dropped, rejected: s.rejected - stats0.rejected }, { dropped: 1, rejected: 1 },
        `router counters before ${JSON.stringify(stats0)}, now ${JSON.stringify(s)}`);
    });
  });
});
