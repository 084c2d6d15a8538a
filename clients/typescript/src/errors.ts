// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The errors the client throws: every failed call ends in a SysfluxError, whose subclasses say
// what went wrong in terms of sysflux (the hub could not be reached, a filter or a rules file
// does not compile, a token is missing or lacks a scope) rather than of the transport.

import { Code, ConnectError } from "@connectrpc/connect";
import { RulesErrorsSchema, type RulesError as RulesErrorDetail } from "./gen/sysflux/policy/v1/policy_service_pb.js";

export type { RulesErrorDetail };

/** The name of a Connect code as gRPC spells it, e.g. INVALID_ARGUMENT. */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** The base class of every error the client throws. */
export class SysfluxError extends Error {
  /** The Connect (gRPC) status code, when the error is a failed call. */
  readonly code: Code | undefined;
  /** The address (host:port) of the hub the call went to. */
  readonly address: string;
  /** The underlying ConnectError, when there is one. */
  readonly connectError: ConnectError | undefined;

  constructor(message: string, opts: { code?: Code; address: string; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.address = opts.address;
    this.connectError = opts.cause instanceof ConnectError ? opts.cause : undefined;
  }

  /** The code's name as gRPC spells it (INVALID_ARGUMENT), or undefined. */
  get codeName(): string | undefined {
    return this.code === undefined ? undefined : codeName(this.code);
  }
}

/** The hub could not be reached at its address: nothing listens there, or the network failed. */
export class HubUnreachableError extends SysfluxError {}

/** A Subscribe or Query filter does not compile; line and column locate the error in it. */
export class FilterError extends SysfluxError {
  /** The filter that was refused. */
  readonly filter: string;
  /** What the parser said is wrong, without the position. */
  readonly reason: string;
  /** The line of the error in the filter, from 1; 0 when unknown. */
  readonly line: number;
  /** The column of the error, in characters from 1; 0 when unknown. */
  readonly column: number;
  /** Every problem the hub reported. */
  readonly errors: RulesErrorDetail[];

  constructor(
    message: string,
    opts: { address: string; cause?: unknown; filter: string; reason: string; line: number; column: number; errors: RulesErrorDetail[] },
  ) {
    super(message, { ...opts, code: Code.InvalidArgument });
    this.filter = opts.filter;
    this.reason = opts.reason;
    this.line = opts.line;
    this.column = opts.column;
    this.errors = opts.errors;
  }
}

/** Rules files do not compile (PutRules, DeleteRules): file, line and column locate the first problem. */
export class RulesError extends SysfluxError {
  /** The name of the rules file of the first problem, as it was put; empty when unknown. */
  readonly file: string;
  /** The line of the first problem, from 1; 0 when unknown. */
  readonly line: number;
  /** The column of the first problem, from 1; 0 when unknown. */
  readonly column: number;
  /** What is wrong, for the first problem. */
  readonly reason: string;
  /** Every problem the hub reported, in the order found. */
  readonly errors: RulesErrorDetail[];

