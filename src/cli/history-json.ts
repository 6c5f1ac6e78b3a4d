/**
 * History → JSON (and back), as the SDK's `historyToJSON`/`historyFromJSON` do. Those two throw "type must be a Type"
 * in this install: @temporalio/common and @temporalio/proto each carry their own copy of protobufjs 8, and protojson's
 * `instanceof Type` check fails across copies. So when the SDK's function fails we use protojson from the copy that
 * built the History type. (Deduping protobufjs in package.json would make the fallback unused.)
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

let fallback: { protojson: ProtoJson; historyType: unknown } | undefined;
function protoJson(): { protojson: ProtoJson; historyType: unknown } {
  if (!fallback) {
    const protoDir = path.dirname(require.resolve('@temporalio/proto/package.json'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
    const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');
    fallback = { protojson, historyType };
  }
  return fallback;
}

export function historyJson(history: History): string {
  try {
    return historyToJSON(history);
  } catch {
    const { protojson, historyType } = protoJson();
    return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
  }
}

export function historyFromJson(json: unknown): History {
  try {
    return historyFromJSON(json);
  } catch {
    const { protojson, historyType } = protoJson();
    const loaded = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
    if (!loaded) throw new TypeError('invalid history JSON');
    return loaded as History;
  }
}
