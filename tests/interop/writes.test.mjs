// DS-WP-B: every write rule of the PICS, accepted and rejected, on the AV objects and the
// Device object; AI and BI are not writable. DECISIONS M13/M14: AV writes are validated
// at once (errors returned, nothing changes); an accepted value is committed at the next
// 1 s cycle, and until then Reliability is not NO_FAULT_DETECTED. The meter runs on
// virtual time: "the next cycle" is the test advancing it (harness.mjs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rig, detectTrendLogs, expectError, outcome, pvAndReliability,
} from './lib/harness.mjs';
import {
  AV_DEFAULTS, DEVICE, ERR_CLASS, ERR_CODE, OT, PROP, RELIABILITY_NO_FAULT_DETECTED, TAG, TL_PROP, scope,
} from './lib/spec.mjs';

const T = { timeout: 60000 };
let deviceId = 1500001;
const SERIAL = 'WR1TE0001';
const rig = new Rig({ slot: 6, deviceId, serial: SERIAL });
const AV = (instance) => ({ type: OT.AV, instance });
const AI = (instance) => ({ type: OT.AI, instance });
const BI = (instance) => ({ type: OT.BI, instance });
const dev = () => ({ type: OT.DEVICE, instance: deviceId });
const CYCLE_WAIT_S = 3; // meter seconds: "a delay of up to about two seconds" (datasheet), plus slack
const f32 = (x) => Math.fround(x);

// Waits until the AV reads `value` with Reliability NO_FAULT_DETECTED. Every sample must
// also satisfy the invariant: NO_FAULT_DETECTED => Present_Value is current.
async function expectCommitted(inst, value, { readsAs = value } = {}) {
  await rig.advanceUntil(async () => {
    const r = await pvAndReliability(rig, AV(inst));
    return r.reliability === RELIABILITY_NO_FAULT_DETECTED && r.pv === f32(readsAs);
  }, { max: CYCLE_WAIT_S, what: `AV${inst} to read ${readsAs} with Reliability NO_FAULT_DETECTED` });
}

// An accepted write: Simple-ACK; the read straight after it is either already the new
// value or flagged not-yet-current by Reliability; then it commits.
async function acceptWrite(inst, value, opts = {}) {
  const got = await outcome(rig.writeReal(AV(inst), value));
  assert.equal(got.kind, 'ok', `write AV${inst} = ${value}: expected Simple-ACK, got ${JSON.stringify(got)}`);
  const r = await pvAndReliability(rig, AV(inst));
  const readsAs = opts.readsAs ?? value;
  assert.ok(r.reliability !== RELIABILITY_NO_FAULT_DETECTED || r.pv === f32(readsAs),
    `AV${inst} right after writing ${value}: Reliability NO_FAULT_DETECTED but Present_Value ${r.pv}`);
  await expectCommitted(inst, value, opts);
}

// A rejected write: Error property/value-out-of-range (or the code given), and the
// object keeps its value and its Reliability, also after the next cycle.
async function rejectWrite(inst, value, before, { errorClass = ERR_CLASS.PROPERTY, errorCode = ERR_CODE.VALUE_OUT_OF_RANGE, values } = {}) {
  const req = values ? rig.write(AV(inst), PROP.PRESENT_VALUE, values) : rig.writeReal(AV(inst), value);
  await expectError(req, errorClass, errorCode, `write AV${inst} = ${values ? JSON.stringify(values) : value}`);
  const now = await pvAndReliability(rig, AV(inst));
  assert.deepEqual({ pv: now.pv, reliability: now.reliability }, { pv: f32(before), reliability: RELIABILITY_NO_FAULT_DETECTED },
    `AV${inst} right after the rejected write of ${value}`);
}

async function unchangedAfterCycle(inst, before) {
  await rig.advance(1);
  const now = await pvAndReliability(rig, AV(inst));
  assert.deepEqual({ pv: now.pv, reliability: now.reliability }, { pv: f32(before), reliability: RELIABILITY_NO_FAULT_DETECTED },
    `AV${inst} one cycle after the rejected writes`);
}

