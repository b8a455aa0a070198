// DM-DCC-B and DM-RD-B on a meter without a password (DECISIONS P2: none by default).
// BACNET-NOTES: DISABLE -> only DCC and ReinitializeDevice are processed, Who-Is too is
// ignored; DISABLE_INITIATION -> requests are served and Who-Is answered, nothing else is
// initiated; the state is not kept over a reinitialization.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rig, PDU, expectError, expectSilence, outcome, waitFor,
} from './lib/harness.mjs';
import { DCC, ERR_CLASS, ERR_CODE, OT, PROP, REINIT, TAG } from './lib/spec.mjs';

const T = { timeout: 30000 };
const DEVICE_ID = 41000;
const rig = new Rig({ slot: 7, deviceId: DEVICE_ID, serial: 'DCC000001' });
const AI11 = { type: OT.AI, instance: 11 };

async function expectAck(promise, what) {
  const got = await outcome(promise);
  assert.equal(got.kind, 'ok', `${what}: expected Simple-ACK, got ${JSON.stringify(got)}`);
}
async function expectServing(what) {
  const v = await rig.readValue(AI11, PROP.PRESENT_VALUE);
  assert.equal(typeof v, 'number', `${what}: ReadProperty answered`);
}
// At least one I-Am (the meter may also announce itself when it restarts).
async function expectIAm(who, what) {
  const got = await rig.collect(() => rig.whoIs(who), { until: (g) => g.iAms.length > 0 });
  assert.ok(got.iAms.length >= 1, `${what}: no I-Am`);
  assert.deepEqual([...new Set(got.iAms.map((x) => x.deviceId))], [DEVICE_ID], `${what}: I-Am device id`);
}
async function expectNoIAm(who, what) {
  const got = await rig.collect(() => rig.whoIs(who));
  assert.equal(got.iAms.length, 0, `${what}: no I-Am expected`);
}
async function expectNoIHave(what) {
  const got = await rig.collect(() => rig.whoHas({ objectName: 'KWh_Net' }));
  assert.equal(got.iHaves.length, 0, `${what}: no I-Have expected`);
}
async function expectIHave(what) {
  const got = await rig.collect(() => rig.whoHas({ objectName: 'KWh_Net' }), { until: (g) => g.iHaves.length > 0 });
  assert.equal(got.iHaves.length, 1, `${what}: one I-Have expected`);
}
// After ReinitializeDevice the meter restarts: it must answer again within a few seconds.
async function expectBack(what) {
  await waitFor(async () => typeof (await rig.readValue(AI11, PROP.PRESENT_VALUE)) === 'number',
    { timeout: 10000, interval: 200, what: `${what}: the meter to answer again` });
}

