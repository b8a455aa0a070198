// What the meter must answer, taken from the spec and never from the implementation:
// data/objects.csv (the datasheet's AI/AV/BI tables), the datasheet's Device object
// table, PICS and "BACnet Default Settings", shared/spec/DECISIONS.md and BACNET-NOTES.md.
// The BACnet enumerations below are ASHRAE 135's numbers, written out here so that the
// tests do not depend on the third-party client's own tables either.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const STEADY_SCENARIO = path.resolve(here, '..', 'steady.ini');

// ---- ASHRAE 135 numbers ---------------------------------------------------------------
export const OT = { AI: 0, AV: 2, BI: 3, DEVICE: 8, TREND_LOG: 20 };

export const PROP = {
  ALL: 8,
  OPTIONAL: 80,
  REQUIRED: 105,
  APDU_TIMEOUT: 11,
  APPLICATION_SOFTWARE_VERSION: 12,
  DESCRIPTION: 28,
  DEVICE_ADDRESS_BINDING: 30,
  EVENT_STATE: 36,
  FIRMWARE_REVISION: 44,
  LOCAL_DATE: 56,
  LOCAL_TIME: 57,
  LOCATION: 58,
  MAX_APDU_LENGTH_ACCEPTED: 62,
  MAX_INFO_FRAMES: 63,
  MAX_MASTER: 64,
  MODEL_NAME: 70,
  NUMBER_OF_APDU_RETRIES: 73,
  OBJECT_IDENTIFIER: 75,
  OBJECT_LIST: 76,
  OBJECT_NAME: 77,
  OBJECT_TYPE: 79,
  OUT_OF_SERVICE: 81,
  POLARITY: 84,
  PRESENT_VALUE: 85,
  PRIORITY_ARRAY: 87,
  PROTOCOL_OBJECT_TYPES_SUPPORTED: 96,
  PROTOCOL_SERVICES_SUPPORTED: 97,
  PROTOCOL_VERSION: 98,
  RELIABILITY: 103,
  SEGMENTATION_SUPPORTED: 107,
  STATUS_FLAGS: 111,
  SYSTEM_STATUS: 112,
  UNITS: 117,
  VENDOR_IDENTIFIER: 120,
  VENDOR_NAME: 121,
  PROTOCOL_REVISION: 139,
  DATABASE_REVISION: 155,
};

export const TAG = {
  NULL: 0, BOOLEAN: 1, UNSIGNED: 2, SIGNED: 3, REAL: 4, DOUBLE: 5, OCTET_STRING: 6,
  CHARACTER_STRING: 7, BIT_STRING: 8, ENUMERATED: 9, DATE: 10, TIME: 11, OBJECT_ID: 12,
};

export const ERR_CLASS = { DEVICE: 0, OBJECT: 1, PROPERTY: 2, RESOURCES: 3, SECURITY: 4, SERVICES: 5 };
export const ERR_CODE = {
  INVALID_DATA_TYPE: 9,
  PASSWORD_FAILURE: 26,
  UNKNOWN_OBJECT: 31,
  UNKNOWN_PROPERTY: 32,
  VALUE_OUT_OF_RANGE: 37,
  WRITE_ACCESS_DENIED: 40,
  INVALID_ARRAY_INDEX: 42,
  OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED: 45,
  PROPERTY_IS_NOT_AN_ARRAY: 50,
};
export const ABORT_SEGMENTATION_NOT_SUPPORTED = 4;
export const REJECT_UNRECOGNIZED_SERVICE = 9;

export const RELIABILITY_NO_FAULT_DETECTED = 0;
export const EVENT_STATE_NORMAL = 0;
export const POLARITY_NORMAL = 0;
export const SEGMENTATION_NO_SEGMENTATION = 3;
export const SYSTEM_STATUS_OPERATIONAL = 0;
export const BI_INACTIVE = 0;
export const BI_ACTIVE = 1;

export const DCC = { ENABLE: 0, DISABLE: 1, DISABLE_INITIATION: 2 };
export const REINIT = {
  COLDSTART: 0, WARMSTART: 1, STARTBACKUP: 2, ENDBACKUP: 3, STARTRESTORE: 4,
  ENDRESTORE: 5, ABORTRESTORE: 6,
};

// Protocol_Services_Supported bit positions (BACNET-NOTES "Device bits").
export const SERVICE_BIT = {
  readProperty: 12, readPropertyMultiple: 14, writeProperty: 15,
  deviceCommunicationControl: 17, reinitializeDevice: 20, iAm: 26, iHave: 27,
  timeSynchronization: 32, whoHas: 33, whoIs: 34, readRange: 35,
  utcTimeSynchronization: 36,
};