  constructor(
    message: string,
    opts: { address: string; cause?: unknown; file: string; line: number; column: number; reason: string; errors: RulesErrorDetail[] },
  ) {
    super(message, { ...opts, code: Code.InvalidArgument });
    this.file = opts.file;
    this.line = opts.line;
    this.column = opts.column;
    this.reason = opts.reason;
    this.errors = opts.errors;
  }
}

/** The hub wants a valid bearer token: none was given, or the hub does not know it. */
export class UnauthenticatedError extends SysfluxError {}

/** The token is valid but its scope does not allow the call (e.g. a read token pushing rules). */
export class PermissionDeniedError extends SysfluxError {}

/** What a failed call was doing, to word its error. */
export interface CallContext {
  /** The hub's address, host:port. */
  address: string;
  /** The operation, e.g. "subscribe", "query", "push rules". */
  op: string;
  /** Whether a token was sent. */
  tokenSent: boolean;
  /** The filter of a Subscribe or Query, when the call had one: INVALID_ARGUMENT errors with a
   * RulesErrors detail become FilterErrors, and RulesErrors otherwise. */
  filter?: string;
}

// A problem as the hub words it: file:line:column: kind "name": message.
function describe(e: RulesErrorDetail): string {
  let s = e.file;
  if (e.line > 0) {
    s += `:${e.line}`;
    if (e.column > 0) s += `:${e.column}`;
  }
  if (e.kind !== "") s += `: ${e.kind}${e.name !== "" ? ` ${JSON.stringify(e.name)}` : ""}`;
  return `${s}: ${e.message}`;
}

// Network failures seen below Connect: Node's system errors, and fetch's TypeError in browsers,
// which also stands for a CORS refusal.
function networkFailure(err: ConnectError): "system" | "fetch" | undefined {
  for (let c: unknown = err.cause; c instanceof Error; c = c.cause) {
    const sys = (c as { code?: unknown }).code;
    if (typeof sys === "string" && /^E[A-Z_]+$/.test(sys)) return "system";
    if (c.name === "TypeError") return "fetch"; // "Failed to fetch", "fetch failed", "NetworkError when attempting to fetch resource."
    if (c === c.cause) break;
  }
  return undefined;
}

/** Turns whatever a call threw into a SysfluxError that says what went wrong. */
export function toSysfluxError(err: unknown, ctx: CallContext): SysfluxError {
  if (err instanceof SysfluxError) return err;
  const ce = ConnectError.from(err);
  const { address } = ctx;
  const code = ce.code;
  const name = codeName(code);
  const raw = ce.rawMessage;

  const failure = networkFailure(ce);
  if (code === Code.Unavailable && (failure !== undefined || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT/.test(raw))) {
    return new HubUnreachableError(`could not reach the sysflux hub at ${address}: ${raw}`, { code, address, cause: ce });
  }
  if (code === Code.Unknown && failure === "fetch") {
    return new HubUnreachableError(
      `could not reach the sysflux hub at ${address}: ${raw} (is the hub running, and does it allow this page's origin with --cors-origin?)`,
      { code, address, cause: ce },
    );
  }
  if (code === Code.Unauthenticated) {
    const why = ctx.tokenSent ? "the token given was refused" : "no token was given";
    return new UnauthenticatedError(
      `the sysflux hub at ${address} wants a valid bearer token (${name}): ${why}` + (raw ? ` (${raw})` : ""),
      { code, address, cause: ce },
    );
  }
  if (code === Code.PermissionDenied) {
    return new PermissionDeniedError(
      `the token's scope does not allow ${ctx.op} on the sysflux hub at ${address} (${name})` + (raw ? `: ${raw}` : ""),
      { code, address, cause: ce },
    );
  }
  if (code === Code.InvalidArgument) {
    const errors = ce.findDetails(RulesErrorsSchema).flatMap((d) => d.errors);
    const first = errors[0];
    if (first !== undefined && ctx.filter !== undefined) {
      return new FilterError(
        `invalid ${ctx.op} filter at line ${first.line}, column ${first.column}: ${first.message}`,
        { address, cause: ce, filter: ctx.filter, reason: first.message, line: first.line, column: first.column, errors },
      );
    }
    if (first !== undefined) {
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more: ${errors.slice(1).map(describe).join("; ")})` : "";
      return new RulesError(`rules do not compile: ${describe(first)}${more}`, {
        address,
        cause: ce,
        file: first.file,
        line: first.line,
        column: first.column,
        reason: first.message,
        errors,
      });
    }
  }
  if (code === Code.Canceled) {
    return new SysfluxError(`${ctx.op} on the sysflux hub at ${address} was canceled`, { code, address, cause: ce });
  }
  if (code === Code.DeadlineExceeded) {
    return new SysfluxError(`${ctx.op} on the sysflux hub at ${address} timed out (${name})` + (raw ? `: ${raw}` : ""), {
      code,
      address,
      cause: ce,
    });
  }
  return new SysfluxError(`${ctx.op} on the sysflux hub at ${address} failed (${name})` + (raw ? `: ${raw}` : ""), {
    code,
    address,
    cause: ce,
  });
}
