// Discovery (DM-DDB-B, DM-DOB-B): Who-Is / I-Am and Who-Has / I-Have, by broadcast and by
// unicast, with and without instance ranges; plus what a BACnet/IP node must ignore.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Rig, PDU, expectSilence, ports, sleep, waitFor } from './lib/harness.mjs';
import { DEVICE, OT, PROP, object } from './lib/spec.mjs';

const T = { timeout: 20000 };
const DEVICE_ID = 2024001;
const rig = new Rig({ slot: 0, deviceId: DEVICE_ID, serial: 'D15C0V3RY' });

function checkIAm(iAm) {
  assert.equal(iAm.deviceId, DEVICE_ID, 'I-Am device instance');
  assert.equal(iAm.maxApdu, DEVICE.maxApdu, 'I-Am Max_APDU_Length_Accepted');
  assert.equal(iAm.segmentation, DEVICE.segmentation, 'I-Am Segmentation_Supported');
  assert.equal(iAm.vendorId, DEVICE.vendorIdentifier, 'I-Am Vendor_Identifier');
}

// I-Am and I-Have go out as global broadcasts at revision 4 (BACNET-NOTES): BVLC
// Original-Broadcast-NPDU, NPDU DNET 0xFFFF, DLEN 0, hop count 255.
function checkGlobalBroadcast(rx, service, what) {
  const pkts = rx.filter((x) => x.headers.pduType === PDU.UNCONFIRMED && x.headers.service === service);
  assert.ok(pkts.length >= 1, `${what}: no datagram seen`);
  for (const p of pkts) {
    const h = p.headers;
    assert.equal(h.bvlcFunc, 0x0b, `${what}: BVLC function (Original-Broadcast-NPDU)`);
    assert.equal(h.dnet, 0xffff, `${what}: NPDU DNET (global broadcast)`);
    assert.equal(h.dlen, 0, `${what}: NPDU DLEN`);
    assert.equal(h.hopCount, 255, `${what}: NPDU hop count`);
    assert.equal(p.from, `127.0.0.1:${rig.opts.meterPort}`, `${what}: sent from the meter's port`);
  }
}

