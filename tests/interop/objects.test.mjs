// DS-RP-B, DS-RPM-B: every property of every object, read by ReadProperty and by
// ReadPropertyMultiple, against the datasheet, objects.csv and DECISIONS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rig, PDU, approx, bitsSet, classify, detectTrendLogs, expectError, outcome,
} from './lib/harness.mjs';
import {
  AV_DEFAULTS, BI_ACTIVE, BI_INACTIVE, DEVICE, DEVICE_OPTIONAL_PROPS, DEVICE_REQUIRED_PROPS,
  ERR_CLASS, ERR_CODE, EVENT_STATE_NORMAL, READ_ACCESS_DENIED, TL_PROP, TL_REQUIRED_PROPS,
  expectedObjectTypeBits, expectedServiceBits, scope,
  OBJECT_TYPES_BITS_USED, OPTIONAL_PROPS, OT, POLARITY_NORMAL, PROP, RELIABILITY_NO_FAULT_DETECTED,
  REQUIRED_PROPS, RESERVED_AI, SERVICES_BITS_USED, STEADY_AI, STEADY_GROWING_AI, STEADY_ZERO_AI,
  TAG, ABORT_SEGMENTATION_NOT_SUPPORTED, expectedObjectList, objectsOf,
} from './lib/spec.mjs';

const T = { timeout: 30000 };
const DEVICE_ID = 389001;
const SERIAL = '4100SN0042';
const rig = new Rig({ slot: 3, deviceId: DEVICE_ID, serial: SERIAL });
const DEV = { type: OT.DEVICE, instance: DEVICE_ID };
const TYPE_NAME = { [OT.AI]: 'AI', [OT.AV]: 'AV', [OT.BI]: 'BI', [OT.DEVICE]: 'DE' };
const label = (o) => `${TYPE_NAME[o.type]}${o.type === OT.DEVICE ? '' : o.instance}`;

function one(values, what) {
  assert.equal(values.length, 1, `${what}: expected a single value, got ${JSON.stringify(values)}`);
  return values[0];
}
function expectTyped(values, tag, value, what) {
  const v = one(values, what);
  assert.equal(v.type, tag, `${what}: application tag`);
  if (value !== undefined) assert.deepEqual(v.value, value, `${what}: value`);
  return v.value;
}
function expectNoFlags(values, what) {
  const bs = expectTyped(values, TAG.BIT_STRING, undefined, what);
  assert.equal(bs.bitsUsed, 4, `${what}: Status_Flags has 4 bits`);
  assert.deepEqual(bitsSet(bs), [], `${what}: Status_Flags all false`);
}

// The values that every AI/AV/BI must report, property by property.
function checkCommon(o, props, what) {
  const id = { type: o.type, instance: o.instance };
  expectTyped(props[PROP.OBJECT_IDENTIFIER], TAG.OBJECT_ID, id, `${what} Object_Identifier`);
  expectTyped(props[PROP.OBJECT_NAME], TAG.CHARACTER_STRING, o.name, `${what} Object_Name`);
  expectTyped(props[PROP.OBJECT_TYPE], TAG.ENUMERATED, o.type, `${what} Object_Type`);
  expectTyped(props[PROP.DESCRIPTION], TAG.CHARACTER_STRING, o.description, `${what} Description`);
  expectTyped(props[PROP.EVENT_STATE], TAG.ENUMERATED, EVENT_STATE_NORMAL, `${what} Event_State`);
  expectTyped(props[PROP.OUT_OF_SERVICE], TAG.BOOLEAN, false, `${what} Out_Of_Service`);
  expectTyped(props[PROP.RELIABILITY], TAG.ENUMERATED, RELIABILITY_NO_FAULT_DETECTED, `${what} Reliability`);
  expectNoFlags(props[PROP.STATUS_FLAGS], `${what} Status_Flags`);
  if (o.type === OT.BI) {
    expectTyped(props[PROP.POLARITY], TAG.ENUMERATED, POLARITY_NORMAL, `${what} Polarity`);
    expectTyped(props[PROP.PRESENT_VALUE], TAG.ENUMERATED, undefined, `${what} Present_Value`);
  } else {
    if (o.units !== null) expectTyped(props[PROP.UNITS], TAG.ENUMERATED, o.units, `${what} Units`);
    else expectTyped(props[PROP.UNITS], TAG.ENUMERATED, undefined, `${what} Units`); // AV11: open in the spec
    expectTyped(props[PROP.PRESENT_VALUE], TAG.REAL, undefined, `${what} Present_Value`);
  }
}

