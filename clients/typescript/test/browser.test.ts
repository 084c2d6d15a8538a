// Copyright 2026 The sysflux Authors
// SPDX-License-Identifier: Apache-2.0

// The browser test: a page bundled with the browser entry point, served from the origin the
// hub allows by CORS, run in headless Chromium against the live hub. Skipped without
// SYSFLUX_CLIENT_SPEC, or without Chromium unless SYSFLUX_REQUIRE_TOOLS=1.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import type { PageError, PageResult, PageSpec } from "./browser-page.js";
import { HOW_TO_RUN, loadSpec } from "./spec.js";

const CHROMIUM = process.env.SYSFLUX_CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const spec = loadSpec();

const missing = existsSync(CHROMIUM) ? undefined : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium, or set SYSFLUX_CHROMIUM)`;
const required = process.env.SYSFLUX_REQUIRE_TOOLS === "1";

function skipReason(): string | false {
  if (spec === undefined) return HOW_TO_RUN;
  if (missing !== undefined && !required) return missing;
  return false;
}

/** Bundles the page's script, with the client's browser entry point, for browsers. */
async function bundle(): Promise<string> {
  const res = await build({
    entryPoints: [fileURLToPath(new URL("./browser-page.js", import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return res.outputFiles[0]!.text;
}

/** Serves the page on exactly the origin the hub allows. */
async function serve(origin: string, pageSpec: PageSpec, script: string): Promise<http.Server> {
  const html =
    "<!doctype html><meta charset=utf-8><title>sysflux browser test</title>" +
    `<script>window.sysfluxSpec = ${JSON.stringify(pageSpec).replace(/</g, "\\u003c")};</script>` +
    '<script type="module" src="/page.js"></script>';
  const server = http.createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (req.url === "/page.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(script);
    } else if (req.url === "/favicon.ico") {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  const u = new URL(origin);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`cannot serve the page on ${origin}: ${e.message}`)));
    server.listen(Number(u.port), u.hostname, resolve);
  });
  return server;
}

describe("browser", { skip: skipReason(), timeout: 300_000 }, () => {
  if (spec === undefined) return;

  test("a page queries over Connect, subscribes over gRPC-Web and sees FilterErrors", { timeout: 240_000 }, async (t) => {
    if (missing !== undefined) assert.fail(`${missing}, and SYSFLUX_REQUIRE_TOOLS=1 wants it`);
    const pageSpec: PageSpec = {
      hubUrl: spec.hub_url,
      token: spec.tokens.read,
      subscribe: {
        filter: spec.subscribe.filter,
        recordTypes: spec.subscribe.record_types,
        nodeIds: spec.subscribe.node_ids,
        expectedCount: spec.subscribe.expected_seqs.length,
      },
      query: {
        start: spec.query.start_time,
        end: spec.query.end_time,
        recordTypes: spec.query.record_types,
        nodeIds: spec.query.node_ids,
        pageSize: spec.query.page_size,
      },
      badFilter: spec.bad_filter.filter,
      unreachableUrl: `http://${spec.unreachable}`,
    };
    const server = await serve(spec.browser_origin, pageSpec, await bundle());
    const profile = await mkdtemp(join(tmpdir(), "sysflux-chromium-"));
    const logs: string[] = [];
    let result: PageResult;
    try {
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 60_000,
      });
      try {
        const page = await context.newPage();
        page.on("console", (m) => logs.push(`console.${m.type()}: ${m.text()}`));
        page.on("pageerror", (e) => logs.push(`page error: ${e.message}`));
        await page.goto(`${spec.browser_origin}/`, { timeout: 30_000 });
        await page.waitForFunction(() => window.sysfluxResult !== undefined, null, { timeout: 180_000, polling: 200 });
        result = (await page.evaluate(() => window.sysfluxResult))!;
      } finally {
        await context.close();
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await rm(profile, { recursive: true, force: true });
      for (const l of logs) t.diagnostic(l);
    }

    assert.equal(result.fatal, undefined, result.fatal);
    // Query over Connect: exactly the expected records, over at least min_pages pages.
    assert.ok(result.query && "seqs" in result.query, `query failed: ${JSON.stringify(result.query)}`);
    assert.deepEqual([...result.query.seqs].sort((a, b) => a - b), [...spec.query.expected_seqs].sort((a, b) => a - b));
    assert.ok(result.query.pages >= spec.query.min_pages, `${result.query.pages} pages, want at least ${spec.query.min_pages}`);
    // Subscribe over gRPC-Web: exactly the expected records, then a heartbeat.
    assert.ok(result.subscribe && "seqs" in result.subscribe, `subscribe failed: ${JSON.stringify(result.subscribe)}`);
    assert.deepEqual(result.subscribe.seqs, spec.subscribe.expected_seqs);
    assert.ok(result.subscribe.heartbeats >= 1, "no heartbeat after the records");
    // A bad filter is a FilterError with the parser's line and column, over both protocols.
    const b = spec.bad_filter;
    for (const [what, e] of [["query over Connect", result.queryBadFilter], ["subscribe over gRPC-Web", result.subscribeBadFilter]] as [string, PageError | null | undefined][]) {
      assert.ok(e, `${what}: the bad filter was accepted`);
      assert.equal(e.name, "FilterError", `${what}: ${e.name}: ${e.message}`);
      assert.equal(e.line, b.line, what);
      assert.equal(e.column, b.column, what);
      assert.ok(e.reason?.includes(b.message), `${what}: ${e.reason}`);
      assert.ok(e.message.includes(`line ${b.line}, column ${b.column}`), `${what}: ${e.message}`);
      assert.equal(e.code, "INVALID_ARGUMENT", what);
    }
    // No token: the hub's answer gets through CORS as UNAUTHENTICATED.
    assert.equal(result.noToken?.name, "UnauthenticatedError", JSON.stringify(result.noToken));
    // An unreachable hub is named.
    assert.equal(result.unreachable?.name, "HubUnreachableError", JSON.stringify(result.unreachable));
    assert.ok(result.unreachable.message.startsWith(`could not reach the sysflux hub at ${spec.unreachable}`), result.unreachable.message);
  });
});
