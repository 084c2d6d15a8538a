// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// What the Node.js and browser entry points both export.

export {
  SysfluxClient,
  normalizeBaseUrl,
  type ClientOptions,
  type CallOptions,
  type Protocol,
  type QueryOptions,
  type QueryPage,
  type RecordFilter,
  type RulesFileInput,
  type SubscribeItem,
  type SubscribeOptions,
} from "./client.js";
export {
  FilterError,
  HubUnreachableError,
  PermissionDeniedError,
  RulesError,
  SysfluxError,
  UnauthenticatedError,
  codeName,
  toSysfluxError,
  type RulesErrorDetail,
} from "./errors.js";
export {
  Entities,
  nanosToDate,
  nanosToRfc3339,
  operationNames,
  parseRecordType,
  recordFileOid,
  recordProcessOid,
  recordTime,
  recordType,
  recordTypeName,
  recordTypeNames,
  timestampNanos,
  toTimestamp,
  type RecordCase,
  type RecordTypeLike,
  type TimeLike,
} from "./records.js";
export { Code, ConnectError } from "@connectrpc/connect";
export { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
export * from "./gen/sysflow/v1/records_pb.js";
export * from "./gen/sysflux/hub/v1/hub_service_pb.js";
export {
  PolicyService,
  Priority,
  RuleStatus,
  RulesErrorsSchema,
  type ActiveRulesFile,
  type DeleteRulesResponse,
  type ListRulesResponse,
  type PutRulesResponse,
  type RulesErrors,
  type RulesReport,
  type Rule,
  type ValidateRulesResponse,
} from "./gen/sysflux/policy/v1/policy_service_pb.js";
