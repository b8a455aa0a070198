// DM-DCC-B and DM-RD-B on a meter started with --bacnet-password (DECISIONS P2): every
// DeviceCommunicationControl and ReinitializeDevice must carry it, else Error
// security (4) / password-failure (26), and nothing changes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Rig, expectError, expectSilence, outcome, waitFor } from './lib/harness.mjs';
import { DCC, ERR_CLASS, ERR_CODE, OT, PROP, REINIT } from './lib/spec.mjs';

const T = { timeout: 30000 };
const PW = 'S4100-secret';
const DEVICE_ID = 41001;
const rig = new Rig({ slot: 8, deviceId: DEVICE_ID, serial: 'DCCPW0001', password: PW });
const AI11 = { type: OT.AI, instance: 11 };
const WRONG = [undefined, 'wrong', 's4100-secret', `${PW} `, 'S4100-secre'];

async function expectAck(promise, what) {
  const got = await outcome(promise);
  assert.equal(got.kind, 'ok', `${what}: expected Simple-ACK, got ${JSON.stringify(got)}`);
}
async function expectServing(what) {
  const v = await rig.readValue(AI11, PROP.PRESENT_VALUE);
  assert.equal(typeof v, 'number', `${what}: ReadProperty answered`);
}
const pwFailure = (p, what) => expectError(p, ERR_CLASS.SECURITY, ERR_CODE.PASSWORD_FAILURE, what);

describe('DeviceCommunicationControl and ReinitializeDevice with a password', { timeout: 300000 }, () => {
  before(() => rig.start());
  after(() => rig.close());

  it('DCC DISABLE without the password, or with a wrong one: security/password-failure, still serving', T, async () => {
    for (const pw of WRONG) {
      await pwFailure(rig.dcc(DCC.DISABLE, { password: pw }), `DCC disable, password ${JSON.stringify(pw)}`);
      await expectServing(`after DCC disable with password ${JSON.stringify(pw)}`);
    }
  });

  it('DCC DISABLE_INITIATION and ENABLE with a wrong password: security/password-failure', T, async () => {
    for (const state of [DCC.DISABLE_INITIATION, DCC.ENABLE]) {
      await pwFailure(rig.dcc(state, { password: 'wrong' }), `DCC ${state}, wrong password`);
      await pwFailure(rig.dcc(state, { minutes: 5 }), `DCC ${state}, no password`);
    }
    const got = await rig.collect(() => rig.whoHas({ objectName: 'KWh_Net' }), { until: (g) => g.iHaves.length > 0 });
    assert.equal(got.iHaves.length, 1, 'I-Have: initiation still enabled');
  });

  it('DISABLE with the password: Simple-ACK; while disabled a wrong password still gets password-failure; enable with it restores', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE, { password: PW }), 'DCC disable with the password');
    await expectSilence(rig.readProperty(AI11, PROP.PRESENT_VALUE), 'ReadProperty while disabled');
    await pwFailure(rig.dcc(DCC.ENABLE, { password: 'wrong' }), 'DCC enable, wrong password, while disabled');
    await pwFailure(rig.dcc(DCC.ENABLE), 'DCC enable, no password, while disabled');
    await expectSilence(rig.readProperty(AI11, PROP.PRESENT_VALUE), 'ReadProperty still ignored');
    await expectAck(rig.dcc(DCC.ENABLE, { password: PW }), 'DCC enable with the password');
    await expectServing('after enable');
  });

  it('DISABLE with the password and a duration; enable with it', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE, { minutes: 2, password: PW }), 'DCC disable 2 min with the password');
    await expectSilence(rig.readProperty(AI11, PROP.PRESENT_VALUE), 'ReadProperty while disabled');
    await expectAck(rig.dcc(DCC.ENABLE, { password: PW }), 'DCC enable');
    await expectServing('after enable');
  });

  it('DISABLE_INITIATION with the password: no I-Have; enable with it restores', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE_INITIATION, { password: PW }), 'DCC disable-initiation');
    await expectServing('disable-initiation');
    let got = await rig.collect(() => rig.whoHas({ objectName: 'KWh_Net' }));
    assert.equal(got.iHaves.length, 0, 'no I-Have while initiation is disabled');
    await expectAck(rig.dcc(DCC.ENABLE, { password: PW }), 'DCC enable');
    got = await rig.collect(() => rig.whoHas({ objectName: 'KWh_Net' }), { until: (g) => g.iHaves.length > 0 });
    assert.equal(got.iHaves.length, 1, 'I-Have after enable');
  });

  it('ReinitializeDevice without the password, or with a wrong one: security/password-failure', T, async () => {
    for (const pw of WRONG) {
      for (const s of [REINIT.COLDSTART, REINIT.WARMSTART]) {
        await pwFailure(rig.reinit(s, { password: pw }), `ReinitializeDevice ${s}, password ${JSON.stringify(pw)}`);
      }
    }
    await expectServing('after the refused ReinitializeDevice');
  });

  for (const s of [REINIT.COLDSTART, REINIT.WARMSTART]) {
    it(`ReinitializeDevice ${s === 0 ? 'coldstart' : 'warmstart'} with the password: Simple-ACK, then the meter is back`, T, async () => {
      await expectAck(rig.reinit(s, { password: PW }), `ReinitializeDevice ${s}`);
      await waitFor(async () => typeof (await rig.readValue(AI11, PROP.PRESENT_VALUE)) === 'number',
        { timeout: 10000, interval: 200, what: 'the meter to answer again' });
    });
  }

  it('ReinitializeDevice 2..6 with the password: Error services/optional-functionality-not-supported', T, async () => {
    for (const s of [2, 3, 4, 5, 6]) {
      await expectError(rig.reinit(s, { password: PW }), ERR_CLASS.SERVICES, ERR_CODE.OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED, `ReinitializeDevice ${s}`);
    }
  });

  it('while DISABLED, ReinitializeDevice with the password is answered and re-enables', T, async () => {
    await expectAck(rig.dcc(DCC.DISABLE, { password: PW }), 'DCC disable');
    await pwFailure(rig.reinit(REINIT.WARMSTART, { password: 'wrong' }), 'warmstart with a wrong password while disabled');
    await expectSilence(rig.readProperty(AI11, PROP.PRESENT_VALUE), 'still disabled');
    await expectAck(rig.reinit(REINIT.WARMSTART, { password: PW }), 'warmstart with the password while disabled');
    await waitFor(async () => typeof (await rig.readValue(AI11, PROP.PRESENT_VALUE)) === 'number',
      { timeout: 10000, interval: 200, what: 'the meter to answer again' });
  });

  it('s4100 run stops on SIGTERM with exit status 0', T, async () => {
    const res = await rig.stop();
    assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${rig.log()}`);
  });
});
