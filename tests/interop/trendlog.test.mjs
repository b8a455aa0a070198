// T-VMT-I-B: the three Trend Log objects and ReadRange, through the third-party client
// (its readRange for by-position; by-sequence, by-time, the old [4], the withdrawn [5]
// and WriteProperty of a BACnetDeviceObjectPropertyReference through its exported
// encoders). Expected values come from ASHRAE 135 (ReadRange, Trend Log), the datasheet
// ("Data Logging", PICS section 5 "Trend Log Objects", AV1, AV11), BACNET-NOTES "Trend
// Log and ReadRange" and DECISIONS O11, M13, M14 — never from the implementation.
//
// Two meters on virtual time, both at the shortest Log_Interval (10 s): the main one is
// advanced a few intervals at a time, each test advancing the meter time it needs and
// then checking; a second one is advanced 57,700 s at once to fill a whole 5760-record
// buffer, to show single-shot and continuous logging. No wait depends on how fast the
// machine is: only the runner's budget bounds the big advance.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rig, asn1, bacnetServices, bitsSet, confirmedRequest, outcome, writeRaw, PDU,
} from './lib/harness.mjs';
import {
  ERR_CLASS, ERR_CODE, OT, PROP, READ_ACCESS_DENIED, STEADY_AI, TAG, TL_PROP,
} from './lib/spec.mjs';

// A safety net against a hang, far above what any test needs (each advances at most a
// few hundred meter seconds); the buffer-filling test has only the runner's budget.
const T = { timeout: 120000 };
const MAIN_ID = 4100;
const FILL_ID = 4101;
const INTERVAL_CS = 1000; // --subinterval-length: AV11 = Log_Interval = 10 s, the shortest
const INTERVAL_S = INTERVAL_CS / 100;
const INTERVAL_MS = INTERVAL_CS * 10;
const BUFFER_SIZE = 5760; // datasheet "Data Logging": 5760 entries per buffer
const MAX_APDU = 480; // Device Max_APDU_Length_Accepted, no segmentation
const RECORDS_FROZEN = 70; // more than three 480-octet replies' worth
// Meter time for the fill meter: TL1 full 5759 intervals after its first record, and TL2
// (continuous) a few records past a full buffer.
const FILL_S = (BUFFER_SIZE + 10) * INTERVAL_S;
const rig = new Rig({
  slot: 4, deviceId: MAIN_ID, serial: 'TREND0001', args: ['--subinterval-length', String(INTERVAL_CS)],
});
const fill = new Rig({
  slot: 5, deviceId: FILL_ID, serial: 'TREND0002', args: ['--subinterval-length', String(INTERVAL_CS)],
});
const TL = (instance) => ({ type: OT.TREND_LOG, instance });
const AI = (instance) => ({ type: OT.AI, instance });
const AV = (instance) => ({ type: OT.AV, instance });
const TL1 = TL(1);
const TL2 = TL(2);
const TL3 = TL(3);

// ASHRAE 135 numbers not in spec.mjs.
const SVC_READ_RANGE = 26;
const ERR_PROPERTY_IS_NOT_A_LIST = 22; // error class services
const LOG_BUFFER = TL_PROP.LOG_BUFFER;
const UNSIGNED_32_MAX = 0xFFFFFFFF;
const APDU_CODE = { 206: 2, 480: 3, 1476: 5 }; // max-APDU-length-accepted encodings
const EPOCH_1990 = new Date(Date.UTC(1990, 0, 1)); // older than any record

// ---- ReadRange: requests through the client's encoders, the ACK decoded in full -------
function encodeRange(b, range) {
  const dateTime = (t) => { asn1.encodeApplicationDate(b, t); asn1.encodeApplicationTime(b, t); };
  switch (range.by) {
    case 'position':
    case 'sequence': {
      const tag = range.by === 'position' ? 3 : 6;
      asn1.encodeOpeningTag(b, tag);
      asn1.encodeApplicationUnsigned(b, range.by === 'position' ? range.index : range.seq);
      asn1.encodeApplicationSigned(b, range.count);
      asn1.encodeClosingTag(b, tag);
      break;
    }
    case 'time': // [7] byTime
    case 'time4': { // [4] byTime of Protocol_Revision < 3, same content as [7]
      const tag = range.by === 'time' ? 7 : 4;
      asn1.encodeOpeningTag(b, tag);
      dateTime(range.time);
      asn1.encodeApplicationSigned(b, range.count);
      asn1.encodeClosingTag(b, tag);
      break;
    }
    case 'timeRange5': // [5] timeRange, withdrawn
      asn1.encodeOpeningTag(b, 5);
      dateTime(range.begin);
      dateTime(range.end);
      asn1.encodeClosingTag(b, 5);
      break;
    case 'all': // no range: the whole list
      break;
    default:
      throw new Error(`range ${range.by}`);
  }
}

// A ReadRange-ACK APDU: the client's decoder for the fixed part and the records, then
// the optional [6] firstSequenceNumber (the client does not decode it) and nothing else.
function decodeAck(apdu) {
  const off = 3; // type, invoke ID, service choice
  const r = bacnetServices.ReadRange.decodeAcknowledge(apdu, off, apdu.length - off);
  assert.ok(r, `ReadRange-ACK does not decode: ${apdu.toString('hex')}`);
  // (The client's record decoder wants at least one record.)
  const records = r.rangeBuffer.length === 0 ? [] : r.values;
  assert.ok(Array.isArray(records), `the itemData [5] does not decode as BACnetLogRecords: ${apdu.toString('hex')}`);
  const closing = off + r.len + r.rangeBuffer.length;
  assert.equal(apdu[closing], 0x5F, `closing tag [5] at ${closing}: ${apdu.toString('hex')}`);
  let p = closing + 1;
  let firstSequence;
  if (p < apdu.length) {
    assert.ok(asn1.decodeIsContextTag(apdu, p, 6), `after [5] only [6] may follow: ${apdu.subarray(p).toString('hex')}`);
    const t = asn1.decodeTagNumberAndValue(apdu, p);
    p += t.len;
    const v = asn1.decodeUnsigned(apdu, p, t.value);
    firstSequence = v.value;
    p += v.len;
  }
  assert.equal(p, apdu.length, `octets after the ReadRange-ACK: ${apdu.subarray(p).toString('hex')}`);
  const bits = bitsSet(r.resultFlag);
  return {
    objectId: r.objectId,
    property: r.property,
    flags: { first: bits.includes(0), last: bits.includes(1), more: bits.includes(2) },
    flagBitsUsed: r.resultFlag.bitsUsed,
    itemCount: r.itemCount,
    records,
    firstSequence,
    apduLength: apdu.length,
  };
}