// Present_Value in the steady scenario with factory settings.
function checkPresentValue(o, pv, what) {
  if (o.type === OT.AV) {
    assert.equal(pv, AV_DEFAULTS[o.instance], `${what} Present_Value (factory default)`);
    return;
  }
  if (o.type === OT.BI) {
    // No alert in the steady scenario; BI15 RTC_Reset is active after power-up until a
    // TimeSynchronization (DECISIONS M16).
    assert.equal(pv, o.instance === 15 ? BI_ACTIVE : BI_INACTIVE, `${what} Present_Value`);
    return;
  }
  if (RESERVED_AI.includes(o.instance)) return; // "Returns QNAN or any value"
  assert.ok(Number.isFinite(pv), `${what} Present_Value is a number (got ${pv})`);
  if (o.instance in STEADY_AI) approx(pv, STEADY_AI[o.instance], 0.005, `${what} Present_Value`);
  if (STEADY_ZERO_AI.includes(o.instance)) assert.equal(pv, 0, `${what} Present_Value`);
  if (STEADY_GROWING_AI.includes(o.instance)) assert.ok(pv > 0, `${what} Present_Value > 0 (energy accumulates)`);
  if (o.instance === 83) assert.equal(pv, 1 << 14, `${what} Alarm_Bitmap: only BI15 (bit 14) set`);
}

