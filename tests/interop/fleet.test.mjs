// Several meters in one process (s4100 run --meters 4), as a BMS head end sees them:
// each announces itself with its own I-Am at start, answers on its own address with its
// own identity, and keeps its own settings — through the third-party client only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Rig, ports, waitFor } from './lib/harness.mjs';
import { OT, PROP, TAG } from './lib/spec.mjs';

const T = { timeout: 30000 };
const N = 4;
const FIRST_ID = 51000;
// Meters on slots 12 and 13's four ports, the client on slot 14's client port.
const { meterPort } = ports(12);
const { clientPort } = ports(14);
const rig = new Rig({ meterPort, clientPort, deviceId: FIRST_ID, serial: '4100900001', args: ['--meters', String(N)] });
const at = (k) => ({ address: `127.0.0.1:${meterPort + k}` });
const device = (k) => ({ type: OT.DEVICE, instance: FIRST_ID + k });
const AV9 = { type: OT.AV, instance: 9 };

async function read(k, objectId, prop) {
  const r = await rig.client.readProperty(at(k), objectId, prop, {});
  assert.equal(r.values.length, 1);
  return r.values[0].value;
}

describe('four meters in one process', { timeout: 120000 }, () => {
  before(() => rig.start());
  after(() => rig.close());

  it('each announces itself at start: four I-Ams, four instances, four addresses', T, async () => {
    await waitFor(() => new Set(rig.iAms.map((x) => x.deviceId)).size >= N, { what: 'four start-up I-Ams', timeout: 10000 });
    for (let k = 0; k < N; k++) {
      const m = rig.iAms.find((x) => x.deviceId === FIRST_ID + k);
      assert.ok(m, `I-Am of device ${FIRST_ID + k}`);
      assert.equal(m.from, `127.0.0.1:${meterPort + k}`, `device ${FIRST_ID + k} announced from its own port`);
    }
  });

  it('each answers on its own address with its own identity and serial', T, async () => {
    for (let k = 0; k < N; k++) {
      const oid = await read(k, device(k), PROP.OBJECT_IDENTIFIER);
      assert.deepEqual({ type: oid.type, instance: oid.instance }, device(k), `meter ${k + 1} Object_Identifier`);
      const name = await read(k, device(k), PROP.OBJECT_NAME);
      assert.match(name, new RegExp(`S/N: 410090000${k + 1}$`), `meter ${k + 1} Object_Name`);
    }
  });

  it('a write to one meter changes that meter alone', T, async () => {
    await rig.client.writeProperty(at(2), AV9, PROP.PRESENT_VALUE, [{ type: TAG.REAL, value: 40 }], {});
    await rig.advance(2); // accepted AV values are committed at the end of the next cycle
    for (let k = 0; k < N; k++)
      assert.equal(await read(k, AV9, PROP.PRESENT_VALUE), k === 2 ? 40 : 25, `meter ${k + 1} AV9`);
  });

  it('ReadPropertyMultiple on each: its own readings (meters 2.. run variants of the load)', T, async () => {
    const kw = [];
    for (let k = 0; k < N; k++) {
      const r = await rig.client.readPropertyMultiple(at(k), [{
        objectId: { type: OT.AI, instance: 11 }, properties: [{ id: PROP.PRESENT_VALUE, index: 0xFFFFFFFF }],
      }]);
      kw.push(r.values[0].values[0].value[0].value);
    }
    assert.ok(kw.every((v) => typeof v === 'number' && v > 0), `KW_Total of each: ${kw}`);
    assert.ok(new Set(kw.map((v) => v.toFixed(3))).size > 1, `the meters do not all read alike: ${kw}`);
  });
});
