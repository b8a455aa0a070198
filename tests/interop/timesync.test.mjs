// DM-TS-B: TimeSynchronization sets Local_Date / Local_Time; BI15 RTC_Reset (DECISIONS
// M16: no battery, after power-up the clock restarts at 2000-01-01 00:00:00 and BI15 is
// active until a TimeSynchronization; ReinitializeDevice is not a power loss).
// The meter runs on virtual time: its clock moves only when the test advances it, so the
// expected clock is the synchronized time plus the meter seconds advanced since. An
// unconfirmed request (TimeSynchronization) needs no wait: the meter handles datagrams in
// the order they arrive, so the ReadPropertyMultiple sent after it sees its effect.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Rig, outcome, waitFor } from './lib/harness.mjs';
import { BI_ACTIVE, BI_INACTIVE, DCC, OT, PROP, REINIT } from './lib/spec.mjs';

const T = { timeout: 30000 };
const DEVICE_ID = 3097151;
const rig = new Rig({ slot: 9, deviceId: DEVICE_ID, serial: 'TIME00001' });
const DEV = { type: OT.DEVICE, instance: DEVICE_ID };
const BI15 = { type: OT.BI, instance: 15 };
const AI83 = { type: OT.AI, instance: 83 };
const TOLERANCE_MS = 2000;

// The meter's clock as a UTC timestamp (ms), from Local_Date and Local_Time read in one
// ReadPropertyMultiple.
async function meterClock() {
  const r = await rig.rpm([{ objectId: DEV, props: [PROP.LOCAL_DATE, PROP.LOCAL_TIME] }]);
  const [d, t] = r.values[0].values;
  assert.equal(d.id, PROP.LOCAL_DATE);
  assert.equal(t.id, PROP.LOCAL_TIME);
  const date = d.value[0].value;
  const time = t.value[0].value;
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(),
    time.getUTCHours(), time.getUTCMinutes(), time.getUTCSeconds(), time.getUTCMilliseconds());
}

async function expectClockNear(expectedMs, what) {
  const got = await meterClock();
  assert.ok(Math.abs(got - expectedMs) <= TOLERANCE_MS,
    `${what}: meter clock ${new Date(got).toISOString()}, expected ${new Date(expectedMs).toISOString()} +- ${TOLERANCE_MS} ms`);
}

// Syncs to `target` and returns a function giving the time the meter should show now:
// `target` plus the meter seconds advanced since.
function sync(target, opts) {
  const s0 = rig.advanced;
  rig.timeSync(new Date(target), opts);
  return () => target + (rig.advanced - s0) * 1000;
}