// ReadRange through raw encoders; { kind: 'ok', ack } or outcome()'s error kinds, + pdu.
async function readRangeRaw(r, objectId, range, { prop = LOG_BUFFER, arrayIndex, maxApdu = 1476 } = {}) {
  const got = await confirmedRequest(r, SVC_READ_RANGE, (b) => {
    asn1.encodeContextObjectId(b, 0, objectId.type, objectId.instance);
    asn1.encodeContextEnumerated(b, 1, prop);
    if (arrayIndex !== undefined) asn1.encodeContextUnsigned(b, 2, arrayIndex);
    encodeRange(b, range);
  }, { maxApdu: APDU_CODE[maxApdu] });
  if (got.kind !== 'ok') return got;
  assert.equal(got.pdu?.pduType, PDU.COMPLEX_ACK, 'a Complex-ACK');
  return { kind: 'ok', ack: decodeAck(got.pdu.apdu) };
}

// By position through the client's own readRange; the raw answer from the tap is decoded
// as well, for [6] and the APDU length.
async function readRangeClient(r, objectId, index, count) {
  const invokeId = r.client._getInvokeId();
  const m = r.mark();
  const res = await r.client.readRange(r.addr, objectId, index, count, { invokeId });
  const raw = r.rxAfter(m).filter((x) => x.headers.invokeId === invokeId && x.headers.pduType === PDU.COMPLEX_ACK).pop();
  assert.ok(raw, `the raw ReadRange-ACK of invoke ID ${invokeId}`);
  const ack = decodeAck(raw.headers.apdu);
  assert.equal(res.itemCount, ack.itemCount, 'the client\'s itemCount');
  const bits = bitsSet(res.resultFlag);
  assert.deepEqual({ first: bits.includes(0), last: bits.includes(1), more: bits.includes(2) }, ack.flags, 'the client\'s resultFlags');
  return ack;
}

// Every ReadRange-ACK: the object and Log_Buffer echoed, 3 result flags, itemCount = the
// records, fits the smaller max APDU; firstSequenceNumber present exactly for by-sequence
// and by-time with at least one item (BACNET-NOTES, ASHRAE 135 15.8.1.3.6).
function checkAck(ack, objectId, by, maxApdu = MAX_APDU) {
  assert.deepEqual(ack.objectId, objectId, 'objectIdentifier');
  assert.equal(ack.property.id, LOG_BUFFER, 'propertyIdentifier');
  assert.equal(ack.flagBitsUsed, 3, 'resultFlags: 3 bits');
  assert.equal(ack.records.length, ack.itemCount, 'itemCount = records');
  assert.ok(ack.apduLength <= Math.min(maxApdu, MAX_APDU), `APDU of ${ack.apduLength} octets > ${Math.min(maxApdu, MAX_APDU)}`);
  const seqWanted = (by === 'sequence' || by === 'time' || by === 'time4') && ack.itemCount > 0;
  assert.equal(ack.firstSequence !== undefined, seqWanted,
    `firstSequenceNumber ${seqWanted ? 'required' : 'not allowed'} (${by}, ${ack.itemCount} items), got ${ack.firstSequence}`);
  return ack;
}

async function rr(r, objectId, range, opts = {}) {
  const got = await readRangeRaw(r, objectId, range, opts);
  assert.equal(got.kind, 'ok', `ReadRange ${JSON.stringify(range)}: ${JSON.stringify(got)}`);
  return checkAck(got.ack, objectId, range.by, opts.maxApdu);
}

// ---- records --------------------------------------------------------------------------
const isData = (rec) => !rec.isLogStatus && !rec.isTimeChange && typeof rec.value === 'number';
const ms = (rec) => rec.timestamp.getTime();
function kindOf(rec) {
  if (rec.isLogStatus) return `status(${rec.logStatus.log_disabled ? 'log-disabled' : ''}${rec.logStatus.buffer_purged ? 'buffer-purged' : ''})`;
  if (rec.isTimeChange) return `time-change(${rec.value})`;
  return typeof rec.value === 'number' ? `real(${rec.value})` : `other(${JSON.stringify(rec.value)})`;
}
const show = (rec) => `${rec.timestamp.toISOString()} ${kindOf(rec)}`;
const showAll = (recs) => recs.map(show).join('\n  ');
function sameRecords(got, want, what) {
  assert.deepEqual(got.map(show), want.map(show), what);
}

// Data records: timestamps on Log_Interval boundaries, strictly increasing, exactly one
// interval apart when consecutive; the logged energy (AI2 import) never decreasing and
// growing by the steady scenario's kW x interval; log-status records in between go with
// the flow of time.
function checkDataRecords(recs, { intervalMs = INTERVAL_MS, energyKw, what }) {
  let prev;
  for (let i = 0; i < recs.length; i++) {
    const rec = recs[i];
    if (i > 0) assert.ok(ms(rec) >= ms(recs[i - 1]), `${what}: record ${i} older than the one before:\n  ${showAll(recs.slice(Math.max(0, i - 2), i + 2))}`);
    if (!isData(rec)) { prev = undefined; continue; }
    assert.equal(ms(rec) % intervalMs, 0, `${what}: ${show(rec)} not on a ${intervalMs / 1000} s boundary`);
    if (prev) {
      assert.equal(ms(rec) - ms(prev), intervalMs, `${what}: consecutive data records ${show(prev)} and ${show(rec)}`);
      if (energyKw !== undefined) {
        assert.ok(rec.value >= prev.value, `${what}: the logged AI2 decreased: ${show(prev)} -> ${show(rec)}`);
        const want = energyKw * intervalMs / 3600e3;
        assert.ok(Math.abs(rec.value - prev.value - want) <= want * 0.01 + 1e-5,
          `${what}: AI2 grew by ${rec.value - prev.value} kWh in ${intervalMs / 1000} s, expected ${want} (${energyKw} kW)`);
      }
    }
    prev = rec;
  }
}

async function counts(r, objectId) {
  const res = await r.rpm([{ objectId, props: [TL_PROP.RECORD_COUNT, TL_PROP.TOTAL_RECORD_COUNT] }]);
  const v = Object.fromEntries(res.values[0].values.map((x) => [x.id, x.value[0]?.value]));
  return { count: v[TL_PROP.RECORD_COUNT], total: v[TL_PROP.TOTAL_RECORD_COUNT] };
}

// The oldest record and its sequence number (by time, from before any record).
async function oldest(r, objectId) {
  const ack = await rr(r, objectId, { by: 'time', time: EPOCH_1990, count: 1 });
  assert.equal(ack.itemCount, 1, 'the log has a record');
  return { seq: ack.firstSequence, rec: ack.records[0] };
}