describe('discovery', { timeout: 120000 }, () => {
  before(() => rig.start());
  after(() => rig.close());

  describe('Who-Is / I-Am', () => {
    const cases = [
      { name: 'broadcast, no range', who: {}, answer: true },
      { name: 'unicast, no range', who: { unicast: true }, answer: true },
      { name: 'broadcast, range = exactly the instance', who: { low: DEVICE_ID, high: DEVICE_ID }, answer: true },
      { name: 'broadcast, range 0..4194303', who: { low: 0, high: 4194303 }, answer: true },
      { name: 'unicast, range around the instance', who: { unicast: true, low: DEVICE_ID - 1, high: DEVICE_ID + 1 }, answer: true },
      { name: 'broadcast, range below the instance', who: { low: 1, high: DEVICE_ID - 1 }, answer: false },
      { name: 'broadcast, range above the instance', who: { low: DEVICE_ID + 1, high: 4194303 }, answer: false },
      { name: 'unicast, range above the instance', who: { unicast: true, low: DEVICE_ID + 1, high: DEVICE_ID + 100 }, answer: false },
      { name: 'unicast, range below the instance', who: { unicast: true, low: 0, high: DEVICE_ID - 1 }, answer: false },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.answer ? 'one I-Am' : 'silence'}`, T, async () => {
        const got = await rig.collect(() => rig.whoIs(c.who), c.answer ? { until: (g) => g.iAms.length > 0 } : {});
        if (c.answer) {
          assert.equal(got.iAms.length, 1, `expected exactly one I-Am, got ${JSON.stringify(got.iAms)}`);
          checkIAm(got.iAms[0]);
          checkGlobalBroadcast(got.rx, 0 /* i-Am */, 'I-Am');
        } else {
          assert.equal(got.iAms.length, 0, `expected silence, got ${JSON.stringify(got.iAms)}`);
          assert.equal(got.rx.length, 0, `expected no datagram at all, got ${got.rx.length}`);
        }
      });
    }
  });

  describe('Who-Has / I-Have', () => {
    const dev = () => ({ type: OT.DEVICE, instance: DEVICE_ID });
    const cases = [
      { name: 'by name KWh_Net', who: { objectName: 'KWh_Net' }, want: { type: OT.AI, instance: 1 } },
      { name: 'by name with a space ("Current Average")', who: { objectName: 'Current Average' }, want: { type: OT.AI, instance: 17 } },
      { name: 'by name "Reserved" (AI30)', who: { objectName: 'Reserved' }, want: { type: OT.AI, instance: 30 } },
      { name: 'by name Subinterval_Length (AV11)', who: { objectName: 'Subinterval_Length' }, want: { type: OT.AV, instance: 11 } },
      { name: 'by name RTC_Reset (BI15)', who: { objectName: 'RTC_Reset' }, want: { type: OT.BI, instance: 15 } },
      { name: 'by the Device object name', who: { objectName: DEVICE.objectName('D15C0V3RY') }, want: 'device' },
      { name: 'by object id AV3', who: { objectId: { type: OT.AV, instance: 3 } }, want: { type: OT.AV, instance: 3 } },
      { name: 'by object id AI83', who: { objectId: { type: OT.AI, instance: 83 } }, want: { type: OT.AI, instance: 83 } },
      { name: 'by object id BI8', who: { objectId: { type: OT.BI, instance: 8 } }, want: { type: OT.BI, instance: 8 } },
      { name: 'by object id of the Device', who: { objectId: 'device' }, want: 'device' },
      { name: 'unicast, by name PF_Total', who: { unicast: true, objectName: 'PF_Total' }, want: { type: OT.AI, instance: 14 } },
      { name: 'unicast, by object id AI76', who: { unicast: true, objectId: { type: OT.AI, instance: 76 } }, want: { type: OT.AI, instance: 76 } },
      { name: 'in range, by name', who: { low: DEVICE_ID, high: DEVICE_ID, objectName: 'Frequency' }, want: { type: OT.AI, instance: 18 } },
      { name: 'in range, by id', who: { low: 1, high: 4194303, objectId: { type: OT.AV, instance: 1 } }, want: { type: OT.AV, instance: 1 } },
      { name: 'out of range, by name', who: { low: DEVICE_ID + 1, high: DEVICE_ID + 10, objectName: 'Frequency' }, want: null },
      { name: 'out of range, by id', who: { low: 1, high: DEVICE_ID - 1, objectId: { type: OT.AI, instance: 1 } }, want: null },
      { name: 'no such name', who: { objectName: 'No_Such_Object' }, want: null },
      { name: 'no such name (a Description, not a name)', who: { objectName: 'Real Energy Import' }, want: null },
      { name: 'no such object id AI84', who: { objectId: { type: OT.AI, instance: 84 } }, want: null },
      { name: 'no such object id AV12', who: { objectId: { type: OT.AV, instance: 12 } }, want: null },
      { name: 'no such object id BI16', who: { objectId: { type: OT.BI, instance: 16 } }, want: null },
      { name: 'no such object type (binary-output 1)', who: { objectId: { type: 4, instance: 1 } }, want: null },
      { name: 'another device id', who: { objectId: { type: OT.DEVICE, instance: DEVICE_ID + 1 } }, want: null },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.want ? 'one I-Have' : 'silence'}`, T, async () => {
        const who = { ...c.who };
        if (who.objectId === 'device') who.objectId = dev();
        const got = await rig.collect(() => rig.whoHas(who), c.want ? { until: (g) => g.iHaves.length > 0 } : {});
        if (!c.want) {
          assert.equal(got.iHaves.length, 0, `expected silence, got ${JSON.stringify(got.iHaves)}`);
          assert.equal(got.rx.length, 0, `expected no datagram at all, got ${got.rx.length}`);
          return;
        }
        assert.equal(got.iHaves.length, 1, `expected exactly one I-Have, got ${JSON.stringify(got.iHaves)}`);
        const ih = got.iHaves[0];
        const wantId = c.want === 'device' ? dev() : c.want;
        const wantName = c.want === 'device' ? DEVICE.objectName('D15C0V3RY') : object(wantId.type, wantId.instance).name;
        assert.deepEqual(ih.deviceId, dev(), 'I-Have device id');
        assert.deepEqual(ih.objectId, wantId, 'I-Have object id');
        assert.equal(ih.objectName, wantName, 'I-Have object name');
        checkGlobalBroadcast(got.rx, 1 /* i-Have */, 'I-Have');
      });
    }
  });

  describe('what a BACnet/IP device ignores or refuses', () => {
    it('a confirmed request that arrives by broadcast is discarded', T, async () => {
      // receiver undefined: the client sends Original-Broadcast-NPDU to 127.255.255.255.
      await expectSilence(rig.client.readProperty(undefined, { type: OT.DEVICE, instance: DEVICE_ID }, PROP.OBJECT_NAME),
        'ReadProperty by broadcast');
    });

    it('BBMD functions are answered with BVLC-Result NAK (Read-BDT -> 0x0020, Register-Foreign-Device -> 0x0030)', T, async () => {
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
      await new Promise((r) => sock.bind(ports(1).clientPort, '127.0.0.1', r));
      const got = [];
      sock.on('message', (m) => got.push(m));
      try {
        // Each answer waited for (bounded), then a moment for anything more.
        sock.send(Buffer.from([0x81, 0x02, 0x00, 0x04]), rig.opts.meterPort, '127.0.0.1');
        await waitFor(() => got.length >= 1, { timeout: 3000, interval: 20, what: 'the answer to Read-BDT' });
        sock.send(Buffer.from([0x81, 0x05, 0x00, 0x06, 0x00, 0x3c]), rig.opts.meterPort, '127.0.0.1');
        await waitFor(() => got.length >= 2, { timeout: 3000, interval: 20, what: 'the answer to Register-Foreign-Device' });
        await sleep(300);
      } finally {
        sock.close();
      }
      assert.deepEqual(got.map((b) => b.toString('hex')), ['810000060020', '810000060030']);
    });

    it('the meter is still there afterwards', T, async () => {
      const name = await rig.readValue(rig.device, PROP.OBJECT_NAME);
      assert.equal(name, DEVICE.objectName('D15C0V3RY'));
    });
  });

  it('s4100 run stops on SIGTERM with exit status 0', T, async () => {
    const res = await rig.stop();
    assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${rig.log()}`);
  });
});

// A meter started with non-default settings on the command line reports them. It runs
// in real time (its status line is once per wall second), at the default time scale.
describe('meter settings on the command line', { timeout: 60000 }, () => {
  const r2 = new Rig({
    slot: 2, deviceId: 77, serial: 'CLI0001', virtualTime: false,
    args: ['--system-type', '31', '--ct-primary', '200', '--ct-secondary', '3', '--pt-ratio', '2', '--system-voltage', '960'],
  });
  before(() => r2.start());
  after(() => r2.close());

  it('AV2..AV6 read the values given, AI76 Max_Power follows (DECISIONS M7)', T, async () => {
    const want = { 2: 31, 3: 200, 4: 3, 5: 2, 6: 960 };
    for (const [inst, v] of Object.entries(want)) {
      const pv = await r2.readValue({ type: OT.AV, instance: Number(inst) }, PROP.PRESENT_VALUE);
      assert.ok(Math.abs(pv - v) < 1e-4, `AV${inst}: expected ${v}, got ${pv}`);
    }
    const maxPower = await r2.readValue({ type: OT.AI, instance: 76 }, PROP.PRESENT_VALUE);
    const want76 = Math.sqrt(3) * 960 * 200 / 1000;
    assert.ok(Math.abs(maxPower - want76) < want76 * 1e-4, `AI76: expected ${want76}, got ${maxPower}`);
  });

  it('Device Object_Identifier is the --device-id given', T, async () => {
    const id = await r2.readValue({ type: OT.DEVICE, instance: 77 }, PROP.OBJECT_IDENTIFIER);
    assert.deepEqual(id, { type: OT.DEVICE, instance: 77 });
  });

  it('prints a status line per second on stdout', T, async () => {
    const n0 = r2.stdoutLines;
    await sleep(3200);
    const n = r2.stdoutLines - n0;
    assert.ok(n >= 2 && n <= 5, `${n} lines on stdout in 3.2 s`);
  });

  it('s4100 run stops on SIGINT with exit status 0', T, async () => {
    const res = await r2.stop(5000, 'SIGINT');
    assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${r2.log()}`);
  });
});