// ---- Scope of the implementation under test ------------------------------------------
// DECISIONS O7/O8 and the datasheet's Object_List include ReadRange and the three Trend
// Log objects. They came after the rest: a test learns whether the meter has TL1
// (scope.trendLogs, set by detectTrendLogs) and from then on expects the whole of it:
// TL1..TL3 in the Object_List, readRange in Protocol_Services_Supported, trend-log in
// Protocol_Object_Types_Supported; without TL1, none of them.
export const scope = { trendLogs: false };

export function expectedServiceBits() {
  return ['readProperty', 'readPropertyMultiple', 'writeProperty', 'deviceCommunicationControl',
    'reinitializeDevice', 'iAm', 'iHave', 'timeSynchronization', 'whoHas', 'whoIs',
    ...(scope.trendLogs ? ['readRange'] : []),
  ].map((s) => SERVICE_BIT[s]).sort((a, b) => a - b);
}
export const SERVICES_BITS_USED = 40; // revision 4 (BACNET-NOTES)

export function expectedObjectTypeBits() {
  return [OT.AI, OT.AV, OT.BI, OT.DEVICE, ...(scope.trendLogs ? [OT.TREND_LOG] : [])].sort((a, b) => a - b);
}
export const OBJECT_TYPES_BITS_USED = 25; // revision 4 (BACNET-NOTES)

// Trend Log properties (BACNET-NOTES "Trend Log and ReadRange").
export const TL_PROP = {
  BUFFER_SIZE: 126, LOG_BUFFER: 131, LOG_DEVICE_OBJECT_PROPERTY: 132, LOG_ENABLE: 133,
  LOG_INTERVAL: 134, RECORD_COUNT: 141, START_TIME: 142, STOP_TIME: 143,
  STOP_WHEN_FULL: 144, TOTAL_RECORD_COUNT: 145,
};
export const TL_REQUIRED_PROPS = [PROP.OBJECT_IDENTIFIER, PROP.OBJECT_NAME, PROP.OBJECT_TYPE,
  TL_PROP.LOG_ENABLE, TL_PROP.STOP_WHEN_FULL, TL_PROP.BUFFER_SIZE, TL_PROP.LOG_BUFFER,
  TL_PROP.RECORD_COUNT, TL_PROP.TOTAL_RECORD_COUNT, PROP.EVENT_STATE];
export const READ_ACCESS_DENIED = 27;

// ---- Device object (datasheet "Device Object" table, PICS, DECISIONS) ----------------
export const DEVICE = {
  vendorName: 'Leviton Mfg.',
  vendorIdentifier: 133,
  modelName: 'S4100 Energy Meter',
  protocolVersion: 1,
  protocolRevision: 4,
  maxApdu: 480,
  segmentation: SEGMENTATION_NO_SEGMENTATION,
  apduTimeout: 60000,
  apduRetries: 0,
  databaseRevision: 0,
  maxMaster: 127,
  maxInfoFrames: 1,
  location: 'Installed location not yet identified',
  systemStatus: SYSTEM_STATUS_OPERATIONAL,
  objectName: (serial) => `Leviton S4100 Series Energy Meter - S/N: ${serial}`,
  description: (serial) => `S4100 DIN-Rail Energy Meter S/N: ${serial}`,
  minInstance: 1,
  maxInstance: 4193999,
  locationMaxChars: 64,
};

// Required properties of the Device object at revision 4 plus the PICS' optional ones.
export const DEVICE_REQUIRED_PROPS = [
  PROP.OBJECT_IDENTIFIER, PROP.OBJECT_NAME, PROP.OBJECT_TYPE, PROP.SYSTEM_STATUS,
  PROP.VENDOR_NAME, PROP.VENDOR_IDENTIFIER, PROP.MODEL_NAME, PROP.FIRMWARE_REVISION,
  PROP.APPLICATION_SOFTWARE_VERSION, PROP.PROTOCOL_VERSION, PROP.PROTOCOL_REVISION,
  PROP.PROTOCOL_SERVICES_SUPPORTED, PROP.PROTOCOL_OBJECT_TYPES_SUPPORTED, PROP.OBJECT_LIST,
  PROP.MAX_APDU_LENGTH_ACCEPTED, PROP.SEGMENTATION_SUPPORTED, PROP.APDU_TIMEOUT,
  PROP.NUMBER_OF_APDU_RETRIES, PROP.DEVICE_ADDRESS_BINDING, PROP.DATABASE_REVISION,
];
export const DEVICE_OPTIONAL_PROPS = [
  PROP.MAX_MASTER, PROP.MAX_INFO_FRAMES, PROP.DESCRIPTION, PROP.LOCATION,
  PROP.LOCAL_TIME, PROP.LOCAL_DATE,
];

// AI / AV / BI: required properties and the PICS' optional Description, Reliability.
const COMMON_REQUIRED = [PROP.OBJECT_IDENTIFIER, PROP.OBJECT_NAME, PROP.OBJECT_TYPE,
  PROP.PRESENT_VALUE, PROP.STATUS_FLAGS, PROP.EVENT_STATE, PROP.OUT_OF_SERVICE];
