// Issue 14: the firmware (src/port/mps2 under QEMU, its MS/TP UART on a pty) as a BMS
// reaches it: through the router of `s4100 site`, with the third-party client
// @bacnet-js/client on loopback B/IP. tests/e2e_firmware_interop.sh starts the firmware,
// the site (a trunk on the firmware's line, and a virtual trunk with a host meter on the
// same load: scenarios/default.ini's [meter] and steady [signal], what gen.c
// synthesizes) and runs this file with the site file and the ports in the environment;
// anywhere else (e2e_interop.sh runs every *.test.mjs) it is skipped.
//
// The host meter is the reference: every object of the firmware meter, every property,
// is read over MS/TP and compared with the host meter's — same Object_List, same
// property sets and datatypes, identical configuration and state, measured values within
// the meter's class. What must differ is excluded, each with its reason (EXCLUDED).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { classify, waitFor } from './lib/harness.mjs';
import { ABORT_SEGMENTATION_NOT_SUPPORTED, DEVICE_REQUIRED_PROPS, OT, PROP, TL_PROP } from './lib/spec.mjs';
import { SiteClient, readSite } from './lib/site.mjs';

const env = process.env;
const SKIP = env.S4100_FW_SITE_FILE ? false : 'needs the firmware under QEMU in a site: tests/e2e_firmware_interop.sh runs it';
const T = { timeout: 300000 };
const SETTLE_MS = 1500; // after the last awaited I-Am: "nobody else answers"
const RETRIES = 1; // a BMS's Number_Of_APDU_Retries: a reply lost on the line
const WHO_IS_TRIES = 3;
const WHO_IS_WAIT_MS = 5000;

// The comparison's tolerance for measured values, relative. The Series 4100 is a class
// 0.2 meter (datasheet: ANSI C12.20 0.2 %, IEC 62053-22 class 0.2S): two meters of the
// class on one load may differ by that much and both be right. What separates these two
// is far smaller — the firmware synthesizes and measures in single precision (gen.c,
// docs/metering.md: 24-bit mantissas, sums re-anchored each cycle), the host in double
// — so a difference at the class limit is a real fault, not rounding.
const CLASS_TOL = 0.002;
const TAG_ERROR = 105; // how the client marks an error inside an RPM ACK

// AI Present_Values that accumulate since power-up (kWh, kVARh, kVAh: AI1..AI10,
// AI31..AI54). The two meters were powered up seconds apart, so their registers differ
// by the energy of those seconds. Each is compared as a ratio to KWh_Import (AI2), read
// in the same ReadPropertyMultiple (one 1 s cycle's values: the meter updates its
// registers together at the end of a cycle): on a steady load every register grows in
// proportion to its power, so E/E_ref is the ratio of two powers (Q/P, S/P, P_A/P, ...)
// from the first cycle on, whatever the uptime. Increments over an interval would also
// do, but need two reads timed alike on both meters; a ratio needs one.
const ENERGY_AI = [...range(1, 10), ...range(31, 54)];
const REF_AI = 2;
// AI29 Pulse Count: whole contact closures (one every 4 s, 100 ms long): a ratio to
// energy would be off by up to a pulse. Each meter's count is checked against its own
// metered time, AI2 / AI11 (kWh / kW: hours at this steady power), read in the same RPM:
// both must count one pulse per 4 s, give or take the pulse in progress.
const PULSE_AI = 29;
const KW_AI = 11;
const PULSE_PERIOD_S = 4; // scenarios/default.ini pulse_rate = 0.25

// Per property: what may not be compared, and why. The rest must be equal (or within
// CLASS_TOL for measured Present_Values, as ratios for energy).
const EXCLUDED = {
  // The Device's instance is the one thing a site must give each device its own
  // (firmware --device, the site file's rule for the host meter); checked against those.
  [`${OT.DEVICE}:${PROP.OBJECT_IDENTIFIER}`]: 'each device its own instance',
  // Both clocks run from power-up with nobody to set them (no TimeSynchronization on
  // this site): they read their own uptimes, which differ by the start-up order.
  [`${OT.DEVICE}:${PROP.LOCAL_DATE}`]: 'unset clock: the date of its uptime',
  [`${OT.DEVICE}:${PROP.LOCAL_TIME}`]: 'unset clock: its uptime',
  // Log_Buffer is read with ReadRange only: ReadProperty and RPM answer an error
  // (clause 12.25.17) — not a value to compare.
  [`${OT.TREND_LOG}:${TL_PROP.LOG_BUFFER}`]: 'read by ReadRange only',
};

