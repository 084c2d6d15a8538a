// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The examples, run as a user runs them, against the in-process hub.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { READ_TOKEN, startFakeHub, type FakeHub } from "./fakehub.js";

const run = promisify(execFile);
const example = (name: string) => fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));

describe("examples", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await startFakeHub();
  });
  after(async () => {
    await hub.close();
  });

  test("alerts prints the alerts", { timeout: 30_000 }, async () => {
    const { stdout } = await run(process.execPath, [example("alerts"), "--hub", hub.h2Url, "--count", "1"], {
      env: { ...process.env, SYSFLUX_TOKEN: READ_TOKEN },
      timeout: 20_000,
    });
    assert.match(stdout, /Warning +Shell spawned/);
  });

  test("query-table loads rows with the processes resolved", { timeout: 30_000 }, async () => {
    const { stdout } = await run(process.execPath, [example("query-table"), "--hub", hub.h1Url, "--protocol", "connect", "--token", READ_TOKEN, "--json", "--limit", "5"], {
      timeout: 20_000,
    });
    const rows = JSON.parse(stdout) as { seq: number; exe: string; op: string; pid: number }[];
    assert.deepEqual(rows.map((r) => r.seq), [1, 2, 3, 4, 5]);
    assert.deepEqual(rows.slice(0, 2).map((r) => r.exe), ["/bin/sh", "/usr/sbin/iptables"]);
    assert.equal(rows[0]?.op, "EXEC");
    assert.equal(rows[0]?.pid, 7);
  });

  test("errors are one line", { timeout: 30_000 }, async () => {
    await assert.rejects(run(process.execPath, [example("query-table"), "--hub", hub.h2Url], { env: { ...process.env, SYSFLUX_TOKEN: "" }, timeout: 20_000 }), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 1);
      assert.match(e.stderr, /^query-table: the sysflux hub at 127\.0\.0\.1:\d+ wants a valid bearer token \(UNAUTHENTICATED\): no token was given/);
      assert.equal(e.stderr.trim().split("\n").length, 1);
      return true;
    });
  });
});