describe('writes', { timeout: 300000 }, () => {
  before(async () => {
    await rig.start();
    await detectTrendLogs(rig);
    // Start from a measured state (the first 1 s cycle done).
    await rig.advanceUntil(async () => Number.isFinite(await rig.readValue(AI(11), PROP.PRESENT_VALUE)), { what: 'first cycle' });
  });
  after(() => rig.close());

  it('every AV starts at its factory default with Reliability NO_FAULT_DETECTED', T, async () => {
    for (const [inst, v] of Object.entries(AV_DEFAULTS)) {
      const r = await pvAndReliability(rig, AV(Number(inst)));
      assert.deepEqual({ pv: r.pv, reliability: r.reliability }, { pv: v, reliability: 0 }, `AV${inst}`);
    }
  });

  describe('AV1 Config: only the commands 30078, 21211, 21212, 16498; always reads 0', () => {
    it('rejects other values', T, async () => {
      for (const v of [0, 1, -1, 30077, 30079, 21210, 21213, 16497, 16499, 12345, 65535, 30078.5]) await rejectWrite(1, v, 0);
    });

    it('30078 clears the energy accumulators and counts in AI78 Energy_Resets (DECISIONS M13)', T, async () => {
      const resets0 = await rig.readValue(AI(78), PROP.PRESENT_VALUE);
      await rig.advance(2); // let the energy grow
      const kwh0 = await rig.readValue(AI(2), PROP.PRESENT_VALUE);
      assert.ok(kwh0 > 0, `AI2 KWh_Import accumulates (${kwh0})`);
      await acceptWrite(1, 30078, { readsAs: 0 });
      await rig.advanceUntil(async () => (await rig.readValue(AI(78), PROP.PRESENT_VALUE)) === resets0 + 1, { max: CYCLE_WAIT_S, what: 'AI78 to count the reset' });
      const kwh1 = await rig.readValue(AI(2), PROP.PRESENT_VALUE);
      assert.ok(kwh1 < kwh0, `AI2 KWh_Import after the reset (${kwh1}) is below the value before (${kwh0})`);
      assert.equal(await rig.readValue(AV(1), PROP.PRESENT_VALUE), 0, 'AV1 reads 0');
    });

    for (const cmd of [21211, 21212, 16498]) {
      it(`accepts ${cmd}, reads 0 afterwards`, T, async () => {
        await acceptWrite(1, cmd, { readsAs: 0 });
        assert.equal(await rig.readValue(AV(1), PROP.PRESENT_VALUE), 0);
      });
    }
  });

  describe('AV2 System_Type: 10, 11, 12, 31, 40', () => {
    it('rejects 0, 9, 13, 20, 30, 32, 39, 41, 40.5, -40', T, async () => {
      for (const v of [0, 9, 13, 20, 30, 32, 39, 41, 40.5, -40]) await rejectWrite(2, v, 40);
      await unchangedAfterCycle(2, 40);
    });
    it('accepts each of 10, 11, 12, 31, 40', T, async () => {
      for (const v of [10, 11, 12, 31, 40]) await acceptWrite(2, v);
    });
  });

  describe('AV3 CT_Ratio_Primary: 5..32000', () => {
    it('rejects 0, 4, 4.99, 32000.5, 32001, -100', T, async () => {
      for (const v of [0, 4, 4.99, 32000.5, 32001, -100]) await rejectWrite(3, v, 100);
      await unchangedAfterCycle(3, 100);
    });
    it('accepts 5, 32000, 100; AI76 Max_Power follows (DECISIONS M7)', T, async () => {
      await acceptWrite(3, 5);
      await acceptWrite(3, 32000);
      await rig.advanceUntil(async () => Math.abs(await rig.readValue(AI(76), PROP.PRESENT_VALUE) - Math.sqrt(3) * 600 * 32000 / 1000) < 1,
        { max: CYCLE_WAIT_S, what: 'AI76 = sqrt(3)*600*32000/1000' });
      await acceptWrite(3, 100);
    });
  });

  describe('AV4 CT_Ratio_Secondary: 1 or 3', () => {
    it('rejects 0, 2, 4, 1.5, -1', T, async () => {
      for (const v of [0, 2, 4, 1.5, -1]) await rejectWrite(4, v, 1);
    });
    it('accepts 3, 1', T, async () => {
      await acceptWrite(4, 3);
      await acceptWrite(4, 1);
    });
  });

  describe('AV5 PT_Ratio 0.01..320 and AV6 System_Voltage: AV6/AV5 in 82..660, AV6 in 82..32000', () => {
    it('AV5 rejects 0, 0.009, 320.01, 321, -1', T, async () => {
      for (const v of [0, 0.009, 320.01, 321, -1]) await rejectWrite(5, v, 1);
    });
    // 0.01 has no exact REAL: a client sends the nearest one, 0x3C23D70A (0.0099999998).
    it('AV5 accepts 0.01 (the REAL nearest to it, as every client sends it)', T, async () => {
      await acceptWrite(5, 0.01);
    });
    it('AV5 accepts 320, back to 1', T, async () => {
      await acceptWrite(5, 320);
      await acceptWrite(5, 1);
    });
    it('with AV5 = 1: AV6 rejects 0, 81, 81.9, 660.1, 661, 6600; accepts 82, 660, 600', T, async () => {
      for (const v of [0, 81, 81.9, 660.1, 661, 6600]) await rejectWrite(6, v, 600);
      await acceptWrite(6, 82);
      await acceptWrite(6, 660);
      await acceptWrite(6, 600);
    });
    it('with AV5 = 10: AV6 rejects 600, 819, 6601; accepts 820, 6600', T, async () => {
      await acceptWrite(5, 10);
      for (const v of [600, 819, 6601]) await rejectWrite(6, v, 600);
      await acceptWrite(6, 820);
      await acceptWrite(6, 6600);
    });
    it('with AV5 = 100: AV6 rejects 8199 and 32001 (absolute limit, though 320.01 x 100); accepts 8200, 32000', T, async () => {
      await acceptWrite(5, 100);
      for (const v of [8199, 32001, 33000]) await rejectWrite(6, v, 6600);
      await acceptWrite(6, 8200);
      await acceptWrite(6, 32000);
    });
    it('with AV5 = 0.5: AV6 rejects 41 (ratio 82 but below the absolute 82) and 331; accepts 82, 330', T, async () => {
      await acceptWrite(5, 0.5);
      for (const v of [41, 81, 331]) await rejectWrite(6, v, 32000);
      await acceptWrite(6, 82);
      await acceptWrite(6, 330);
    });
    it('back to AV5 = 1, AV6 = 600', T, async () => {
      await acceptWrite(5, 1);
      await acceptWrite(6, 600);
    });
  });

  describe('AV7 Display_Units: 0 or 1', () => {
    it('rejects 2, -1, 0.5', T, async () => {
      for (const v of [2, -1, 0.5]) await rejectWrite(7, v, 1);
    });
    it('accepts 0, 1', T, async () => {
      await acceptWrite(7, 0);
      await acceptWrite(7, 1);
    });
  });

  for (const [inst, def] of [[8, 10], [9, 25]]) {
    describe(`AV${inst}: 1..99`, () => {
      it('rejects 0, 0.5, 99.5, 100, -5', T, async () => {
        for (const v of [0, 0.5, 99.5, 100, -5]) await rejectWrite(inst, v, def);
      });
      it(`accepts 1, 99, ${def}`, T, async () => {
        for (const v of [1, 99, def]) await acceptWrite(inst, v);
      });
    });
  }

  describe('AV10 Subintervals: 1..6', () => {
    it('rejects 0, 7, 100, -1', T, async () => {
      for (const v of [0, 7, 100, -1]) await rejectWrite(10, v, 1);
    });
    it('accepts 6, 3, 1', T, async () => {
      for (const v of [6, 3, 1]) await acceptWrite(10, v);
    });
  });

  describe('AV11 Subinterval_Length: 0 or 1000..3276700 in steps of 100 (DECISIONS O11)', () => {
    it('rejects 1, 10, 100, 900, 999, 1050, 1099, 3276750, 3276800, 5000000, -100, 1000.5', T, async () => {
      for (const v of [1, 10, 100, 900, 999, 1050, 1099, 3276750, 3276800, 5000000, -100, 1000.5]) await rejectWrite(11, v, 90000);
      await unchangedAfterCycle(11, 90000);
    });
    it('accepts 0, 1000, 1100, 3276700, 90000; Log_Interval of TL1..TL3 follows (datasheet AV11)', T, async () => {
      for (const v of [0, 1000, 1100, 3276700, 90000]) {
        await acceptWrite(11, v);
        if (!scope.trendLogs) continue;
        for (const i of [1, 2, 3]) {
          assert.equal(await rig.readValue({ type: OT.TREND_LOG, instance: i }, TL_PROP.LOG_INTERVAL), v, `TL${i} Log_Interval after AV11 = ${v}`);
        }
      }
    });
  });

  describe('what is not a valid AV write', () => {
    it('NaN to a REAL Present_Value: value-out-of-range', T, async () => {
      await rejectWrite(3, NaN, 100);
    });
    it('a CharacterString to a REAL Present_Value: invalid-data-type', T, async () => {
      await rejectWrite(3, undefined, 100, { errorCode: ERR_CODE.INVALID_DATA_TYPE, values: [{ type: TAG.CHARACTER_STRING, value: '200' }] });
    });
    it('AV properties other than Present_Value are not writable: write-access-denied', T, async () => {
      for (const [p, values] of [
        [PROP.OBJECT_NAME, [{ type: TAG.CHARACTER_STRING, value: 'CT' }]],
        [PROP.DESCRIPTION, [{ type: TAG.CHARACTER_STRING, value: 'CT' }]],
        [PROP.UNITS, [{ type: TAG.ENUMERATED, value: 3 }]],
        [PROP.OUT_OF_SERVICE, [{ type: TAG.BOOLEAN, value: true }]],
        [PROP.OBJECT_IDENTIFIER, [{ type: TAG.OBJECT_ID, value: { type: OT.AV, instance: 50 } }]],
      ]) {
        await expectError(rig.write(AV(3), p, values), ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, `AV3 property ${p}`);
      }
      assert.equal(await rig.readValue(AV(3), PROP.OBJECT_NAME), 'CT_Ratio_Primary');
      assert.equal(await rig.readValue(AV(3), PROP.OUT_OF_SERVICE), false);
    });
    it('an object that does not exist (AV12): object/unknown-object', T, async () => {
      await expectError(rig.writeReal(AV(12), 1), ERR_CLASS.OBJECT, ERR_CODE.UNKNOWN_OBJECT, 'AV12');
    });
    it('a property the AV does not have (Polarity): property/unknown-property', T, async () => {
      await expectError(rig.write(AV(3), PROP.POLARITY, [{ type: TAG.ENUMERATED, value: 1 }]), ERR_CLASS.PROPERTY, ERR_CODE.UNKNOWN_PROPERTY, 'AV3 Polarity');
    });
  });

  describe('AI and BI are not writable', () => {
    it('Present_Value of AI1, AI11, AI76, AI83: write-access-denied', T, async () => {
      for (const i of [1, 11, 76, 83]) {
        await expectError(rig.writeReal(AI(i), 0), ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, `AI${i}`);
      }
    });
    it('Present_Value of BI1, BI15: write-access-denied', T, async () => {
      for (const i of [1, 15]) {
        await expectError(rig.write(BI(i), PROP.PRESENT_VALUE, [{ type: TAG.ENUMERATED, value: 0 }]), ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, `BI${i}`);
      }
      assert.equal(await rig.readValue(BI(15), PROP.PRESENT_VALUE), 1, 'BI15 still active');
    });
    it('Object_Name and Description of AI1 and BI1: write-access-denied', T, async () => {
      for (const id of [AI(1), BI(1)]) {
        for (const p of [PROP.OBJECT_NAME, PROP.DESCRIPTION]) {
          await expectError(rig.write(id, p, [{ type: TAG.CHARACTER_STRING, value: 'x' }]), ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, `${JSON.stringify(id)} ${p}`);
        }
      }
    });
  });

  describe('Device: Object_Identifier 1..4193999, Object_Name, Location <= 64 chars, Max_Master 1..127', () => {
    const readDev = (p) => rig.readValue(dev(), p);

    it('Object_Identifier rejects 0, 4194000, 4194302, 4194303: value-out-of-range', T, async () => {
      for (const inst of [0, 4194000, 4194302, 4194303]) {
        await expectError(rig.write(dev(), PROP.OBJECT_IDENTIFIER, [{ type: TAG.OBJECT_ID, value: { type: OT.DEVICE, instance: inst } }]),
          ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE, `Device instance ${inst}`);
      }
      assert.deepEqual(await readDev(PROP.OBJECT_IDENTIFIER), dev());
    });

    it('Object_Identifier rejects another object type and a non-object-id value', T, async () => {
      const a = await outcome(rig.write(dev(), PROP.OBJECT_IDENTIFIER, [{ type: TAG.OBJECT_ID, value: { type: OT.AI, instance: 5 } }]));
      assert.ok(a.kind === 'error' && a.errorClass === ERR_CLASS.PROPERTY && [ERR_CODE.VALUE_OUT_OF_RANGE, ERR_CODE.INVALID_DATA_TYPE].includes(a.errorCode),
        `analog-input 5 as the Device id: ${JSON.stringify(a)}`);
      await expectError(rig.write(dev(), PROP.OBJECT_IDENTIFIER, [{ type: TAG.UNSIGNED, value: 5 }]), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, 'Unsigned as the Device id');
      assert.deepEqual(await readDev(PROP.OBJECT_IDENTIFIER), dev());
    });

    for (const inst of [4193999, 1, 1500001]) {
      it(`Object_Identifier accepts ${inst}; the meter answers as that instance and announces it`, T, async () => {
        await rig.write(dev(), PROP.OBJECT_IDENTIFIER, [{ type: TAG.OBJECT_ID, value: { type: OT.DEVICE, instance: inst } }]);
        deviceId = inst;
        rig.deviceId = inst;
        await rig.advanceUntil(async () => {
          const id = await readDev(PROP.OBJECT_IDENTIFIER);
          return id.instance === inst;
        }, { max: CYCLE_WAIT_S, what: `Device Object_Identifier = ${inst}` });
        const got = await rig.collect(() => rig.whoIs({ low: inst, high: inst }), { until: (g) => g.iAms.length > 0 });
        assert.deepEqual(got.iAms.map((x) => x.deviceId), [inst], 'I-Am');
        const list1 = await rig.readValue(dev(), PROP.OBJECT_LIST, 1);
        assert.deepEqual(list1, dev(), 'Object_List[1]');
      });
    }

    it('Object_Name: accepts a new name and the current one; Who-Has finds the new name', T, async () => {
      const orig = DEVICE.objectName(SERIAL);
      assert.equal(await readDev(PROP.OBJECT_NAME), orig);
      await rig.write(dev(), PROP.OBJECT_NAME, [{ type: TAG.CHARACTER_STRING, value: orig }]);
      await rig.write(dev(), PROP.OBJECT_NAME, [{ type: TAG.CHARACTER_STRING, value: 'Meter Room 3 - Main' }]);
      await rig.advanceUntil(async () => (await readDev(PROP.OBJECT_NAME)) === 'Meter Room 3 - Main', { max: CYCLE_WAIT_S, what: 'new Object_Name' });
      const got = await rig.collect(() => rig.whoHas({ objectName: 'Meter Room 3 - Main' }), { until: (g) => g.iHaves.length > 0 });
      assert.deepEqual(got.iHaves.map((x) => x.objectId), [dev()]);
      await rig.write(dev(), PROP.OBJECT_NAME, [{ type: TAG.CHARACTER_STRING, value: orig }]);
      await rig.advanceUntil(async () => (await readDev(PROP.OBJECT_NAME)) === orig, { max: CYCLE_WAIT_S, what: 'Object_Name restored' });
    });

    it('Object_Name: a non-string is invalid-data-type', T, async () => {
      await expectError(rig.write(dev(), PROP.OBJECT_NAME, [{ type: TAG.UNSIGNED, value: 7 }]), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, 'Object_Name = 7');
    });

    it('Location: 64 characters accepted, 65 rejected (value-out-of-range), nothing changes', T, async () => {
      const s64 = 'Building 7, Floor 2, Electrical Room 214, Panel LP-2A, Feeder 3B';
      assert.equal(s64.length, 64);
      await rig.write(dev(), PROP.LOCATION, [{ type: TAG.CHARACTER_STRING, value: s64 }]);
      await rig.advanceUntil(async () => (await readDev(PROP.LOCATION)) === s64, { max: CYCLE_WAIT_S, what: 'Location (64 chars)' });
      await expectError(rig.write(dev(), PROP.LOCATION, [{ type: TAG.CHARACTER_STRING, value: `${s64}X` }]), ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE, 'Location (65 chars)');
      await expectError(rig.write(dev(), PROP.LOCATION, [{ type: TAG.CHARACTER_STRING, value: 'L'.repeat(200) }]), ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE, 'Location (200 chars)');
      assert.equal(await readDev(PROP.LOCATION), s64);
      await rig.write(dev(), PROP.LOCATION, [{ type: TAG.CHARACTER_STRING, value: 'Lab bench 1' }]);
      await rig.advanceUntil(async () => (await readDev(PROP.LOCATION)) === 'Lab bench 1', { max: CYCLE_WAIT_S, what: 'Location' });
      await expectError(rig.write(dev(), PROP.LOCATION, [{ type: TAG.REAL, value: 1 }]), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, 'Location = REAL');
    });

    it('Max_Master: rejects 0, 128, 255 (value-out-of-range); accepts 1, 127, 64', T, async () => {
      for (const v of [0, 128, 255]) {
        await expectError(rig.write(dev(), PROP.MAX_MASTER, [{ type: TAG.UNSIGNED, value: v }]), ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE, `Max_Master ${v}`);
      }
      assert.equal(await readDev(PROP.MAX_MASTER), DEVICE.maxMaster);
      for (const v of [1, 127, 64]) {
        await rig.write(dev(), PROP.MAX_MASTER, [{ type: TAG.UNSIGNED, value: v }]);
        await rig.advanceUntil(async () => (await readDev(PROP.MAX_MASTER)) === v, { max: CYCLE_WAIT_S, what: `Max_Master ${v}` });
      }
    });

    it('read-only Device properties: write-access-denied', T, async () => {
      for (const [p, values] of [
        [PROP.VENDOR_NAME, [{ type: TAG.CHARACTER_STRING, value: 'x' }]],
        [PROP.VENDOR_IDENTIFIER, [{ type: TAG.UNSIGNED, value: 1 }]],
        [PROP.MODEL_NAME, [{ type: TAG.CHARACTER_STRING, value: 'x' }]],
        [PROP.DESCRIPTION, [{ type: TAG.CHARACTER_STRING, value: 'x' }]],
        [PROP.PROTOCOL_REVISION, [{ type: TAG.UNSIGNED, value: 14 }]],
        [PROP.MAX_INFO_FRAMES, [{ type: TAG.UNSIGNED, value: 2 }]],
        [PROP.APDU_TIMEOUT, [{ type: TAG.UNSIGNED, value: 3000 }]],
        [PROP.MAX_APDU_LENGTH_ACCEPTED, [{ type: TAG.UNSIGNED, value: 1476 }]],
        [PROP.DATABASE_REVISION, [{ type: TAG.UNSIGNED, value: 1 }]],
      ]) {
        await expectError(rig.write(dev(), p, values), ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, `Device property ${p}`);
      }
      assert.equal(await readDev(PROP.DESCRIPTION), DEVICE.description(SERIAL));
    });
  });

  it('every AV is back at its factory default, NO_FAULT_DETECTED', T, async () => {
    for (const [inst, v] of Object.entries(AV_DEFAULTS)) {
      const r = await pvAndReliability(rig, AV(Number(inst)));
      assert.deepEqual({ pv: r.pv, reliability: r.reliability }, { pv: v, reliability: 0 }, `AV${inst}`);
    }
  });

  it('s4100 run stops on SIGTERM with exit status 0', T, async () => {
    const res = await rig.stop();
    assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${rig.log()}`);
  });
});