function range(a, b) { return Array.from({ length: b - a + 1 }, (_, k) => a + k); }
const oid = (type, instance) => ({ type, instance });
const label = (o) => `${{ 0: 'AI', 2: 'AV', 3: 'BI', 8: 'DEV', 20: 'TL' }[o.type] ?? o.type}${o.type === OT.DEVICE ? '' : o.instance}`;
const key = (net, adr) => `${net}:${adr.join('.')}`;

const site = SKIP ? null : readSite(env.S4100_FW_SITE_FILE);
const hc = SKIP ? null : new SiteClient({ routerPort: Number(env.S4100_FW_ROUTER_PORT), clientPort: Number(env.S4100_FW_CLIENT_PORT) });
// The two meters: the firmware on the trunk bridged to QEMU's line (its instance and
// MAC from its command line), the host meter alone on the other trunk.
const fw = SKIP ? null : (() => {
  const trunk = site.trunks.find((t) => t.pty);
  return { name: 'firmware', net: trunk.net, mac: Number(env.S4100_FW_MAC), instance: Number(env.S4100_FW_DEVICE) };
})();
const host = SKIP ? null : (() => {
  assert.equal(site.meters.length, 1, 'the site has one host meter');
  const m = site.meters[0];
  return { name: 'host', net: m.net, mac: m.mac, instance: m.instance };
})();
const stats = { requests: 0, retries: 0 };

// A confirmed request with the BMS's retry (a lost reply is retried once; an Error,
// Reject or Abort is an answer).
async function ask(what, call) {
  for (let attempt = 0; ; attempt++) {
    stats.requests++;
    try {
      return await call();
    } catch (e) {
      if (classify(e).kind !== 'timeout' || attempt >= RETRIES) throw new Error(`${e.message} (${what})`);
      stats.retries++;
      console.log(`# retry: ${what}`);
    }
  }
}
const at = (m) => hc.at(m);
const rp = (m, obj, prop, arrayIndex) => ask(`ReadProperty ${m.name} ${label(obj)} ${prop}${arrayIndex === undefined ? '' : `[${arrayIndex}]`}`,
  () => hc.client.readProperty(at(m), obj, prop, arrayIndex === undefined ? {} : { arrayIndex }));
const rpm = (m, specs) => ask(`ReadPropertyMultiple ${m.name} ${specs.map(([o, ps]) => `${label(o)}:${ps.join(',')}`).join(' ')}`,
  () => hc.client.readPropertyMultiple(at(m), specs.map(([objectId, props]) => ({
    objectId, properties: props.map((p) => ({ id: p, index: 0xFFFFFFFF })),
  }))));
const single = (r) => {
  assert.equal(r.values.length, 1, `one value: ${JSON.stringify(r.values)}`);
  return r.values[0].value;
};

// An RPM ACK as [{ objectId, props: Map(id -> [{ type, value }]) }].
const rows = (res) => res.values.map((o) => ({ objectId: o.objectId, props: new Map(o.values.map((v) => [v.id, v.value])) }));
const pvOf = (row) => row.props.get(PROP.PRESENT_VALUE)?.[0]?.value;

// Every property of one object, with the reference register and power from the same
// instant: RPM ALL where it fits in 480 octets. The Device's ALL (and REQUIRED) carries
// the Object_List, which does not fit and is refused with an Abort
// (segmentation-not-supported): then OPTIONAL, and the standard's required properties
// by name but the Object_List (read by index, in the Object_List test).
async function readAll(m, obj) {
  const refs = [[oid(OT.AI, REF_AI), [PROP.PRESENT_VALUE]], [oid(OT.AI, KW_AI), [PROP.PRESENT_VALUE]]];
  try {
    const r = rows(await rpm(m, [[obj, [PROP.ALL]], ...refs]));
    return { props: r[0].props, ref: pvOf(r[1]), kw: pvOf(r[2]) };
  } catch (e) {
    const c = classify(e);
    if (obj.type !== OT.DEVICE || c.kind !== 'abort-or-reject' || c.reason !== ABORT_SEGMENTATION_NOT_SUPPORTED) throw e;
  }
  const required = DEVICE_REQUIRED_PROPS.filter((p) => p !== PROP.OBJECT_LIST);
  const opt = rows(await rpm(m, [[obj, [PROP.OPTIONAL]], ...refs]));
  const req = rows(await rpm(m, [[obj, required]]));
  const props = new Map([...req[0].props, ...opt[0].props]);
  return { props, ref: pvOf(opt[1]), kw: pvOf(opt[2]), optional: [...opt[0].props.keys()] };
}

