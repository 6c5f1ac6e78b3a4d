/**
 * History ⇄ JSON, as `historyToJSON`/`historyFromJSON` from @temporalio/common do. Those two fail in this install
 * ("type must be a Type"): @temporalio/common and @temporalio/proto each carry their own copy of protobufjs 8 (the
 * root holds protobufjs 7), and protojson's `instanceof Type` check fails across copies. Until the copies are deduped
 * (package.json: a direct protobufjs@^8 dependency, or an override), we use protojson from the copy that built the
 * History type; when they are the same copy, the SDK's own functions are used.
 */
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = proto.temporal.api.history.v1.IHistory;
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, opts?: { ignoreUnknownFields?: boolean }): unknown;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [path.dirname(require.resolve('@temporalio/proto/package.json'))] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

export function historyJson(history: History): string {
  try {
    return historyToJSON(history);
  } catch {
    return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
  }
}

export function historyFromJson(json: unknown): History {
  try {
    return historyFromJSON(json);
  } catch {
    const loaded = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
    if (!loaded) throw new TypeError('invalid history JSON');
    return loaded as History;
  }
}