describe('DeviceCommunicationControl and ReinitializeDevice, no password', { timeout: 300000 }, () => {
  before(() => rig.start());
  after(() => rig.close());

  it('enable while enabled: Simple-ACK, still serving', T, async () => {
    await expectAck(rig.dcc(DCC.ENABLE), 'DCC enable');
    await expectServing('after enable');
    await expectIAm({}, 'after enable');
  });

  it('DISABLE: ignores ReadProperty, RPM, WriteProperty, Who-Is, Who-Has; enable restores', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE), 'DCC disable');
    await expectSilence(rig.readProperty(AI11, PROP.PRESENT_VALUE), 'ReadProperty while disabled');
    await expectSilence(rig.rpm([{ objectId: AI11, props: [PROP.PRESENT_VALUE] }]), 'RPM while disabled');
    await expectSilence(rig.write({ type: OT.AV, instance: 7 }, PROP.PRESENT_VALUE, [{ type: TAG.REAL, value: 0 }]), 'WriteProperty while disabled');
    await expectNoIAm({}, 'Who-Is (broadcast) while disabled');
    await expectNoIAm({ unicast: true }, 'Who-Is (unicast) while disabled');
    await expectNoIHave('Who-Has while disabled');
    await expectAck(rig.dcc(DCC.ENABLE), 'DCC enable');
    await expectServing('after enable');
    await expectIAm({}, 'after enable');
    // The write sent while disabled was not executed (not even at the next cycle).
    await rig.advance(2);
    assert.equal(await rig.readValue({ type: OT.AV, instance: 7 }, PROP.PRESENT_VALUE), 1, 'AV7 unchanged');
  });

  it('DISABLE with a duration (1 minute) is accepted; enable restores before it runs out', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE, { minutes: 1 }), 'DCC disable 1 min');
    await expectSilence(rig.readProperty(AI11, PROP.PRESENT_VALUE), 'ReadProperty while disabled');
    await expectNoIAm({ unicast: true }, 'Who-Is while disabled');
    await expectAck(rig.dcc(DCC.ENABLE), 'DCC enable');
    await expectServing('after enable');
  });

  it('DISABLE, then DISABLE again and ENABLE: DCC is always processed', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE), 'DCC disable');
    await expectAck(rig.dcc(DCC.DISABLE, { minutes: 30 }), 'DCC disable again');
    await expectAck(rig.dcc(DCC.DISABLE_INITIATION), 'DCC disable-initiation while disabled');
    await expectServing('disable-initiation after disable');
    await expectAck(rig.dcc(DCC.ENABLE), 'DCC enable');
    await expectServing('after enable');
  });

  it('DISABLE_INITIATION: serves ReadProperty, answers Who-Is, initiates no I-Have; enable restores', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE_INITIATION), 'DCC disable-initiation');
    await expectServing('disable-initiation');
    await expectIAm({}, 'Who-Is (broadcast) while initiation is disabled');
    await expectIAm({ unicast: true }, 'Who-Is (unicast) while initiation is disabled');
    await expectNoIHave('Who-Has while initiation is disabled');
    await expectAck(rig.dcc(DCC.ENABLE), 'DCC enable');
    await expectIHave('Who-Has after enable');
  });

  it('DISABLE_INITIATION with a duration (1 minute) is accepted; enable restores', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE_INITIATION, { minutes: 1 }), 'DCC disable-initiation 1 min');
    await expectNoIHave('Who-Has while initiation is disabled');
    await expectAck(rig.dcc(DCC.ENABLE), 'DCC enable');
    await expectIHave('Who-Has after enable');
  });

  it('a password is not needed, and one that is sent is accepted, when none is configured', T, async () => {
    await expectAck(rig.dcc(DCC.ENABLE, { password: 'anything' }), 'DCC enable with a password');
    await expectServing('after enable');
  });

  it('an undefined enable-disable value (3) is refused, nothing changes', T, async () => {
    const got = await outcome(rig.dcc(3));
    assert.ok(got.kind === 'abort-or-reject' || got.kind === 'error', `DCC 3: expected Reject or Error, got ${JSON.stringify(got)}`);
    await expectServing('after DCC 3');
  });

  it('a password longer than 20 characters: Reject', T, async () => {
    const m = rig.mark();
    const got = await outcome(rig.dcc(DCC.DISABLE, { password: 'x'.repeat(21) }));
    assert.equal(got.kind, 'abort-or-reject', `DCC with a 21-char password: got ${JSON.stringify(got)}`);
    const pdus = rig.rxAfter(m).filter((x) => x.headers.pduType >= PDU.ERROR);
    assert.deepEqual(pdus.map((x) => x.headers.pduType), [PDU.REJECT], 'a Reject PDU');
    await expectServing('after the rejected DCC');
  });

  describe('ReinitializeDevice', () => {
    it('while DISABLED: answered, and the restart re-enables communication', T, async () => {
      await expectAck(rig.dcc(DCC.DISABLE), 'DCC disable');
      await expectSilence(rig.readProperty(AI11, PROP.PRESENT_VALUE), 'ReadProperty while disabled');
      await expectAck(rig.reinit(REINIT.WARMSTART), 'ReinitializeDevice warmstart while disabled');
      await expectBack('after warmstart');
      await expectIAm({}, 'after warmstart');
    });

    it('DISABLE_INITIATION is not kept over a coldstart', T, async () => {
      await expectAck(rig.dcc(DCC.DISABLE_INITIATION), 'DCC disable-initiation');
      await expectNoIHave('Who-Has while initiation is disabled');
      await expectAck(rig.reinit(REINIT.COLDSTART), 'ReinitializeDevice coldstart');
      await expectBack('after coldstart');
      await expectIHave('Who-Has after coldstart');
    });

    it('coldstart and warmstart: Simple-ACK, then the meter is back', T, async () => {
      for (const s of [REINIT.COLDSTART, REINIT.WARMSTART]) {
        await expectAck(rig.reinit(s), `ReinitializeDevice ${s}`);
        await expectBack(`after ReinitializeDevice ${s}`);
      }
    });

    it('a password is accepted when none is configured', T, async () => {
      await expectAck(rig.reinit(REINIT.WARMSTART, { password: 'anything' }), 'warmstart with a password');
      await expectBack('after warmstart');
    });

    it('the backup/restore states 2..6: Error services/optional-functionality-not-supported', T, async () => {
      for (const s of [REINIT.STARTBACKUP, REINIT.ENDBACKUP, REINIT.STARTRESTORE, REINIT.ENDRESTORE, REINIT.ABORTRESTORE]) {
        await expectError(rig.reinit(s), ERR_CLASS.SERVICES, ERR_CODE.OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED, `ReinitializeDevice ${s}`);
      }
      await expectServing('after the refused ReinitializeDevice');
    });

    it('an undefined state (7, 100) is refused', T, async () => {
      for (const s of [7, 100]) {
        const got = await outcome(rig.reinit(s));
        assert.ok(got.kind === 'abort-or-reject' || got.kind === 'error', `ReinitializeDevice ${s}: expected Reject or Error, got ${JSON.stringify(got)}`);
      }
      await expectServing('after the refused ReinitializeDevice');
    });

    it('the settings are kept over a restart (AV values are non-volatile)', T, async () => {
      await rig.writeReal({ type: OT.AV, instance: 8 }, 20);
      await rig.advanceUntil(async () => (await rig.readValue({ type: OT.AV, instance: 8 }, PROP.PRESENT_VALUE)) === 20, { what: 'AV8 = 20' });
      await expectAck(rig.reinit(REINIT.COLDSTART), 'coldstart');
      await expectBack('after coldstart');
      assert.equal(await rig.readValue({ type: OT.AV, instance: 8 }, PROP.PRESENT_VALUE), 20, 'AV8 after coldstart');
      await rig.writeReal({ type: OT.AV, instance: 8 }, 10); // back to the factory default
      await rig.advanceUntil(async () => (await rig.readValue({ type: OT.AV, instance: 8 }, PROP.PRESENT_VALUE)) === 10, { what: 'AV8 = 10' });
    });
  });

  it('s4100 run stops on SIGTERM with exit status 0', T, async () => {
    const res = await rig.stop();
    assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${rig.log()}`);
  });
});