const relDiff = (a, b) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));
const isNum = (v) => typeof v === 'number';

// The comparison of one object's properties: { compared, worst: { prop, rel } , problems }.
function compareObject(obj, f, h) {
  const problems = [];
  const worst = { rel: 0, what: '' };
  let compared = 0;
  const fIds = [...f.props.keys()].sort((a, b) => a - b);
  const hIds = [...h.props.keys()].sort((a, b) => a - b);
  if (JSON.stringify(fIds) !== JSON.stringify(hIds)) problems.push(`property sets differ: firmware [${fIds}] host [${hIds}]`);
  for (const id of hIds.filter((p) => f.props.has(p))) {
    if (EXCLUDED[`${obj.type}:${id}`]) continue;
    const fv = f.props.get(id);
    const hv = h.props.get(id);
    compared++;
    const types = (vs) => vs.map((v) => v.type).join(',');
    if (types(fv) !== types(hv)) {
      problems.push(`property ${id}: datatypes firmware [${types(fv)}] host [${types(hv)}]`);
      continue;
    }
    const measured = obj.type === OT.AI && id === PROP.PRESENT_VALUE;
    if (!measured) {
      if (JSON.stringify(fv) !== JSON.stringify(hv)) problems.push(`property ${id}: firmware ${JSON.stringify(fv)} host ${JSON.stringify(hv)}`);
      continue;
    }
    const [a, b] = [fv[0].value, hv[0].value];
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (!(Number.isNaN(a) && Number.isNaN(b))) problems.push(`Present_Value: firmware ${a} host ${b}`);
      continue;
    }
    if (ENERGY_AI.includes(obj.instance)) {
      // Both zero (export, Q2..Q4 on this import load, Q1 lagging) or both in the same
      // proportion to KWh_Import.
      if (!(f.ref > 0 && h.ref > 0)) { problems.push(`reference AI${REF_AI} not > 0: firmware ${f.ref} host ${h.ref}`); continue; }
      const [ra, rb] = [a / f.ref, b / h.ref];
      const rel = relDiff(ra, rb);
      if (rel > worst.rel) Object.assign(worst, { rel, what: `E/E_AI${REF_AI} ${ra.toPrecision(7)} vs ${rb.toPrecision(7)}` });
      if (!(rel <= CLASS_TOL)) problems.push(`Present_Value / AI${REF_AI}: firmware ${a}/${f.ref} = ${ra} host ${b}/${h.ref} = ${rb} (${(rel * 100).toFixed(4)} %)`);
    } else if (obj.instance === PULSE_AI) {
      const said = [];
      for (const [who, count, s] of [['firmware', a, f], ['host', b, h]]) {
        const seconds = (s.ref / s.kw) * 3600;
        const expect = seconds / PULSE_PERIOD_S;
        said.push(`${who} ${count} pulses in ${seconds.toFixed(1)} s`);
        if (!(Math.abs(count - expect) <= 1.5)) problems.push(`${who} Pulse Count ${count} after ${seconds.toFixed(1)} s metered (AI2/AI11): expected ${expect.toFixed(2)} +- 1.5`);
      }
      worst.what = said.join(', ');
    } else {
      const rel = relDiff(a, b);
      if (rel > worst.rel) Object.assign(worst, { rel, what: `${a} vs ${b}` });
      if (!(rel <= CLASS_TOL)) problems.push(`Present_Value: firmware ${a} host ${b} (${(rel * 100).toFixed(4)} %)`);
    }
  }
  return { compared, worst, problems };
}

