/// <reference lib="dom" />
/**
 * `stint ui` in a real headless Chromium (Debian's, driven by
 * puppeteer-core; no browser download): open the runs page, filter by
 * status, open a failed run and see its log (coloured, searchable), follow
 * a running run live until it ends, kill a background run from the
 * background page, and draw a task's chart; no CSP violation or script
 * error on the way. Screenshots go to a temp dir (printed), or to
 * STINT_UI_SCREENSHOTS. Ignored, saying why, where Chromium is missing.
 * Every step has a timeout and the browser is always closed, so a stuck
 * browser cannot hang CI.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getBackgroundRun, withStore } from "../src/store/mod.ts";
import type { Browser } from "puppeteer-core";
import { stint, tempState, waitFor } from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";
import { chromiumPath, startBackgroundRun, startUi } from "./support/ui.ts";

const CHROMIUM = chromiumPath();
const STEP_MS = 20_000;
const TEST_MS = 150_000;

const GATE =
  "i=0; while [ ! -e gate ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done";

Deno.test({
  name: CHROMIUM
    ? "stint ui in Chromium: filter runs, read a failed log, follow a run live, kill a background run"
    : "stint ui in Chromium (ignored: Chromium is not installed here; apt-get install chromium, or set STINT_TEST_CHROMIUM)",
  ignore: CHROMIUM === null,
  // puppeteer keeps sockets and timers of its own
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = tempState("stint-ui-browser-");
    const shots = Deno.env.get("STINT_UI_SCREENSHOTS") ??
      Deno.makeTempDirSync({ prefix: "stint-ui-screenshots-" });
    Deno.mkdirSync(shots, { recursive: true });
    console.log(`stint ui screenshots: ${shots}`);
    const now = Date.now();
    seedRuns(
      s.db,
      Array.from({ length: 24 }, (_, i) => ({
        ref: i % 3 === 0 ? "shop:lint" : "shop:test",
        startedAt: now - (30 - i) * 3_600_000,
        durationMs: 2000 + (i % 5) * 700,
        status: i % 4 === 1 ? "failed" as const : "succeeded" as const,
        log: i % 4 === 1
          ? `running 12 tests\n\x1b[32mok\x1b[0m parser\n\x1b[1;31mFAILED\x1b[0m cart total: expected 3, got <4>\nboom\n`
          : `running 12 tests\n\x1b[32mall passed\x1b[0m\n`,
      })),
    );
    const follow = await startBackgroundRun(
      s,
      `echo "step 1: compiling"; ${GATE}; echo "step 2: linking"; sleep 0.3; printf "\\033[32mstep 3: done\\033[0m\\n"`,
      "shop:deploy",
    );
    const victim = await startBackgroundRun(
      s,
      "echo serving; sleep 120",
      "shop:dev",
    );
    const ui = await startUi(s);
    const profile = Deno.makeTempDirSync({ prefix: "stint-ui-chromium-" });
    let browser: Browser | null = null;
    // Whatever happens below, the browser and the server go away.
    const guard = setTimeout(() => {
      browser?.process()?.kill("SIGKILL");
      try {
        ui.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, TEST_MS);
    const problems: string[] = [];
    try {
      const { default: puppeteer } = await import("puppeteer-core");
      browser = await puppeteer.launch({
        executablePath: CHROMIUM!,
        headless: true,
        userDataDir: profile,
        timeout: STEP_MS,
        protocolTimeout: STEP_MS,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          `--user-data-dir=${profile}`,
        ],
      });
      const page = await browser.newPage();
      page.setDefaultTimeout(STEP_MS);
      page.setDefaultNavigationTimeout(STEP_MS);
      await page.setViewport({ width: 1280, height: 860 });
      page.on("pageerror", (e) => problems.push(`page error: ${e}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("dialog", (d) => d.accept());
      await page.evaluateOnNewDocument(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          console.error(
            `CSP violation: ${e.violatedDirective} ${e.blockedURI}`,
          );
        });
      });
      const shot = (name: string) =>
        page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
      const statuses = () =>
        page.$$eval(
          "#runs-table tbody tr",
          (rows) => rows.map((r) => (r as HTMLElement).dataset.status),
        );

      // 1. The runs page, from the printed address (token -> cookie).
      await page.goto(ui.url, { waitUntil: "load" });
      assert.equal(new URL(page.url()).pathname, "/runs");
      assert.ok(
        !page.url().includes("token="),
        "the token leaves the address bar",
      );
      const all = await statuses();
      assert.equal(all.length, 26);
      assert.ok(
        all.includes("running") && all.includes("failed") &&
          all.includes("succeeded"),
      );
      await shot("01-runs");

      // 2. Filter by status: choosing it submits the form.
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.select('select[name="status"]', "failed"),
      ]);
      assert.equal(new URL(page.url()).searchParams.get("status"), "failed");
      const failed = await statuses();
      assert.equal(failed.length, 6);
      assert.ok(failed.every((x) => x === "failed"));
      await shot("02-runs-failed");

      // 3. Open a failed run: its log, coloured and escaped; search in it.
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.click("#runs-table tbody tr a[href^='/runs/']"),
      ]);
      const log = await page.$eval("#log", (el) => el.textContent);
      assert.match(log ?? "", /FAILED cart total: expected 3, got <4>/);
      assert.equal(
        await page.$eval("#log .f1.b", (el) => el.textContent),
        "FAILED",
      );
      assert.equal(
        await page.$eval(".run", (el) => (el as HTMLElement).dataset.status),
        "failed",
      );
      await page.type("#log-search", "boom");
      await page.waitForSelector("#log mark.current");
      assert.match(
        await page.$eval("#log-search-count", (el) => el.textContent ?? ""),
        /1 of 1/,
      );
      await shot("03-failed-run");

      // 4. Follow a running run live until it ends (no reload).
      await page.goto(`${ui.origin}/runs/${follow.execution.id}`, {
        waitUntil: "load",
      });
      await page.waitForSelector("#live-indicator");
      await page.waitForFunction(() =>
        document.getElementById("log")?.textContent?.includes("step 1")
      );
      await shot("04-live-running");
      await page.evaluate(() =>
        (window as unknown as { marker: number }).marker = 1
      );
      Deno.writeTextFileSync(join(s.dir, "gate"), "");
      await page.waitForFunction(() =>
        document.getElementById("log")?.textContent?.includes("step 3: done")
      );
      await page.waitForFunction(() =>
        (document.querySelector(".run") as HTMLElement)?.dataset.status ===
          "succeeded"
      );
      assert.equal(
        await page.evaluate(() =>
          (window as unknown as { marker?: number }).marker
        ),
        1,
        "followed without a reload",
      );
      assert.match(
        await page.$eval("#live-indicator", (el) => el.textContent ?? ""),
        /ended: succeeded/,
      );
      assert.equal(await page.$("#kill-button"), null);
      await shot("05-live-ended");

      // 5. Kill a background run from the background page.
      await page.goto(`${ui.origin}/background`, { waitUntil: "load" });
      await page.waitForSelector(`#bg-${victim.bg} button[data-kill]`);
      await shot("06-background");
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.click(`#bg-${victim.bg} button[data-kill]`),
      ]);
      assert.equal(
        new URL(page.url()).pathname,
        `/runs/${victim.execution.id}`,
        await page.$eval("body", (el) => el.textContent ?? ""),
      );
      const ended = await waitFor(() => {
        const r = withStore(s.db, (db) => getBackgroundRun(db, victim.bg));
        return r.status !== "running" ? r : null;
      }, { timeoutMs: STEP_MS, what: "the killed run to end" });
      assert.equal(ended!.status, "killed");
      await page.reload({ waitUntil: "load" });
      assert.equal(
        await page.$eval(".run", (el) => (el as HTMLElement).dataset.status),
        "killed",
      );
      await shot("07-killed");

      // 6. Tasks, a task's chart (uPlot from the package), hosts.
      await page.goto(`${ui.origin}/tasks`, { waitUntil: "load" });
      assert.ok((await page.$$("#tasks-table tbody tr")).length >= 4);
      await shot("08-tasks");
      await page.goto(`${ui.origin}/tasks/shop%3Atest`, { waitUntil: "load" });
      await page.waitForSelector('#chart[data-ready="1"] canvas');
      await shot("09-task-chart");
      await page.goto(`${ui.origin}/hosts`, { waitUntil: "load" });
      await page.waitForSelector("#hosts-table");
      await shot("10-hosts");
      assert.deepEqual(problems, []);
    } finally {
      clearTimeout(guard);
      const b = browser as Browser | null;
      if (b) {
        await Promise.race([
          b.close(),
          new Promise((r) => setTimeout(r, 10_000)),
        ]).catch(() => {});
        b.process()?.kill("SIGKILL");
      }
      await ui.stop();
      // Nothing of the test's runs is left behind, passed or failed.
      Deno.writeTextFileSync(join(s.dir, "gate"), "");
      await stint(["bg", "kill", victim.bg, "--grace", "1s"], { env: s.env });
      Deno.removeSync(profile, { recursive: true });
      Deno.removeSync(s.dir, { recursive: true });
    }
  },
});