// Every record by sequence number, page after page from the oldest, until a page has
// last-item: [{ seq, rec }], each page checked.
async function readAllBySequence(r, objectId, { pageCount = 1000 } = {}) {
  const start = await oldest(r, objectId);
  const out = [];
  let seq = start.seq;
  for (let page = 0; page < 400; page++) {
    const ack = await rr(r, objectId, { by: 'sequence', seq, count: pageCount });
    assert.ok(ack.itemCount > 0, `page from sequence ${seq}: no records`);
    assert.equal(ack.firstSequence, seq, 'firstSequenceNumber = the requested sequence number');
    assert.equal(ack.flags.first, page === 0, `page from ${seq}: first-item`);
    // more-items: fewer records than asked for, and not the end of the log.
    assert.equal(ack.flags.more, !ack.flags.last && ack.itemCount < pageCount,
      `page from ${seq}: ${ack.itemCount} of ${pageCount} records, flags ${JSON.stringify(ack.flags)}`);
    ack.records.forEach((rec, i) => out.push({ seq: seq + i, rec }));
    seq += ack.itemCount;
    if (ack.flags.last) return { out, first: start.seq };
  }
  throw new Error('no last-item after 400 pages');
}

// BACnetDeviceObjectPropertyReference written to Log_DeviceObjectProperty.
function writeLogged(r, tl, objectId, prop, deviceInstance) {
  return writeRaw(r, tl, TL_PROP.LOG_DEVICE_OBJECT_PROPERTY, (b) => {
    asn1.encodeContextObjectId(b, 0, objectId.type, objectId.instance);
    asn1.encodeContextEnumerated(b, 1, prop);
    if (deviceInstance !== undefined) asn1.encodeContextObjectId(b, 3, OT.DEVICE, deviceInstance);
  });
}

// What a request came to: the client's calls reject on Error/Reject/Abort, the raw ones
// (confirmedRequest, writeRaw) resolve to an outcome already.
async function settle(promise) {
  const got = await outcome(promise);
  return got.kind === 'ok' && got.value && typeof got.value.kind === 'string' && 'pdu' in got.value ? got.value : got;
}
const brief = (got) => JSON.stringify(got, (k, v) => (k === 'value' || k === 'pdu' ? undefined : v));

async function expectOk(promise, what) {
  const got = await settle(promise);
  assert.equal(got.kind, 'ok', `${what}: expected Simple-ACK, got ${brief(got)}`);
}

async function expectError(promise, errorClass, errorCode, what) {
  const got = await settle(promise);
  assert.deepEqual({ kind: got.kind, errorClass: got.errorClass, errorCode: got.errorCode }, { kind: 'error', errorClass, errorCode },
    `${what}: expected Error class ${errorClass} code ${errorCode}, got ${brief(got)}`);
}

const writeBool = (r, tl, prop, value) => r.write(tl, prop, [{ type: TAG.BOOLEAN, value }]);
const writeUnsigned = (r, tl, prop, value) => r.write(tl, prop, [{ type: TAG.UNSIGNED, value }]);
const writeDateTime = (r, tl, prop, date) => r.write(tl, prop, [{ type: TAG.DATE, value: date }, { type: TAG.TIME, value: date }]);
const writeUnspecifiedDateTime = (r, tl, prop) => writeRaw(r, tl, prop, (b) => {
  asn1.encodeTag(b, TAG.DATE, false, 4);
  for (let i = 0; i < 4; i++) b.buffer[b.offset++] = 0xFF;
  asn1.encodeTag(b, TAG.TIME, false, 4);
  for (let i = 0; i < 4; i++) b.buffer[b.offset++] = 0xFF;
});

// The newest data record's timestamp (by sequence, backwards from Total_Record_Count).
async function newestData(r, objectId) {
  const { total } = await counts(r, objectId);
  const ack = await rr(r, objectId, { by: 'sequence', seq: total, count: -10 });
  return ack.records.filter(isData).pop();
}

// The meter's clock (Local_Date + Local_Time) in ms.
async function meterClock(r) {
  const res = await r.rpm([{ objectId: r.device, props: [PROP.LOCAL_DATE, PROP.LOCAL_TIME] }]);
  const [d, t] = res.values[0].values.map((x) => x.value[0].value);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds(), t.getUTCMilliseconds());
}

let full; // TL1 of the main meter frozen by Log_Enable FALSE: [{ seq, rec }]
let fillStart; // the fill meter's TL1 oldest record when Stop_When_Full was set

