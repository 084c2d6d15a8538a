// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// Helpers over SysFlow records: their types by name, their times, and the entities (processes,
// files, containers, pods) a Query page sends with them.

import { create, fromJson } from "@bufbuild/protobuf";
import { TimestampSchema, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  OperationFlag,
  RecordType,
  type Container,
  type File,
  type OID,
  type Pod,
  type Process,
  type Record,
} from "./gen/sysflow/v1/records_pb.js";

/** The Record oneof member of each record type. */
export type RecordCase = NonNullable<Record["rec"]["case"]>;

const caseOfType: { [t in RecordType]?: RecordCase } = {
  [RecordType.HEADER]: "header",
  [RecordType.CONTAINER]: "container",
  [RecordType.PROCESS]: "process",
  [RecordType.FILE]: "file",
  [RecordType.PROCESS_EVENT]: "processEvent",
  [RecordType.NETWORK_FLOW]: "networkFlow",
  [RecordType.FILE_FLOW]: "fileFlow",
  [RecordType.FILE_EVENT]: "fileEvent",
  [RecordType.NETWORK_EVENT]: "networkEvent",
  [RecordType.PROCESS_FLOW]: "processFlow",
  [RecordType.POD]: "pod",
  [RecordType.K8S_EVENT]: "k8sEvent",
};
const typeOfCase = new Map<string, RecordType>(
  Object.entries(caseOfType).map(([t, c]) => [c as string, Number(t) as RecordType]),
);

/**
 * A record type: the enum value, or its name in any of the usual spellings: "process_event",
 * "PROCESS_EVENT", "RECORD_TYPE_PROCESS_EVENT" or "processEvent".
 */
export type RecordTypeLike = RecordType | string;

/** The record type a name or enum value stands for; throws a TypeError naming the valid names. */
export function parseRecordType(t: RecordTypeLike): RecordType {
  if (typeof t === "number") {
    if (caseOfType[t as RecordType] !== undefined) return t as RecordType;
    throw new TypeError(`unknown record type ${t}: want one of ${recordTypeNames().join(", ")}`);
  }
  const byCase = typeOfCase.get(t);
  if (byCase !== undefined) return byCase;
  const name = t.trim().toUpperCase().replace(/^RECORD_TYPE_/, "");
  const v = (RecordType as unknown as { [k: string]: RecordType | undefined })[name];
  if (typeof v === "number" && v !== RecordType.UNSPECIFIED) return v;
  throw new TypeError(`unknown record type ${JSON.stringify(t)}: want one of ${recordTypeNames().join(", ")}`);
}

/** The names of the record types, in lower case: header, container, process, ... */
export function recordTypeNames(): string[] {
  return Object.keys(caseOfType).map((t) => RecordType[Number(t)]!.toLowerCase());
}

/** The type of a record, from its payload; RecordType.UNSPECIFIED for an empty record. */
export function recordType(r: Record): RecordType {
  return r.rec.case === undefined ? RecordType.UNSPECIFIED : (typeOfCase.get(r.rec.case) ?? RecordType.UNSPECIFIED);
}

/** The lower-case name of a record's type, e.g. "process_event". */
export function recordTypeName(r: Record): string {
  return RecordType[recordType(r)]!.toLowerCase();
}

/** A record's time, in nanoseconds since the Unix epoch; undefined for headers and containers. */
export function recordTime(r: Record): bigint | undefined {
  const v = r.rec.value;
  return v !== undefined && "ts" in v ? v.ts : undefined;
}

/** A time in nanoseconds since the Unix epoch as a Date (milliseconds precision). */
export function nanosToDate(ns: bigint): Date {
  return new Date(Number(ns / 1_000_000n));
}

/** A time in nanoseconds since the Unix epoch as RFC 3339 text with nanoseconds. */
export function nanosToRfc3339(ns: bigint): string {
  const ms = ns / 1_000_000n - (ns % 1_000_000n < 0n ? 1n : 0n);
  const sec = new Date(Number(ms)).toISOString().slice(0, 19);
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return `${sec}.${frac.toString().padStart(9, "0")}Z`;
}

/**
 * A point in time: a Date, RFC 3339 text (nanoseconds kept, e.g. "2026-01-02T03:04:05.123456789Z"),
 * nanoseconds since the Unix epoch as a bigint, or a protobuf Timestamp.
 */
export type TimeLike = Date | string | bigint | Timestamp;