describe('the firmware meter under QEMU, through the router of s4100 site, against the host meter', { skip: SKIP, timeout: 900000 }, () => {
  let list; // the host meter's Object_List

  before(async () => { await hc.start(); });
  after(() => hc?.close());

  it('Who-Is through the router: both meters, at their networks and MACs, with their instances', T, async () => {
    const want = { [key(fw.net, [fw.mac])]: fw.instance, [key(host.net, [host.mac])]: host.instance };
    const m = hc.mark();
    const got = () => hc.eventsAfter(m, 'iAm');
    const all = () => Object.keys(want).every((k) => got().some((e) => key(e.from.net, e.from.adr) === k));
    // An I-Am is unconfirmed: one lost on the line (a collision) is not sent again, so a
    // BMS asks again. At most WHO_IS_TRIES Who-Is, WHO_IS_WAIT_MS apart.
    let tries = 0;
    while (!all() && tries < WHO_IS_TRIES) {
      tries++;
      hc.client.whoIs({ net: 0xFFFF });
      const end = Date.now() + WHO_IS_WAIT_MS;
      while (Date.now() < end && !all()) await sleep(20);
    }
    await sleep(SETTLE_MS);
    console.log(`# Who-Is: ${tries} sent, ${got().length} I-Ams`);
    // Each meter's I-Am, with its instance. (A meter's start-up I-Am, which leaves with
    // its first token and may still be on its way, can come as well: the same I-Am.)
    const by = {};
    for (const e of got()) if (e.from.net) (by[key(e.from.net, e.from.adr)] ??= new Set()).add(e.payload.deviceId);
    const seen = Object.fromEntries(Object.entries(by).map(([k, v]) => [k, [...v]]));
    assert.deepEqual(seen, Object.fromEntries(Object.entries(want).map(([k, v]) => [k, [v]])), 'I-Ams from behind the router (network:MAC -> device instances)');
  });

  it('both meters measure (a 1 s cycle done, AI2 counting): the comparison can start', T, async () => {
    for (const m of [fw, host]) {
      await waitFor(async () => {
        const r = rows(await rpm(m, [[oid(OT.AI, 16), [PROP.PRESENT_VALUE]], [oid(OT.AI, REF_AI), [PROP.PRESENT_VALUE]]]));
        return Math.abs(pvOf(r[0]) - 277) < 3 && pvOf(r[1]) > 0;
      }, { timeout: 30000, interval: 250, what: `${m.name}: AI16 277 V and AI2 > 0` });
    }
  });

  it('Object_List by index: the same objects in the same order (but the Device\'s own instance)', T, async () => {
    const lists = {};
    for (const m of [fw, host]) {
      const dev = oid(OT.DEVICE, m.instance);
      const n = single(await rp(m, dev, PROP.OBJECT_LIST, 0));
      assert.ok(Number.isInteger(n) && n > 100, `${m.name}: Object_List[0] = ${n}`);
      const l = [];
      for (let i = 1; i <= n; i++) l.push(single(await rp(m, dev, PROP.OBJECT_LIST, i)));
      assert.deepEqual(l[0], dev, `${m.name}: Object_List[1] is the Device itself`);
      lists[m.name] = l;
    }
    const norm = (l) => l.map((o) => (o.type === OT.DEVICE ? 'DEV' : `${o.type}:${o.instance}`));
    assert.deepEqual(norm(lists.firmware), norm(lists.host), 'Object_List of the firmware against the host meter');
    list = lists.host;
    console.log(`# Object_List: ${list.length} objects on both, in the same order`);
  });

  it('every property of every object: same properties, datatypes and values (measured ones within the class)', T, async () => {
    assert.ok(list, 'the Object_List test ran');
    let objects = 0;
    let props = 0;
    const worst = { rel: 0, where: '' };
    const problems = [];
    for (const o of list) {
      const fObj = o.type === OT.DEVICE ? oid(OT.DEVICE, fw.instance) : o;
      const f = await readAll(fw, fObj);
      const h = await readAll(host, o);
      const c = compareObject(o, f, h);
      if (o.type === OT.DEVICE) {
        // The identity the site and the command line gave them.
        assert.deepEqual(f.props.get(PROP.OBJECT_IDENTIFIER)?.[0]?.value, fObj, 'firmware Device Object_Identifier');
        assert.deepEqual(h.props.get(PROP.OBJECT_IDENTIFIER)?.[0]?.value, o, 'host Device Object_Identifier');
        if (JSON.stringify(f.optional) !== JSON.stringify(h.optional)) c.problems.push(`Device OPTIONAL: firmware [${f.optional}] host [${h.optional}]`);
      }
      objects++;
      props += c.compared;
      const tail = c.worst.rel > 0 || (o.type === OT.AI) ? `, worst ${(c.worst.rel * 100).toExponential(2)} % (${c.worst.what || 'equal'})` : '';
      console.log(`# ${label(o)}: ${c.compared} properties${tail}${c.problems.length ? `, ${c.problems.length} DIFFER` : ''}`);
      if (c.worst.rel > worst.rel) Object.assign(worst, { rel: c.worst.rel, where: `${label(o)} ${c.worst.what}` });
      for (const p of c.problems) problems.push(`${label(o)}: ${p}`);
    }
    console.log(`# compared ${objects} objects, ${props} properties; worst relative difference on measured values ${(worst.rel * 100).toExponential(3)} % (${worst.where}); tolerance ${CLASS_TOL * 100} %; ${stats.requests} requests, ${stats.retries} retried`);
    assert.deepEqual(problems, [], 'differences between the firmware and the host meter');
    assert.equal(objects, list.length, 'every object compared');
  });
});