describe('objects', { timeout: 240000 }, () => {
  before(async () => {
    await rig.start();
    await detectTrendLogs(rig);
  });
  after(() => rig.close());

  // The datasheet: Reliability tells whether Present_Value is "functional, valid and
  // current"; QNAN with NO_FAULT_DETECTED is only for values that do not exist in the
  // system type (DECISIONS M11). This runs right after the meter first answers, before
  // its first 1 s measurement cycle has ended (its clock stands still until advanced).
  it('before the first 1 s cycle: an AI reporting NO_FAULT_DETECTED has a real value', T, async () => {
    const ids = [1, 11, 16, 17, 18, 76].map((instance) => ({ type: OT.AI, instance }));
    const r = await rig.rpm(ids.map((objectId) => ({ objectId, props: [PROP.PRESENT_VALUE, PROP.RELIABILITY] })));
    const bad = [];
    for (const o of r.values) {
      const pv = o.values.find((v) => v.id === PROP.PRESENT_VALUE).value[0].value;
      const rel = o.values.find((v) => v.id === PROP.RELIABILITY).value[0].value;
      if (rel === RELIABILITY_NO_FAULT_DETECTED && !Number.isFinite(pv)) bad.push(`AI${o.objectId.instance}: Present_Value ${pv}, Reliability ${rel}`);
    }
    assert.deepEqual(bad, [], 'QNAN reported as NO_FAULT_DETECTED');
  });

  it('the first measurement cycle ends within 3 s of meter time after start', T, async () => {
    await rig.advanceUntil(async () => Number.isFinite(await rig.readValue({ type: OT.AI, instance: 11 }, PROP.PRESENT_VALUE)),
      { max: 3, what: 'AI11 KW_Total to have a value' });
  });

  describe('Device object by ReadProperty', () => {
    const cases = [
      [PROP.OBJECT_IDENTIFIER, TAG.OBJECT_ID, DEV],
      [PROP.OBJECT_NAME, TAG.CHARACTER_STRING, DEVICE.objectName(SERIAL)],
      [PROP.OBJECT_TYPE, TAG.ENUMERATED, OT.DEVICE],
      [PROP.SYSTEM_STATUS, TAG.ENUMERATED, DEVICE.systemStatus],
      [PROP.VENDOR_NAME, TAG.CHARACTER_STRING, DEVICE.vendorName],
      [PROP.VENDOR_IDENTIFIER, TAG.UNSIGNED, DEVICE.vendorIdentifier],
      [PROP.MODEL_NAME, TAG.CHARACTER_STRING, DEVICE.modelName],
      [PROP.PROTOCOL_VERSION, TAG.UNSIGNED, DEVICE.protocolVersion],
      [PROP.PROTOCOL_REVISION, TAG.UNSIGNED, DEVICE.protocolRevision],
      [PROP.MAX_APDU_LENGTH_ACCEPTED, TAG.UNSIGNED, DEVICE.maxApdu],
      [PROP.SEGMENTATION_SUPPORTED, TAG.ENUMERATED, DEVICE.segmentation],
      [PROP.APDU_TIMEOUT, TAG.UNSIGNED, DEVICE.apduTimeout],
      [PROP.NUMBER_OF_APDU_RETRIES, TAG.UNSIGNED, DEVICE.apduRetries],
      [PROP.DATABASE_REVISION, TAG.UNSIGNED, DEVICE.databaseRevision],
      [PROP.MAX_MASTER, TAG.UNSIGNED, DEVICE.maxMaster],
      [PROP.MAX_INFO_FRAMES, TAG.UNSIGNED, DEVICE.maxInfoFrames],
      [PROP.LOCATION, TAG.CHARACTER_STRING, DEVICE.location],
      [PROP.DESCRIPTION, TAG.CHARACTER_STRING, DEVICE.description(SERIAL)],
    ];
    for (const [prop, tag, value] of cases) {
      it(`property ${prop} = ${JSON.stringify(value)}`, T, async () => {
        expectTyped(await rig.read(DEV, prop), tag, value, `Device property ${prop}`);
      });
    }

    it('Firmware_Revision is "xyyy" (datasheet: four digits, implied point)', T, async () => {
      const v = expectTyped(await rig.read(DEV, PROP.FIRMWARE_REVISION), TAG.CHARACTER_STRING, undefined, 'Firmware_Revision');
      assert.match(v, /^\d{4}$/);
    });

    it('Application_Software_Version names RS, OS and BACnet Gateway versions', T, async () => {
      const v = expectTyped(await rig.read(DEV, PROP.APPLICATION_SOFTWARE_VERSION), TAG.CHARACTER_STRING, undefined, 'Application_Software_Version');
      assert.match(v, /^RS= ?\d{4}, OS= ?\d{4}, BACnet Gateway= ?\d{4}$/);
    });

    it('Protocol_Services_Supported: exactly the services executed, 40 bits', T, async () => {
      const bs = expectTyped(await rig.read(DEV, PROP.PROTOCOL_SERVICES_SUPPORTED), TAG.BIT_STRING, undefined, 'Protocol_Services_Supported');
      assert.equal(bs.bitsUsed, SERVICES_BITS_USED, 'bit string length');
      assert.deepEqual(bitsSet(bs), expectedServiceBits());
    });

    it('Protocol_Object_Types_Supported: AI, AV, BI, Device (, Trend Log), 25 bits', T, async () => {
      const bs = expectTyped(await rig.read(DEV, PROP.PROTOCOL_OBJECT_TYPES_SUPPORTED), TAG.BIT_STRING, undefined, 'Protocol_Object_Types_Supported');
      assert.equal(bs.bitsUsed, OBJECT_TYPES_BITS_USED, 'bit string length');
      assert.deepEqual(bitsSet(bs), expectedObjectTypeBits());
    });

    it('Device_Address_Binding is an empty list', T, async () => {
      const v = await rig.read(DEV, PROP.DEVICE_ADDRESS_BINDING);
      assert.deepEqual(v, []);
    });

    it('Local_Date and Local_Time are a date and a time', T, async () => {
      expectTyped(await rig.read(DEV, PROP.LOCAL_DATE), TAG.DATE, undefined, 'Local_Date');
      expectTyped(await rig.read(DEV, PROP.LOCAL_TIME), TAG.TIME, undefined, 'Local_Time');
    });
  });

  describe('Object_List', () => {
    let list;
    before(() => { list = expectedObjectList(DEVICE_ID); });

    it('the whole list does not fit in 480 octets: Abort segmentation-not-supported', T, async () => {
      const m = rig.mark();
      const got = await outcome(rig.readProperty(DEV, PROP.OBJECT_LIST));
      assert.deepEqual(got, { kind: 'abort-or-reject', reason: ABORT_SEGMENTATION_NOT_SUPPORTED });
      const pdus = rig.rxAfter(m).filter((x) => x.headers.pduType === PDU.ABORT || x.headers.pduType === PDU.REJECT);
      assert.equal(pdus.length, 1);
      assert.equal(pdus[0].headers.pduType, PDU.ABORT, 'an Abort PDU, not a Reject');
      assert.equal(pdus[0].raw[pdus[0].raw.length - 3] & 0x01, 1, 'Abort sent by the server (SRV bit)');
    });

    it('index 0 is the count (110 objects, 113 with TL1..TL3)', T, async () => {
      expectTyped(await rig.read(DEV, PROP.OBJECT_LIST, 0), TAG.UNSIGNED, list.length, 'Object_List[0]');
    });

    it('each element by index, in the datasheet order: DE, AI1..AI83, AV1..AV11, BI1..BI15 (, TL1..TL3)', T, async () => {
      for (let i = 1; i <= list.length; i++) {
        expectTyped(await rig.read(DEV, PROP.OBJECT_LIST, i), TAG.OBJECT_ID, list[i - 1], `Object_List[${i}]`);
      }
    });

    it('an index past the end: Error property/invalid-array-index', T, async () => {
      await expectError(rig.readProperty(DEV, PROP.OBJECT_LIST, list.length + 1), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_ARRAY_INDEX, 'Object_List[n+1]');
    });
  });

  for (const type of [OT.AI, OT.AV, OT.BI]) {
    describe(`every ${TYPE_NAME[type]} object, every property, by ReadProperty`, () => {
      for (const o of objectsOf(type)) {
        it(`${label(o)} ${o.name}`, T, async () => {
          const id = { type: o.type, instance: o.instance };
          const props = {};
          for (const p of [...REQUIRED_PROPS[type], ...OPTIONAL_PROPS[type]]) {
            props[p] = await rig.read(id, p);
          }
          checkCommon(o, props, label(o));
          checkPresentValue(o, props[PROP.PRESENT_VALUE][0].value, label(o));
        });
      }
    });
  }

  describe('ReadPropertyMultiple', () => {
    const byId = (values) => Object.fromEntries(values.map((v) => [v.id, v.value]));

    for (const type of [OT.AI, OT.AV, OT.BI]) {
      it(`ALL of every ${TYPE_NAME[type]} object: exactly the required + optional properties`, T, async () => {
        for (const o of objectsOf(type)) {
          const r = await rig.rpm([{ objectId: { type, instance: o.instance }, props: [PROP.ALL] }]);
          assert.equal(r.values.length, 1);
          assert.deepEqual(r.values[0].objectId, { type, instance: o.instance });
          const ids = r.values[0].values.map((v) => v.id).sort((a, b) => a - b);
          assert.deepEqual(ids, [...REQUIRED_PROPS[type], ...OPTIONAL_PROPS[type]].sort((a, b) => a - b), `${label(o)} ALL`);
          const props = byId(r.values[0].values);
          checkCommon(o, props, `${label(o)} (RPM ALL)`);
          checkPresentValue(o, props[PROP.PRESENT_VALUE][0].value, `${label(o)} (RPM ALL)`);
        }
      });

      it(`REQUIRED and OPTIONAL of ${TYPE_NAME[type]}1`, T, async () => {
        const id = { type, instance: 1 };
        const req = await rig.rpm([{ objectId: id, props: [PROP.REQUIRED] }]);
        assert.deepEqual(req.values[0].values.map((v) => v.id).sort((a, b) => a - b), [...REQUIRED_PROPS[type]].sort((a, b) => a - b), 'REQUIRED');
        const opt = await rig.rpm([{ objectId: id, props: [PROP.OPTIONAL] }]);
        assert.deepEqual(opt.values[0].values.map((v) => v.id).sort((a, b) => a - b), [...OPTIONAL_PROPS[type]].sort((a, b) => a - b), 'OPTIONAL');
      });
    }

    it('Device ALL and REQUIRED include Object_List, which does not fit: Abort segmentation-not-supported', T, async () => {
      for (const p of [PROP.ALL, PROP.REQUIRED]) {
        const got = await outcome(rig.rpm([{ objectId: DEV, props: [p] }]));
        assert.deepEqual(got, { kind: 'abort-or-reject', reason: ABORT_SEGMENTATION_NOT_SUPPORTED }, `Device ${p === PROP.ALL ? 'ALL' : 'REQUIRED'}`);
      }
    });

    it('Device OPTIONAL: Max_Master, Max_Info_Frames, Description, Location, Local_Time, Local_Date', T, async () => {
      const r = await rig.rpm([{ objectId: DEV, props: [PROP.OPTIONAL] }]);
      const ids = r.values[0].values.map((v) => v.id).sort((a, b) => a - b);
      assert.deepEqual(ids, [...DEVICE_OPTIONAL_PROPS].sort((a, b) => a - b));
      const props = byId(r.values[0].values);
      assert.equal(props[PROP.MAX_MASTER][0].value, DEVICE.maxMaster);
      assert.equal(props[PROP.MAX_INFO_FRAMES][0].value, DEVICE.maxInfoFrames);
      assert.equal(props[PROP.DESCRIPTION][0].value, DEVICE.description(SERIAL));
      assert.equal(props[PROP.LOCATION][0].value, DEVICE.location);
    });

    it('Device: every required property but Object_List, by name, in one request', T, async () => {
      const wanted = DEVICE_REQUIRED_PROPS.filter((p) => p !== PROP.OBJECT_LIST);
      const r = await rig.rpm([{ objectId: DEV, props: wanted }]);
      const got = r.values[0].values;
      assert.deepEqual(got.map((v) => v.id), wanted, 'properties in the order asked');
      for (const v of got) assert.notEqual(v.value[0]?.type, 105 /* error */, `property ${v.id}: ${JSON.stringify(v.value)}`);
      const props = byId(got);
      assert.deepEqual(props[PROP.OBJECT_IDENTIFIER][0].value, DEV);
      assert.equal(props[PROP.OBJECT_NAME][0].value, DEVICE.objectName(SERIAL));
      assert.equal(props[PROP.VENDOR_IDENTIFIER][0].value, DEVICE.vendorIdentifier);
      assert.equal(props[PROP.MAX_APDU_LENGTH_ACCEPTED][0].value, DEVICE.maxApdu);
    });

    it('Present_Value of AI1..AI83 in 4 requests (25 objects fit in 480 octets), in order', T, async () => {
      for (const [a, b] of [[1, 25], [26, 50], [51, 75], [76, 83]]) {
        const specs = [];
        for (let i = a; i <= b; i++) specs.push({ objectId: { type: OT.AI, instance: i }, props: [PROP.PRESENT_VALUE] });
        const r = await rig.rpm(specs);
        assert.deepEqual(r.values.map((v) => v.objectId.instance), specs.map((s) => s.objectId.instance));
        for (const v of r.values) assert.equal(v.values[0].value[0].type, TAG.REAL, `AI${v.objectId.instance}`);
      }
    });

    it('per-property errors inside the ACK: unknown property, unknown object', T, async () => {
      const r = await rig.rpm([
        { objectId: { type: OT.AI, instance: 11 }, props: [PROP.PRESENT_VALUE, PROP.POLARITY, PROP.UNITS] },
        { objectId: { type: OT.AI, instance: 84 }, props: [PROP.PRESENT_VALUE] },
        { objectId: { type: OT.BI, instance: 1 }, props: [PROP.UNITS, PROP.POLARITY] },
        { objectId: { type: OT.AV, instance: 12 }, props: [PROP.ALL] },
        { objectId: { type: 4 /* binary-output */, instance: 1 }, props: [PROP.OBJECT_NAME] },
      ]);
      assert.equal(r.values.length, 5, 'one result per object asked');
      const err = (v) => v.value[0].type === 105 ? { errorClass: v.value[0].value.errorClass, errorCode: v.value[0].value.errorCode } : null;
      const [ai, ai84, bi, av12, bo] = r.values;
      assert.equal(ai.values[0].value[0].type, TAG.REAL, 'AI11 Present_Value');
      approx(ai.values[0].value[0].value, STEADY_AI[11], 0.005, 'AI11 Present_Value');
      assert.deepEqual(err(ai.values[1]), { errorClass: ERR_CLASS.PROPERTY, errorCode: ERR_CODE.UNKNOWN_PROPERTY }, 'AI11 Polarity');
      assert.equal(ai.values[2].value[0].value, 48, 'AI11 Units kilowatts');
      assert.deepEqual(err(ai84.values[0]), { errorClass: ERR_CLASS.OBJECT, errorCode: ERR_CODE.UNKNOWN_OBJECT }, 'AI84 Present_Value');
      assert.deepEqual(err(bi.values[0]), { errorClass: ERR_CLASS.PROPERTY, errorCode: ERR_CODE.UNKNOWN_PROPERTY }, 'BI1 Units');
      assert.equal(bi.values[1].value[0].value, POLARITY_NORMAL, 'BI1 Polarity');
      assert.equal(av12.values.length, 1, 'AV12 ALL: one error');
      assert.deepEqual(err(av12.values[0]), { errorClass: ERR_CLASS.OBJECT, errorCode: ERR_CODE.UNKNOWN_OBJECT }, 'AV12 ALL');
      assert.deepEqual(err(bo.values[0]), { errorClass: ERR_CLASS.OBJECT, errorCode: ERR_CODE.UNKNOWN_OBJECT }, 'BO1 Object_Name');
    });
  });

  describe('ReadProperty errors', () => {
    it('unknown object AI84 / AV12 / BI16 / binary-output 1: object/unknown-object', T, async () => {
      for (const id of [{ type: OT.AI, instance: 84 }, { type: OT.AV, instance: 12 }, { type: OT.BI, instance: 16 },
        { type: OT.AI, instance: 0 }, { type: 4, instance: 1 }, { type: OT.DEVICE, instance: DEVICE_ID + 1 }]) {
        await expectError(rig.readProperty(id, PROP.PRESENT_VALUE), ERR_CLASS.OBJECT, ERR_CODE.UNKNOWN_OBJECT, JSON.stringify(id));
      }
    });

    it('unknown property: AI1 Polarity, BI1 Units, AV1 Priority_Array, Device Present_Value', T, async () => {
      for (const [id, p] of [[{ type: OT.AI, instance: 1 }, PROP.POLARITY], [{ type: OT.BI, instance: 1 }, PROP.UNITS],
        [{ type: OT.AV, instance: 1 }, PROP.PRIORITY_ARRAY], [DEV, PROP.PRESENT_VALUE]]) {
        await expectError(rig.readProperty(id, p), ERR_CLASS.PROPERTY, ERR_CODE.UNKNOWN_PROPERTY, `${JSON.stringify(id)} ${p}`);
      }
    });

    it('an array index on a property that is not an array: property/property-is-not-an-array', T, async () => {
      await expectError(rig.readProperty({ type: OT.AI, instance: 1 }, PROP.PRESENT_VALUE, 1), ERR_CLASS.PROPERTY, ERR_CODE.PROPERTY_IS_NOT_AN_ARRAY, 'AI1 Present_Value[1]');
      await expectError(rig.readProperty(DEV, PROP.OBJECT_NAME, 0), ERR_CLASS.PROPERTY, ERR_CODE.PROPERTY_IS_NOT_AN_ARRAY, 'Device Object_Name[0]');
    });

    it('ALL / REQUIRED / OPTIONAL are not readable by ReadProperty', T, async () => {
      for (const p of [PROP.ALL, PROP.REQUIRED, PROP.OPTIONAL]) {
        const got = await outcome(rig.readProperty({ type: OT.AI, instance: 1 }, p));
        assert.ok(got.kind === 'error' || got.kind === 'abort-or-reject', `property ${p}: got ${JSON.stringify(got)}`);
      }
    });
  });

  describe('Trend Log objects (when the meter has them)', () => {
    const TL = (instance) => ({ type: OT.TREND_LOG, instance });
    it('TL1..TL3: Object_Identifier, Object_Type, the required properties in ALL', T, async (t) => {
      if (!scope.trendLogs) return t.skip('no Trend Log objects yet');
      for (const i of [1, 2, 3]) {
        const r = await rig.rpm([{ objectId: TL(i), props: [PROP.ALL] }]);
        const props = Object.fromEntries(r.values[0].values.map((v) => [v.id, v.value]));
        for (const p of TL_REQUIRED_PROPS) assert.ok(p in props, `TL${i} ALL lacks property ${p}`);
        assert.deepEqual(props[PROP.OBJECT_IDENTIFIER][0].value, TL(i));
        assert.equal(props[PROP.OBJECT_TYPE][0].value, OT.TREND_LOG);
        assert.equal(props[PROP.EVENT_STATE][0].value, EVENT_STATE_NORMAL);
      }
    });
    it('Log_Interval of TL1..TL3 is AV11 (datasheet: the four are tied)', T, async (t) => {
      if (!scope.trendLogs) return t.skip('no Trend Log objects yet');
      for (const i of [1, 2, 3]) {
        assert.equal(await rig.readValue(TL(i), TL_PROP.LOG_INTERVAL), AV_DEFAULTS[11], `TL${i} Log_Interval`);
      }
    });
    it('Log_Buffer by ReadProperty: property/read-access-denied', T, async (t) => {
      if (!scope.trendLogs) return t.skip('no Trend Log objects yet');
      await expectError(rig.readProperty(TL(1), TL_PROP.LOG_BUFFER), ERR_CLASS.PROPERTY, READ_ACCESS_DENIED, 'TL1 Log_Buffer');
    });
    it('ReadRange by position answers with at most Record_Count records', T, async (t) => {
      if (!scope.trendLogs) return t.skip('no Trend Log objects yet');
      const count = await rig.readValue(TL(1), TL_PROP.RECORD_COUNT);
      const r = await rig.client.readRange(rig.addr, TL(1), 1, 10);
      assert.deepEqual(r.objectId, TL(1));
      assert.equal(r.property.id, TL_PROP.LOG_BUFFER);
      assert.ok(r.itemCount <= Math.min(count, 10), `itemCount ${r.itemCount}, Record_Count ${count}`);
    });
  });

  describe('unsupported services', () => {
    it('AtomicReadFile and WritePropertyMultiple: Reject unrecognized-service', T, async () => {
      for (const call of [
        () => rig.client.readFile(rig.addr, { type: 10, instance: 1 }, 0, 100),
        () => rig.client.writePropertyMultiple(rig.addr, [{ objectId: { type: OT.AV, instance: 7 }, values: [{ property: { id: PROP.PRESENT_VALUE, index: 0xFFFFFFFF }, value: [{ type: TAG.REAL, value: 1 }], priority: 16 }] }]),
      ]) {
        const m = rig.mark();
        const got = classify(await call().then(() => null, (e) => e));
        assert.deepEqual(got, { kind: 'abort-or-reject', reason: 9 });
        const pdus = rig.rxAfter(m).filter((x) => x.headers.pduType >= PDU.ERROR);
        assert.equal(pdus.length, 1);
        assert.equal(pdus[0].headers.pduType, PDU.REJECT, 'a Reject PDU');
      }
    });
  });

  it('s4100 run stops on SIGTERM with exit status 0', T, async () => {
    const res = await rig.stop();
    assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${rig.log()}`);
  });
});