/** A TimeLike as a protobuf Timestamp; throws a TypeError for text that is not RFC 3339. */
export function toTimestamp(t: TimeLike): Timestamp {
  if (t instanceof Date) return timestampFromDate(t);
  if (typeof t === "bigint") {
    const nanos = ((t % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
    return create(TimestampSchema, { seconds: (t - nanos) / 1_000_000_000n, nanos: Number(nanos) });
  }
  if (typeof t === "string") {
    try {
      return fromJson(TimestampSchema, t);
    } catch (e) {
      throw new TypeError(`not an RFC 3339 time: ${JSON.stringify(t)}`, { cause: e });
    }
  }
  return t;
}

/** A protobuf Timestamp as nanoseconds since the Unix epoch. */
export function timestampNanos(t: Timestamp): bigint {
  return t.seconds * 1_000_000_000n + BigInt(t.nanos);
}

/** The process a record is about: its own oid for a process entity, its proc_oid for events and flows. */
export function recordProcessOid(r: Record): OID | undefined {
  const v = r.rec.value;
  if (v === undefined) return undefined;
  if (r.rec.case === "process") return r.rec.value.oid;
  return "procOid" in v ? v.procOid : undefined;
}

/** The file a file event or file flow is about, by object id. */
export function recordFileOid(r: Record): Uint8Array | undefined {
  const v = r.rec.value;
  if (v === undefined) return undefined;
  if (r.rec.case === "file") return r.rec.value.oid;
  return "fileOid" in v && v.fileOid.length > 0 ? v.fileOid : undefined;
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function procKey(node: string, oid: OID): string {
  return `${node}\u0000${oid.hpid}\u0000${oid.createTs}`;
}

/**
 * The entities that came with records (a Query page's entities), indexed to resolve the records'
 * processes, files, containers and pods. A process that changed between two records comes in
 * several versions: a record resolves to the version in force at its time.
 */
export class Entities {
  private readonly processes = new Map<string, Process[]>();
  private readonly files = new Map<string, File>();
  private readonly containers = new Map<string, Container>();
  private readonly pods = new Map<string, Pod>();

  constructor(entities: Iterable<Record> = []) {
    for (const e of entities) this.add(e);
  }

  /** Adds an entity record; other records are ignored. */
  add(e: Record): void {
    switch (e.rec.case) {
      case "process": {
        const p = e.rec.value;
        if (p.oid === undefined) return;
        const k = procKey(e.nodeId, p.oid);
        const versions = this.processes.get(k);
        if (versions === undefined) this.processes.set(k, [p]);
        else {
          versions.push(p);
          versions.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
        }
        return;
      }
      case "file":
        this.files.set(`${e.nodeId}\u0000${hex(e.rec.value.oid)}`, e.rec.value);
        return;
      case "container":
        this.containers.set(`${e.nodeId}\u0000${e.rec.value.id}`, e.rec.value);
        return;
      case "pod":
        this.pods.set(`${e.nodeId}\u0000${e.rec.value.id}`, e.rec.value);
        return;
    }
  }

  /** The process a record is about, in the version in force at the record's time. */
  process(r: Record): Process | undefined {
    const oid = recordProcessOid(r);
    return oid === undefined ? undefined : this.processByOid(r.nodeId, oid, recordTime(r));
  }

  /** A process by node and object id, in the version in force at time ts (ns) when given, else the latest. */
  processByOid(nodeId: string, oid: OID, ts?: bigint): Process | undefined {
    const versions = this.processes.get(procKey(nodeId, oid));
    if (versions === undefined) return undefined;
    if (ts === undefined) return versions[versions.length - 1];
    let found = versions[0];
    for (const v of versions) if (v.ts <= ts) found = v;
    return found;
  }

  /** The parent of a process, when it came with the records. */
  parent(nodeId: string, p: Process, ts?: bigint): Process | undefined {
    return p.poid === undefined ? undefined : this.processByOid(nodeId, p.poid, ts);
  }

  /** The file a file event or flow is about. */
  file(r: Record): File | undefined {
    const oid = recordFileOid(r);
    return oid === undefined ? undefined : this.files.get(`${r.nodeId}\u0000${hex(oid)}`);
  }

  /** The container a record's process (or file) runs in, when it runs in one. */
  container(r: Record): Container | undefined {
    const id = this.process(r)?.containerId ?? this.file(r)?.containerId;
    return id === undefined ? undefined : this.containers.get(`${r.nodeId}\u0000${id}`);
  }

  /** The pod of a record's container, when it belongs to one. */
  pod(r: Record): Pod | undefined {
    const id = this.container(r)?.podId;
    return id === undefined ? undefined : this.pods.get(`${r.nodeId}\u0000${id}`);
  }
}

/** The names of the OperationFlag bits set in op_flags, e.g. ["EXEC"] or ["OPEN", "READ_RECV", "CLOSE"]. */
export function operationNames(opFlags: number): string[] {
  const names: string[] = [];
  for (let bit = 1; bit > 0 && bit <= opFlags; bit <<= 1) {
    if ((opFlags & bit) !== 0) names.push(OperationFlag[bit] ?? `0x${bit.toString(16)}`);
  }
  return names;
}