export const REQUIRED_PROPS = {
  [OT.AI]: [...COMMON_REQUIRED, PROP.UNITS],
  [OT.AV]: [...COMMON_REQUIRED, PROP.UNITS],
  [OT.BI]: [...COMMON_REQUIRED, PROP.POLARITY],
};
export const OPTIONAL_PROPS = {
  [OT.AI]: [PROP.DESCRIPTION, PROP.RELIABILITY],
  [OT.AV]: [PROP.DESCRIPTION, PROP.RELIABILITY],
  [OT.BI]: [PROP.DESCRIPTION, PROP.RELIABILITY],
};

// ---- objects.csv ----------------------------------------------------------------------
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])));
}

const TYPE_OF = { 'analog-input': OT.AI, 'analog-value': OT.AV, 'binary-input': OT.BI };
export const OBJECTS = parseCsv(readFileSync(path.join(REPO_ROOT, 'data', 'objects.csv'), 'utf8'))
  .map((r) => ({
    type: TYPE_OF[r.object],
    instance: Number(r.instance),
    name: r.object_name,
    description: r.description,
    units: r.bacnet_units_enum === '' ? null : Number(r.bacnet_units_enum),
    writable: r.access === 'R/W',
    default: r.default,
  }));

export const objectsOf = (type) => OBJECTS.filter((o) => o.type === type);
export const object = (type, instance) => OBJECTS.find((o) => o.type === type && o.instance === instance);

// Object_List in the datasheet's order: DE, AI1..AI83, AV1..AV11, BI1..BI15 (, TL1..TL3).
export function expectedObjectList(deviceId) {
  const list = [{ type: OT.DEVICE, instance: deviceId }];
  for (const t of [OT.AI, OT.AV, OT.BI]) {
    for (const o of objectsOf(t).sort((a, b) => a.instance - b.instance)) {
      list.push({ type: o.type, instance: o.instance });
    }
  }
  if (scope.trendLogs) for (let i = 1; i <= 3; i++) list.push({ type: OT.TREND_LOG, instance: i });
  return list;
}

// Factory defaults of the AV objects (datasheet AV table / "BACnet Default Settings").
export const AV_DEFAULTS = {
  1: 0, 2: 40, 3: 100, 4: 1, 5: 1, 6: 600, 7: 1, 8: 10, 9: 25, 10: 1, 11: 90000,
};

// The steady scenario (steady.ini): 277 V L-N, 50 A, PF 0.9 lagging, 60 Hz, 3 phases,
// with the factory meter settings. Expected instantaneous readings from the physics.
const VLN = 277;
const AMPS = 50;
const PF = 0.9;
const KW_PHASE = (VLN * AMPS * PF) / 1000;
const KVA_PHASE = (VLN * AMPS) / 1000;
const KVAR_PHASE = Math.sqrt(KVA_PHASE ** 2 - KW_PHASE ** 2);
export const STEADY_AI = {
  11: KW_PHASE * 3, 12: KVAR_PHASE * 3, 13: KVA_PHASE * 3, 14: PF,
  15: VLN * Math.sqrt(3), 16: VLN, 17: AMPS, 18: 60,
  55: KW_PHASE, 56: KW_PHASE, 57: KW_PHASE,
  58: KVAR_PHASE, 59: KVAR_PHASE, 60: KVAR_PHASE,
  61: KVA_PHASE, 62: KVA_PHASE, 63: KVA_PHASE,
  64: PF, 65: PF, 66: PF,
  67: VLN * Math.sqrt(3), 68: VLN * Math.sqrt(3), 69: VLN * Math.sqrt(3),
  70: VLN, 71: VLN, 72: VLN, 73: AMPS, 74: AMPS, 75: AMPS,
  // DECISIONS M7: Max_Power = sqrt(3) * AV6 * AV3 / 1000 for type 40 (103.92 kW).
  76: Math.sqrt(3) * 600 * 100 / 1000,
  82: 11, // DECISIONS M17: Output_Config reads 11
};
// Energy registers that only grow while importing in Q1 (steady scenario) and those that
// stay zero.
export const STEADY_GROWING_AI = [1, 2, 4, 8, 9, 31, 32, 33, 37, 38, 39, 49, 50, 51];
// Demand (AI19..AI27) is 0 until the first 15-minute sub-interval ends (DECISIONS M12),
// which no test waits for; AI29 has no pulses; AI78 counts no energy reset yet.
export const STEADY_ZERO_AI = [3, 5, 6, 7, 10, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 34, 35,
  36, 40, 41, 42, 43, 44, 45, 46, 47, 48, 52, 53, 54, 78];
// Reserved objects: "Returns QNAN or any value".
export const RESERVED_AI = [28, 77, 79, 80];