describe('TimeSynchronization and RTC_Reset', { timeout: 180000 }, () => {
  before(() => rig.start());
  after(() => rig.close());

  it('after power-up: the clock starts at 2000-01-01 00:00:00, BI15 RTC_Reset is active, AI83 bit 14 set', T, async () => {
    const c = await meterClock();
    const start = Date.UTC(2000, 0, 1);
    assert.ok(c >= start && c < start + 60000, `Local_Date/Local_Time ${new Date(c).toISOString()}: expected within the first minute of 2000-01-01`);
    assert.equal(await rig.readValue(BI15, PROP.PRESENT_VALUE), BI_ACTIVE, 'BI15');
    await rig.advanceUntil(async () => Number.isFinite(await rig.readValue(AI83, PROP.PRESENT_VALUE)), { what: 'first cycle' });
    const bitmap = await rig.readValue(AI83, PROP.PRESENT_VALUE);
    assert.equal(bitmap & (1 << 14), 1 << 14, `AI83 ${bitmap}: bit 14 (BI15)`);
  });

  it('the clock runs: Local_Time advances by about the elapsed meter time', T, async () => {
    const a = await meterClock();
    await rig.advance(2);
    const b = await meterClock();
    assert.ok(b - a >= 1000 && b - a <= 3500, `advanced ${b - a} ms in 2 s of meter time`);
  });

  it('TimeSynchronization (unicast): Local_Date/Local_Time read back; BI15 goes inactive, AI83 bit 14 clears', T, async () => {
    const now = sync(Date.UTC(2024, 5, 15, 13, 45, 30, 500));
    await expectClockNear(now(), 'after TimeSynchronization');
    await rig.advanceUntil(async () => (await rig.readValue(BI15, PROP.PRESENT_VALUE)) === BI_INACTIVE, { what: 'BI15 RTC_Reset inactive' });
    await rig.advanceUntil(async () => ((await rig.readValue(AI83, PROP.PRESENT_VALUE)) & (1 << 14)) === 0, { what: 'AI83 bit 14 clear' });
    await rig.advance(2);
    await expectClockNear(now(), '2 s of meter time later');
  });

  it('TimeSynchronization by broadcast; the date rolls over at midnight (and into a leap year)', T, async () => {
    const now = sync(Date.UTC(2031, 11, 31, 23, 59, 58, 0), { unicast: false });
    await expectClockNear(now(), 'after broadcast TimeSynchronization');
    await rig.advance(3);
    await expectClockNear(now(), 'across midnight');
    const r = await rig.readValue(DEV, PROP.LOCAL_DATE);
    assert.deepEqual([r.getUTCFullYear(), r.getUTCMonth() + 1, r.getUTCDate()], [2032, 1, 1], 'Local_Date after midnight');
  });

  it('TimeSynchronization with an unspecified (wildcard) date and time is ignored', T, async () => {
    const now = sync(Date.UTC(2025, 2, 10, 8, 0, 0, 0));
    await expectClockNear(now(), 'after TimeSynchronization');
    rig.timeSyncRaw([0xff, 0xff, 0xff, 0xff], [0xff, 0xff, 0xff, 0xff]);
    await rig.advance(1);
    await expectClockNear(now(), 'after the wildcard TimeSynchronization');
  });

  it('ReinitializeDevice is not a power loss: the clock keeps its time and BI15 stays inactive', T, async () => {
    const now = sync(Date.UTC(2026, 0, 20, 9, 30, 0, 0));
    await expectClockNear(now(), 'after TimeSynchronization');
    for (const s of [REINIT.WARMSTART, REINIT.COLDSTART]) {
      const got = await outcome(rig.reinit(s));
      assert.equal(got.kind, 'ok', `ReinitializeDevice ${s}: ${JSON.stringify(got)}`);
      await waitFor(async () => typeof (await rig.readValue(BI15, PROP.PRESENT_VALUE)) === 'number', { timeout: 10000, interval: 200, what: 'meter back' });
      await expectClockNear(now(), `after ReinitializeDevice ${s}`);
      await rig.advance(1);
      await expectClockNear(now(), `1 s of meter time after ReinitializeDevice ${s}`);
      assert.equal(await rig.readValue(BI15, PROP.PRESENT_VALUE), BI_INACTIVE, `BI15 after ReinitializeDevice ${s}`);
    }
  });

  it('while communication is DISABLED a TimeSynchronization is ignored', T, async () => {
    const now = sync(Date.UTC(2026, 6, 4, 12, 0, 0, 0));
    await expectClockNear(now(), 'after TimeSynchronization');
    const got = await outcome(rig.dcc(DCC.DISABLE));
    assert.equal(got.kind, 'ok', `DCC disable: ${JSON.stringify(got)}`);
    rig.timeSync(new Date(Date.UTC(2010, 0, 1, 0, 0, 0)));
    await rig.advance(1);
    const en = await outcome(rig.dcc(DCC.ENABLE));
    assert.equal(en.kind, 'ok', `DCC enable: ${JSON.stringify(en)}`);
    await expectClockNear(now(), 'after the ignored TimeSynchronization');
  });

  it('s4100 run stops on SIGTERM with exit status 0', T, async () => {
    const res = await rig.stop();
    assert.deepEqual(res, { code: 0, signal: null }, `exit: ${JSON.stringify(res)}\n${rig.log()}`);
  });
});