describe('Trend Log objects and ReadRange', () => {
  before(async () => {
    await Promise.all([rig.start(), fill.start()]);
    await expectOk(writeBool(fill, TL1, TL_PROP.STOP_WHEN_FULL, true), 'fill meter: TL1 Stop_When_Full TRUE');
    await expectOk(writeBool(fill, TL2, TL_PROP.STOP_WHEN_FULL, false), 'fill meter: TL2 Stop_When_Full FALSE');
    await fill.advanceUntil(async () => (await counts(fill, TL1)).count > 0,
      { step: INTERVAL_S, max: 3 * INTERVAL_S, what: 'fill meter: a first record' });
    fillStart = await oldest(fill, TL1);
  });
  after(async () => {
    await Promise.all([rig.close(), fill.close()]);
  });

  describe('configuration (datasheet PICS section 5)', () => {
    it('TL1..TL3: Buffer_Size 5760, Log_Enable TRUE, Log_Interval = AV11, logging AI2, AI3, AI19 Present_Value', T, async () => {
      const logged = { 1: 2, 2: 3, 3: 19 };
      for (const i of [1, 2, 3]) {
        assert.equal(await rig.readValue(TL(i), TL_PROP.BUFFER_SIZE), BUFFER_SIZE, `TL${i} Buffer_Size`);
        assert.equal(await rig.readValue(TL(i), TL_PROP.LOG_ENABLE), true, `TL${i} Log_Enable`);
        assert.equal(await rig.readValue(TL(i), TL_PROP.LOG_INTERVAL), INTERVAL_CS, `TL${i} Log_Interval`);
        const ref = await rig.readValue(TL(i), TL_PROP.LOG_DEVICE_OBJECT_PROPERTY);
        assert.deepEqual({ type: ref.objectId.objectType, instance: ref.objectId.instance, prop: ref.id.value },
          { type: OT.AI, instance: logged[i], prop: PROP.PRESENT_VALUE }, `TL${i} Log_DeviceObjectProperty`);
      }
      assert.equal(await rig.readValue(AV(11), PROP.PRESENT_VALUE), INTERVAL_CS, 'AV11');
    });

    it('Log_Buffer by ReadProperty: property/read-access-denied', T, async () => {
      for (const i of [1, 2, 3]) {
        await expectError(rig.readProperty(TL(i), LOG_BUFFER), ERR_CLASS.PROPERTY, READ_ACCESS_DENIED, `TL${i} Log_Buffer`);
      }
    });

    it('Buffer_Size and Total_Record_Count are not writable: property/write-access-denied', T, async () => {
      await expectError(writeUnsigned(rig, TL1, TL_PROP.BUFFER_SIZE, 100), ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, 'Buffer_Size');
      await expectError(writeUnsigned(rig, TL1, TL_PROP.TOTAL_RECORD_COUNT, 0), ERR_CLASS.PROPERTY, ERR_CODE.WRITE_ACCESS_DENIED, 'Total_Record_Count');
    });
  });

  describe('ReadRange of a log frozen by Log_Enable FALSE', () => {
    it('Log_Enable FALSE stops the log with a log-disabled record; by sequence, page by page, every record exactly once', T, async () => {
      await rig.advanceUntil(async () => (await counts(rig, TL1)).count >= RECORDS_FROZEN,
        { step: (RECORDS_FROZEN + 1) * INTERVAL_S, max: (RECORDS_FROZEN + 10) * INTERVAL_S, what: `TL1 Record_Count >= ${RECORDS_FROZEN}` });
      await expectOk(writeBool(rig, TL1, TL_PROP.LOG_ENABLE, false), 'TL1 Log_Enable FALSE');
      assert.equal(await rig.readValue(TL1, TL_PROP.LOG_ENABLE), false, 'Log_Enable reads FALSE');
      const c1 = await counts(rig, TL1);
      await rig.advance(8 * INTERVAL_S);
      const c2 = await counts(rig, TL1);
      assert.deepEqual(c2, c1, 'Record_Count and Total_Record_Count frozen');
      const { out, first } = await readAllBySequence(rig, TL1);
      full = out;
      const N = full.length;
      assert.equal(N, c1.count, 'records read = Record_Count');
      assert.equal(first + N - 1, c1.total, 'the newest record has sequence number Total_Record_Count');
      full.forEach((x, i) => assert.equal(x.seq, first + i, 'sequence numbers consecutive'));
      const recs = full.map((x) => x.rec);
      for (let i = 1; i < N; i++) {
        assert.ok(ms(recs[i]) > ms(recs[i - 1]) || !isData(recs[i]), `timestamps strictly increasing: ${show(recs[i - 1])}, ${show(recs[i])}`);
      }
      const last = recs[N - 1];
      assert.ok(last.isLogStatus && last.logStatus.log_disabled, `the last record is log-disabled, got ${show(last)}`);
      assert.ok(recs.slice(0, -1).filter(isData).length >= RECORDS_FROZEN - 2, `data records:\n  ${showAll(recs)}`);
      checkDataRecords(recs, { energyKw: STEADY_AI[11], what: 'TL1 (AI2)' });
    });

    it('the logged AI2 is at most AI2 Present_Value now', T, async () => {
      const lastData = full.map((x) => x.rec).filter(isData).pop();
      const pv = await rig.readValue(AI(2), PROP.PRESENT_VALUE);
      assert.ok(lastData.value <= pv, `last logged ${lastData.value}, AI2 ${pv}`);
    });

    it('by position with the client: positive and negative counts, result flags at both ends, no firstSequenceNumber', T, async () => {
      const N = full.length;
      const recs = full.map((x) => x.rec);
      // [index, count, first position, last position (1-based, inclusive)]
      const cases = [
        [1, 5, 1, 5], [N, -5, N - 4, N], [N, 5, N, N], [1, -5, 1, 1], [10, 3, 10, 12], [12, -3, 10, 12],
        [N - 2, 3, N - 2, N], [3, -3, 1, 3], [N - 19, 19, N - 19, N - 1],
      ];
      for (const [index, count, lo, hi] of cases) {
        const what = `by position ${index}, ${count}`;
        const ack = checkAck(await readRangeClient(rig, TL1, index, count), TL1, 'position');
        sameRecords(ack.records, recs.slice(lo - 1, hi), what);
        assert.deepEqual(ack.flags, { first: lo === 1, last: hi === N, more: false }, `${what}: flags`);
      }
    });

    it('by position: a reference index that does not exist gives an empty ACK', T, async () => {
      const N = full.length;
      // (also when the count would reach back or forward into records that do exist)
      for (const [index, count] of [[N + 1, 1], [N + 1, -1], [N + 1, -3], [N + 100, -5], [0, 5], [UNSIGNED_32_MAX, -1]]) {
        const ack = checkAck(await readRangeClient(rig, TL1, index, count), TL1, 'position');
        assert.equal(ack.itemCount, 0, `by position ${index}, ${count}: items`);
        assert.deepEqual(ack.flags, { first: false, last: false, more: false }, `by position ${index}, ${count}: flags`);
      }
    });

    it('by sequence number: positive and negative counts, flags, firstSequenceNumber', T, async () => {
      const N = full.length;
      const s0 = full[0].seq;
      const sN = full[N - 1].seq;
      const recs = full.map((x) => x.rec);
      const cases = [
        [s0 + 9, 3, 10, 12], [s0 + 11, -3, 10, 12], [s0, -3, 1, 1], [s0, 4, 1, 4], [sN, 3, N, N], [sN, -4, N - 3, N],
        [s0 + 2, -5, 1, 3], [sN - 1, 5, N - 1, N],
      ];
      for (const [seq, count, lo, hi] of cases) {
        const what = `by sequence ${seq}, ${count}`;
        const ack = await rr(rig, TL1, { by: 'sequence', seq, count });
        sameRecords(ack.records, recs.slice(lo - 1, hi), what);
        assert.deepEqual(ack.flags, { first: lo === 1, last: hi === N, more: false }, `${what}: flags`);
        assert.equal(ack.firstSequence, s0 + lo - 1, `${what}: firstSequenceNumber`);
      }
    });

    it('by sequence number: one that does not exist gives an empty ACK without firstSequenceNumber', T, async () => {
      const s0 = full[0].seq;
      const sN = full[full.length - 1].seq;
      const missing = [[sN + 1, 1], [sN + 1, -1], [sN + 1, -3], [sN + 1000, -10], [UNSIGNED_32_MAX, -1]];
      if (s0 > 1) missing.push([s0 - 1, 1], [s0 - 1, -1], [s0 - 1, 3]);
      for (const [seq, count] of missing) {
        const ack = await rr(rig, TL1, { by: 'sequence', seq, count });
        assert.equal(ack.itemCount, 0, `by sequence ${seq}, ${count}: items`);
        assert.deepEqual(ack.flags, { first: false, last: false, more: false }, `by sequence ${seq}, ${count}: flags`);
      }
    });

    it('by time [7] and the old [4]: strictly newer / strictly older than the reference, oldest first', T, async () => {
      const N = full.length;
      const s0 = full[0].seq;
      const recs = full.map((x) => x.rec);
      const k = 30; // a data record in the middle (0-based)
      assert.ok(isData(recs[k]) && isData(recs[k - 3]) && isData(recs[k + 3]), 'data records around the reference');
      const t = (x) => new Date(x);
      const tk = ms(recs[k]);
      const cases = [
        // [reference time, count, first position, last position (0-based, inclusive; hi < lo: none)]
        [tk, 3, k + 1, k + 3], [tk, -3, k - 3, k - 1], [tk + 5000, 2, k + 1, k + 2], [tk + 5000, -2, k - 1, k],
        [ms(recs[0]) - 1000, 3, 0, 2], [ms(recs[0]) - 1000, -3, 0, -1],
        [ms(recs[N - 1]) + 1000, -3, N - 3, N - 1], [ms(recs[N - 1]) + 1000, 3, N, N - 1],
        [ms(recs[0]), -1, 0, -1], [ms(recs[N - 1]), 1, N, N - 1],
        [EPOCH_1990.getTime(), 2, 0, 1],
      ];
      for (const by of ['time', 'time4']) {
        for (const [ref, count, lo, hi] of cases) {
          const what = `by ${by === 'time' ? 'time [7]' : 'time [4]'} ${t(ref).toISOString()}, ${count}`;
          const ack = await rr(rig, TL1, { by, time: t(ref), count });
          const want = hi >= lo ? recs.slice(lo, hi + 1) : [];
          sameRecords(ack.records, want, what);
          assert.deepEqual(ack.flags, { first: want.length > 0 && lo === 0, last: want.length > 0 && hi === N - 1, more: false }, `${what}: flags`);
          if (want.length) assert.equal(ack.firstSequence, s0 + lo, `${what}: firstSequenceNumber`);
        }
      }
    });

    it('a reply larger than 480 octets is cut at whole records with more-items; so is one for a 206-octet client', T, async () => {
      const N = full.length;
      const recs = full.map((x) => x.rec);
      const s0 = full[0].seq;
      const recordOctets = 22; // 0E date time 0F 1E 44 real 1F 2A 04 flags: 22 octets
      const check = (ack, lo, what, maxApdu = MAX_APDU) => {
        assert.ok(ack.itemCount > 0 && ack.itemCount < N, `${what}: ${ack.itemCount} records`);
        assert.ok(ack.flags.more, `${what}: more-items`);
        assert.ok(ack.apduLength <= maxApdu, `${what}: ${ack.apduLength} octets`);
        assert.ok(ack.apduLength + 2 * recordOctets > maxApdu, `${what}: ${ack.apduLength} octets with ${ack.itemCount} records: the reply is not filled`);
        sameRecords(ack.records, recs.slice(lo, lo + ack.itemCount), what);
        assert.equal(ack.flags.first, lo === 0, `${what}: first-item`);
        assert.equal(ack.flags.last, false, `${what}: last-item`);
      };
      const a = checkAck(await readRangeClient(rig, TL1, 1, N), TL1, 'position');
      check(a, 0, `by position 1, ${N} (client)`);
      assert.ok(a.itemCount >= 18 && a.itemCount <= 21, `about 20 records per reply, got ${a.itemCount}`);
      check(await rr(rig, TL1, { by: 'sequence', seq: s0 + 5, count: 1000 }), 5, 'by sequence, 1000');
      check(await rr(rig, TL1, { by: 'time', time: EPOCH_1990, count: 32767 }), 0, 'by time, 32767');
      check(await rr(rig, TL1, { by: 'all' }), 0, 'no range (all items)');
      check(await rr(rig, TL1, { by: 'position', index: 1, count: N }, { maxApdu: 206 }), 0, 'by position, 206-octet client', 206);
      // A truncated backward read: a run of consecutive records inside the requested range.
      const back = await rr(rig, TL1, { by: 'sequence', seq: full[N - 1].seq, count: -N });
      assert.ok(back.flags.more && back.itemCount > 0 && back.itemCount < N, `by sequence ${full[N - 1].seq}, ${-N}: more-items`);
      const lo = back.firstSequence - s0;
      sameRecords(back.records, recs.slice(lo, lo + back.itemCount), 'backward truncated read');
    });

    it('count 0 and the withdrawn timeRange [5]: Reject', T, async () => {
      for (const range of [
        { by: 'position', index: 1, count: 0 }, { by: 'sequence', seq: full[0].seq, count: 0 },
        { by: 'time', time: EPOCH_1990, count: 0 },
        { by: 'timeRange5', begin: EPOCH_1990, end: new Date(Date.UTC(2099, 0, 1)) },
      ]) {
        const got = await readRangeRaw(rig, TL1, range);
        assert.equal(got.pdu?.pduType, PDU.REJECT, `${JSON.stringify(range)}: expected a Reject PDU, got ${JSON.stringify(got, (k, v) => (k === 'apdu' ? v?.toString?.('hex') : v))}`);
      }
    });

    it('ReadRange of a property that is not a list: services/property-is-not-a-list; of TL4: object/unknown-object', T, async () => {
      for (const [oid, prop] of [[AI(1), PROP.PRESENT_VALUE], [TL1, PROP.OBJECT_NAME], [TL1, TL_PROP.RECORD_COUNT], [rig.device, PROP.LOCATION]]) {
        const got = await readRangeRaw(rig, oid, { by: 'position', index: 1, count: 1 }, { prop });
        assert.deepEqual({ kind: got.kind, errorClass: got.errorClass, errorCode: got.errorCode },
          { kind: 'error', errorClass: ERR_CLASS.SERVICES, errorCode: ERR_PROPERTY_IS_NOT_A_LIST }, `ReadRange ${JSON.stringify(oid)} property ${prop}`);
      }
      const got = await readRangeRaw(rig, TL(4), { by: 'position', index: 1, count: 1 });
      assert.deepEqual({ kind: got.kind, errorClass: got.errorClass, errorCode: got.errorCode },
        { kind: 'error', errorClass: ERR_CLASS.OBJECT, errorCode: ERR_CODE.UNKNOWN_OBJECT }, 'ReadRange TL4');
    });
  });

  describe('ReadRange of a growing log', () => {
    it('TL2, page by page by sequence number while it logs: each record once, consecutive, in order', T, async () => {
      const before = await counts(rig, TL2);
      // 30 records logged while the pages are read (the meter answers between chunks).
      const logging = rig.advance(30 * INTERVAL_S).then(() => null, (e) => e);
      const { out } = await readAllBySequence(rig, TL2, { pageCount: 7 });
      const failed = await logging;
      if (failed) throw failed;
      assert.ok(out[out.length - 1].seq >= before.total, `read up to ${out[out.length - 1].seq}, Total_Record_Count was ${before.total}`);
      for (let i = 1; i < out.length; i++) {
        assert.equal(out[i].seq, out[i - 1].seq + 1, 'consecutive');
        assert.ok(ms(out[i].rec) > ms(out[i - 1].rec), `strictly newer: ${show(out[i - 1].rec)}, ${show(out[i].rec)}`);
      }
      checkDataRecords(out.map((x) => x.rec), { what: 'TL2 (AI3)' });
    });
  });

  describe('writable properties (PICS section 5)', () => {
    it('Log_Enable TRUE: TL1 logs again; a non-Boolean: property/invalid-data-type', T, async () => {
      const c = await counts(rig, TL1);
      await expectOk(writeBool(rig, TL1, TL_PROP.LOG_ENABLE, true), 'TL1 Log_Enable TRUE');
      assert.equal(await rig.readValue(TL1, TL_PROP.LOG_ENABLE), true);
      await rig.advanceUntil(async () => (await counts(rig, TL1)).total >= c.total + 3,
        { step: INTERVAL_S, max: 6 * INTERVAL_S, what: 'TL1 logging again' });
      const ack = await rr(rig, TL1, { by: 'sequence', seq: c.total, count: 10 });
      assert.ok(ack.records.slice(1).some(isData), `data records after the log-disabled one:\n  ${showAll(ack.records)}`);
      await expectError(rig.write(TL1, TL_PROP.LOG_ENABLE, [{ type: TAG.REAL, value: 1 }]), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, 'Log_Enable = REAL');
      assert.equal(await rig.readValue(TL1, TL_PROP.LOG_ENABLE), true);
    });

    it('Stop_When_Full TRUE and FALSE read back; a non-Boolean: property/invalid-data-type', T, async () => {
      for (const v of [true, false]) {
        await expectOk(writeBool(rig, TL2, TL_PROP.STOP_WHEN_FULL, v), `Stop_When_Full ${v}`);
        assert.equal(await rig.readValue(TL2, TL_PROP.STOP_WHEN_FULL), v);
      }
      await expectError(writeUnsigned(rig, TL2, TL_PROP.STOP_WHEN_FULL, 1), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, 'Stop_When_Full = Unsigned');
    });

    it('Start_Time / Stop_Time: logging only inside the window; back to unspecified', T, async () => {
      const stopsLogging = async (what) => {
        await rig.advance(INTERVAL_S); // a write just before a boundary may still see that record
        const a = await newestData(rig, TL2);
        await rig.advance(8 * INTERVAL_S);
        const b = await newestData(rig, TL2);
        assert.equal(b && show(b), a && show(a), `${what}: no new data record`);
      };
      const logsAgain = async (what) => {
        const a = await newestData(rig, TL2);
        await rig.advanceUntil(async () => ms(await newestData(rig, TL2)) > ms(a),
          { step: INTERVAL_S, max: 3 * INTERVAL_S, what: `${what}: a new data record` });
      };
      const future = new Date(Date.UTC(2099, 0, 1, 0, 0, 0));
      const past = new Date(Date.UTC(2000, 0, 1, 0, 0, 0));
      const read = async (prop) => {
        const v = await rig.read(TL2, prop);
        return v.map((x) => x.value.getTime());
      };
      await expectOk(writeDateTime(rig, TL2, TL_PROP.START_TIME, future), 'Start_Time 2099');
      const st = await read(TL_PROP.START_TIME);
      assert.equal(st.length, 2, 'Start_Time: a Date and a Time');
      assert.equal(new Date(st[0]).getUTCFullYear(), 2099, 'Start_Time date reads back');
      await stopsLogging('Start_Time in the future');
      await expectOk(writeDateTime(rig, TL2, TL_PROP.START_TIME, past), 'Start_Time 2000-01-01');
      await logsAgain('Start_Time in the past');
      await expectOk(writeDateTime(rig, TL2, TL_PROP.STOP_TIME, new Date(Date.UTC(2000, 0, 1, 0, 0, 1))), 'Stop_Time 2000-01-01 00:00:01');
      await stopsLogging('Stop_Time in the past');
      await expectOk(writeDateTime(rig, TL2, TL_PROP.STOP_TIME, future), 'Stop_Time 2099');
      await logsAgain('Stop_Time in the future');
      // (A value of another datatype is not sent: Wireshark, rightly, calls such a request
      // malformed, and the capture of this suite must be clean.)
      for (const p of [TL_PROP.START_TIME, TL_PROP.STOP_TIME]) {
        await expectOk(writeUnspecifiedDateTime(rig, TL2, p), `property ${p} unspecified`);
        const v = await rig.read(TL2, p);
        assert.equal(v.length, 2, `property ${p}: a Date and a Time`);
      }
      await logsAgain('Start_Time and Stop_Time unspecified');
    });

    it('Log_DeviceObjectProperty: AI75 Present_Value accepted (and logged); AI76, AV1, another property, another device refused', T, async () => {
      await expectOk(writeLogged(rig, TL3, AI(75), PROP.PRESENT_VALUE), 'TL3 <- AI75 Present_Value');
      let ref = await rig.readValue(TL3, TL_PROP.LOG_DEVICE_OBJECT_PROPERTY);
      assert.deepEqual([ref.objectId.objectType, ref.objectId.instance, ref.id.value], [OT.AI, 75, PROP.PRESENT_VALUE]);
      await expectOk(writeLogged(rig, TL3, AI(75), PROP.PRESENT_VALUE, MAIN_ID), 'TL3 <- AI75 Present_Value of this device');
      await rig.advanceUntil(async () => {
        const d = await newestData(rig, TL3);
        return d && Math.abs(d.value - STEADY_AI[75]) <= STEADY_AI[75] * 0.01;
      }, { step: INTERVAL_S, max: 3 * INTERVAL_S, what: `TL3 logging AI75 (${STEADY_AI[75]} A)` });
      const refused = [
        [AI(76), PROP.PRESENT_VALUE, undefined, 'AI76'], [AI(83), PROP.PRESENT_VALUE, undefined, 'AI83'],
        [AV(1), PROP.PRESENT_VALUE, undefined, 'AV1'], [{ type: OT.BI, instance: 1 }, PROP.PRESENT_VALUE, undefined, 'BI1'],
        [AI(1), PROP.OBJECT_NAME, undefined, 'AI1 Object_Name'], [AI(1), PROP.RELIABILITY, undefined, 'AI1 Reliability'],
        [AI(0), PROP.PRESENT_VALUE, undefined, 'AI0'],
      ];
      for (const [oid, prop, dev, what] of refused) {
        await expectError(writeLogged(rig, TL3, oid, prop, dev), ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE, `TL3 <- ${what}`);
      }
      const remote = await writeLogged(rig, TL3, AI(1), PROP.PRESENT_VALUE, MAIN_ID + 1);
      assert.ok(remote.kind === 'error' && remote.errorClass === ERR_CLASS.PROPERTY
        && [ERR_CODE.VALUE_OUT_OF_RANGE, ERR_CODE.OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED].includes(remote.errorCode),
      `TL3 <- AI1 of device ${MAIN_ID + 1}: expected property/value-out-of-range or optional-functionality-not-supported, got ${brief(remote)}`);
      ref = await rig.readValue(TL3, TL_PROP.LOG_DEVICE_OBJECT_PROPERTY);
      assert.deepEqual([ref.objectId.objectType, ref.objectId.instance, ref.id.value], [OT.AI, 75, PROP.PRESENT_VALUE], 'unchanged by the refused writes');
      await expectOk(writeLogged(rig, TL3, AI(19), PROP.PRESENT_VALUE), 'TL3 <- AI19 Present_Value again');
    });

    it('Record_Count 0 purges: one buffer-purged record, then logging goes on; other values refused', T, async () => {
      const b1 = await counts(rig, TL1);
      const b2 = await counts(rig, TL2);
      await expectOk(writeUnsigned(rig, TL2, TL_PROP.RECORD_COUNT, 0), 'TL2 Record_Count 0');
      const o = await oldest(rig, TL2);
      assert.ok(o.rec.isLogStatus && o.rec.logStatus.buffer_purged, `TL2's oldest record after the purge: ${show(o.rec)}`);
      assert.ok(o.seq > b2.total, `the buffer-purged record's sequence number ${o.seq} follows the ${b2.total} before (Total_Record_Count is not reset)`);
      const a2 = await counts(rig, TL2);
      assert.equal(a2.count, a2.total - o.seq + 1, 'Record_Count = the records from the buffer-purged one on');
      assert.ok(a2.count <= 10, `Record_Count ${a2.count} right after the purge`);
      const after1 = await counts(rig, TL1);
      assert.ok(after1.count >= b1.count, 'TL1 not purged');
      await rig.advanceUntil(async () => (await counts(rig, TL2)).count >= 3,
        { step: INTERVAL_S, max: 4 * INTERVAL_S, what: 'TL2 logging after the purge' });
      const ack = await rr(rig, TL2, { by: 'sequence', seq: o.seq, count: 5 });
      checkDataRecords(ack.records, { what: 'TL2 after the purge' });
      // A purged sequence number is a reference that does not exist: nothing matches, even
      // with a count reaching into the records that do (BACNET-NOTES).
      for (const [seq, count] of [[o.seq - 1, 3], [o.seq - 2, 5]]) {
        const none = await rr(rig, TL2, { by: 'sequence', seq, count });
        assert.equal(none.itemCount, 0, `by sequence ${seq}, ${count} after the purge: items`);
      }
      assert.ok(ack.records.slice(1).every(isData), `after the buffer-purged record only data:\n  ${showAll(ack.records)}`);
      for (const v of [1, 5, BUFFER_SIZE]) {
        await expectError(writeUnsigned(rig, TL2, TL_PROP.RECORD_COUNT, v), ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE, `Record_Count = ${v}`);
      }
      await expectError(rig.write(TL2, TL_PROP.RECORD_COUNT, [{ type: TAG.REAL, value: 0 }]), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, 'Record_Count = REAL 0');
      assert.equal((await oldest(rig, TL2)).seq, o.seq, 'the refused writes purged nothing');
    });

    it('Log_Interval <-> AV11 both ways, each write purging all three logs; out-of-range values refused (DECISIONS O11, M14)', T, async () => {
      const purgedAfter = async (totals, what) => {
        for (const i of [1, 2, 3]) {
          await rig.advanceUntil(async () => {
            const o = await oldest(rig, TL(i));
            return o.seq > totals[i] && o.rec.isLogStatus && o.rec.logStatus.buffer_purged ? o : null;
          }, { what: `${what}: TL${i} purged (oldest record buffer-purged, after sequence ${totals[i]})` });
        }
      };
      const totals = async () => {
        const t = {};
        for (const i of [1, 2, 3]) t[i] = (await counts(rig, TL(i))).total;
        return t;
      };
      const intervalIs = async (cs, what) => {
        await rig.advanceUntil(async () => (await rig.readValue(AV(11), PROP.PRESENT_VALUE)) === cs, { what: `${what}: AV11 = ${cs}` });
        for (const i of [1, 2, 3]) assert.equal(await rig.readValue(TL(i), TL_PROP.LOG_INTERVAL), cs, `${what}: TL${i} Log_Interval`);
      };
      // TL2 -> AV11 and the other logs.
      let t0 = await totals();
      await expectOk(writeUnsigned(rig, TL2, TL_PROP.LOG_INTERVAL, 2000), 'TL2 Log_Interval 2000');
      await intervalIs(2000, 'Log_Interval 2000');
      await purgedAfter(t0, 'Log_Interval 2000');
      const o = await oldest(rig, TL1);
      await rig.advanceUntil(async () => (await counts(rig, TL1)).total >= o.seq + 3,
        { step: 20, max: 5 * 20, what: 'TL1: three records at 20 s' });
      const ack = await rr(rig, TL1, { by: 'sequence', seq: o.seq, count: 4 });
      checkDataRecords(ack.records, { intervalMs: 20000, energyKw: STEADY_AI[11], what: 'TL1 at Log_Interval 20 s' });
      // AV11 -> Log_Interval.
      t0 = await totals();
      await expectOk(rig.writeReal(AV(11), INTERVAL_CS), `AV11 ${INTERVAL_CS}`);
      await intervalIs(INTERVAL_CS, `AV11 ${INTERVAL_CS}`);
      await purgedAfter(t0, `AV11 ${INTERVAL_CS}`);
      // Refused: not 0 or 1000..3276700 in steps of 100; not an Unsigned.
      t0 = await totals();
      const o1 = await oldest(rig, TL1);
      for (const v of [1, 10, 999, 1050, 3276750, 3276800]) {
        await expectError(writeUnsigned(rig, TL1, TL_PROP.LOG_INTERVAL, v), ERR_CLASS.PROPERTY, ERR_CODE.VALUE_OUT_OF_RANGE, `Log_Interval = ${v}`);
      }
      await expectError(rig.write(TL1, TL_PROP.LOG_INTERVAL, [{ type: TAG.REAL, value: 2000 }]), ERR_CLASS.PROPERTY, ERR_CODE.INVALID_DATA_TYPE, 'Log_Interval = REAL');
      await rig.advance(1);
      await intervalIs(INTERVAL_CS, 'after the refused writes');
      assert.equal((await oldest(rig, TL1)).seq, o1.seq, 'the refused writes purged nothing');
    });

    it('sync-to-comms: AV11 = 0, then AV1 = 21211 logs exactly one record in each log after the next cycle (datasheet AV1, AV11; M13)', T, async () => {
      await expectOk(rig.writeReal(AV(11), 0), 'AV11 0');
      await rig.advanceUntil(async () => (await rig.readValue(AV(11), PROP.PRESENT_VALUE)) === 0, { what: 'AV11 = 0' });
      for (const i of [1, 2, 3]) assert.equal(await rig.readValue(TL(i), TL_PROP.LOG_INTERVAL), 0, `TL${i} Log_Interval 0`);
      await rig.advance(1);
      const t0 = {};
      for (const i of [1, 2, 3]) t0[i] = (await counts(rig, TL(i))).total;
      await rig.advance(120); // no interval logging
      for (const i of [1, 2, 3]) assert.equal((await counts(rig, TL(i))).total, t0[i], `TL${i}: nothing logged at Log_Interval 0`);
      await expectOk(rig.writeReal(AV(1), 21211), 'AV1 21211');
      for (const i of [1, 2, 3]) {
        await rig.advanceUntil(async () => (await counts(rig, TL(i))).total > t0[i], { what: `TL${i}: a record after AV1 = 21211` });
      }
      await rig.advance(100);
      for (const i of [1, 2, 3]) {
        assert.equal((await counts(rig, TL(i))).total, t0[i] + 1, `TL${i}: exactly one record`);
        const ack = await rr(rig, TL(i), { by: 'sequence', seq: t0[i] + 1, count: -2 });
        assert.ok(isData(ack.records[ack.records.length - 1]), `TL${i}: the new record is a data record:\n  ${showAll(ack.records)}`);
        assert.ok(ms(ack.records[ack.records.length - 1]) >= ms(ack.records[0]), `TL${i}: newer than the one before`);
      }
      await expectOk(rig.writeReal(AV(11), INTERVAL_CS), `AV11 ${INTERVAL_CS} again`);
      // Committed, and the purge it causes done, before the next test counts records.
      await rig.advanceUntil(async () => (await rig.readValue(AV(11), PROP.PRESENT_VALUE)) === INTERVAL_CS, { what: `AV11 = ${INTERVAL_CS}` });
      for (const i of [1, 2, 3]) {
        await rig.advanceUntil(async () => {
          const o = await oldest(rig, TL(i));
          return o.seq > t0[i] + 1 && o.rec.isLogStatus && o.rec.logStatus.buffer_purged;
        }, { what: `TL${i} purged by AV11 = ${INTERVAL_CS}` });
      }
    });

    it('TimeSynchronization adds a time-change record; records go on at the new time, on interval boundaries', T, async () => {
      const syncAndFind = async (target, what) => {
        const { total } = await counts(rig, TL1);
        const before = await meterClock(rig);
        rig.timeSync(new Date(target));
        let tc;
        // (The ReadPropertyMultiple that follows is answered after the TimeSynchronization
        // is handled: the meter takes datagrams in order.)
        await rig.advanceUntil(async () => {
          const c = await counts(rig, TL1);
          if (c.total <= total) return false;
          const ack = await rr(rig, TL1, { by: 'sequence', seq: total + 1, count: 20 });
          tc = ack.records.find((x) => x.isTimeChange);
          return tc;
        }, { what: `${what}: a time-change record` });
        return { tc, deltaS: (target - before) / 1000, total };
      };
      // First synchronization after power-up (the clock was reset: 135 allows 0 then).
      const t1 = Date.UTC(2030, 5, 15, 12, 0, 0);
      const first = await syncAndFind(t1, 'first TimeSynchronization');
      // The change in seconds is a REAL: 30 years are exact only to 2^-24 of themselves.
      const tolerance = (s) => 60 + Math.abs(s) * 2 ** -23;
      assert.ok(first.tc.value === 0 || Math.abs(first.tc.value - first.deltaS) <= tolerance(first.deltaS),
        `first time-change: ${first.tc.value} s, expected 0 or about ${first.deltaS}`);
      // Then one hour forward from a known clock: the change in seconds.
      const now = await meterClock(rig);
      const second = await syncAndFind(now + 3600e3, 'one hour forward');
      assert.ok(Math.abs(second.tc.value - second.deltaS) <= tolerance(second.deltaS),
        `time-change of ${second.tc.value} s, expected about ${second.deltaS} (+- 60 s)`);
      await rig.advanceUntil(async () => (await counts(rig, TL1)).total >= second.total + 4,
        { step: INTERVAL_S, max: 6 * INTERVAL_S, what: 'records after the sync' });
      const ack = await rr(rig, TL1, { by: 'sequence', seq: second.total + 1, count: 20 });
      const i = ack.records.findIndex((x) => x.isTimeChange);
      const after = ack.records.slice(i + 1);
      assert.ok(after.filter(isData).length >= 2, `data records after the time-change:\n  ${showAll(ack.records)}`);
      checkDataRecords(after, { what: 'TL1 after the TimeSynchronization' });
      assert.ok(ms(after.find(isData)) >= now + 3600e3 - 60e3, `${show(after.find(isData))}: at the new time`);
    });
  });

  describe('a whole buffer (the fill meter, advanced 16 hours of meter time at once)', () => {
    it('Stop_When_Full TRUE: TL1 stops at 5760 records with Log_Enable FALSE; TL2 (continuous) wraps', async () => {
      await fill.advance(FILL_S);
      assert.equal(await fill.readValue(TL1, TL_PROP.LOG_ENABLE), false, `fill meter TL1 Log_Enable FALSE (buffer full) after ${FILL_S} s`);
      const c1 = await counts(fill, TL1);
      assert.equal(c1.count, BUFFER_SIZE, 'TL1 Record_Count = Buffer_Size');
      await fill.advance(3 * INTERVAL_S);
      assert.deepEqual(await counts(fill, TL1), c1, 'TL1 logs no more');
      const o = await oldest(fill, TL1);
      assert.deepEqual([o.seq, show(o.rec)], [fillStart.seq, show(fillStart.rec)], 'single-shot: the oldest record is kept');
      assert.equal(c1.total, o.seq + BUFFER_SIZE - 1, 'Total_Record_Count = the newest sequence number');
      const end = await rr(fill, TL1, { by: 'position', index: BUFFER_SIZE, count: -3 });
      assert.equal(end.itemCount, 3);
      assert.ok(end.flags.last && !end.flags.first, 'the end of a full buffer');
      const beyond = await rr(fill, TL1, { by: 'position', index: BUFFER_SIZE + 1, count: 1 });
      assert.equal(beyond.itemCount, 0, `position ${BUFFER_SIZE + 1}`);
      // TL2, continuous: full, and the oldest records overwritten.
      const c2 = await counts(fill, TL2);
      assert.ok(c2.total > BUFFER_SIZE + 5, `fill meter TL2 past 5760 records: Total_Record_Count ${c2.total}`);
      assert.equal(c2.count, BUFFER_SIZE, 'TL2 Record_Count = Buffer_Size');
      assert.equal(await fill.readValue(TL2, TL_PROP.LOG_ENABLE), true, 'TL2 still enabled');
      // The oldest records, in one reply.
      const head = await rr(fill, TL2, { by: 'time', time: EPOCH_1990, count: 3 });
      assert.equal(head.itemCount, 3);
      assert.ok(head.flags.first && !head.flags.last, 'the oldest records of a wrapped log: first-item');
      assert.ok(head.firstSequence > 1 && head.firstSequence >= c2.total - BUFFER_SIZE + 1,
        `TL2 oldest sequence number ${head.firstSequence}, Total_Record_Count was ${c2.total}`);
      const gone = await rr(fill, TL2, { by: 'sequence', seq: 1, count: 1 });
      assert.equal(gone.itemCount, 0, 'TL2 sequence number 1 is overwritten');
      checkDataRecords((await rr(fill, TL2, { by: 'position', index: BUFFER_SIZE, count: -20 })).records, { what: 'fill TL2, the newest' });
    });
  });

  it('both meters stop on SIGTERM with exit status 0', T, async () => {
    for (const r of [rig, fill]) {
      const res = await r.stop();
      assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${r.log()}`);
    }
  });
});
