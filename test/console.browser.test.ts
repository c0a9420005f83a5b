import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLimiter, type Limiter } from "../src/limits/index.ts";
import { adminRoutes } from "../src/server/admin/index.ts";
import { Store } from "../src/store/index.ts";
import { sqliteDatabase, type TestDatabase } from "./helpers/databases.ts";
import { startTestServer, TEST_KEY, type TestServer } from "./helpers/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const ADMIN_KEY = "sk-admin-browser-0001";
const ARTIFACTS = join(import.meta.dirname, "..", "test-artifacts");
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`console browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
}

describe.skipIf(!hasChromium)("web console in Chromium", () => {
  let tdb: TestDatabase;
  let store: Store;
  let limiter: Limiter;
  let server: TestServer;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const cspErrors: string[] = [];
  let secret = "";
  let keyId = "";

  beforeAll(async () => {
    tdb = await sqliteDatabase();
    store = await Store.open(tdb.url, {
      configKeys: [{ key: TEST_KEY, name: "test" }],
      usage: { flushIntervalMs: 50 },
    });
    limiter = await createLimiter("memory", {});
    server = await startTestServer(
      {
        admin_keys: [ADMIN_KEY],
        models: [{ id: "mock", provider: "mock", parallel: 2, context_window: 32768 }],
      },
      {
        keyStore: store.keyStore,
        limiter,
        recorder: store.recorder,
        plugins: [adminRoutes({ store, adminKeys: [ADMIN_KEY], keyStore: store.keyStore })],
      },
    );
    await mkdir(ARTIFACTS, { recursive: true });
    profile = await mkdtemp(join(tmpdir(), "parley-chromium-"));
    // Chinese first: the console must pick its language from navigator.language.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      locale: "zh-CN",
      viewport: { width: 1100, height: 760 },
      permissions: ["clipboard-read", "clipboard-write"],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    await store?.close();
    await tdb?.drop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  const sdk = (key: string) => new Anthropic({ apiKey: key, baseURL: server.url, maxRetries: 0 });
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`) });
  /** Evaluated in the page (a string: the test is type-checked without the DOM library). */
  const inPage = <T>(expression: string) => page.evaluate(expression) as Promise<T>;
  const clipboard = () => inPage<string>("navigator.clipboard.readText()");
  const view = async (name: string) => {
    await page.click(`nav a[href="#/${name}"]`);
    await page.waitForFunction(`location.hash === "#/${name}"`);
  };

  it("defaults to Chinese from navigator.language, switches to English, and logs in with an admin key", async () => {
    await page.goto(`${server.url}/console`);
    await page.getByRole("heading", { name: "用管理密钥登录" }).waitFor();
    expect(await inPage<string>("document.documentElement.lang")).toBe("zh-CN");
    await page.getByLabel("语言").selectOption("en");
    await page.getByRole("heading", { name: "Log in with an admin key" }).waitFor();

    await page.getByLabel("Admin key").fill("sk-wrong");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toMatch(/401 authentication_error/);
    await page.getByLabel("Admin key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Log in" }).click();
    const row = page.locator('tr[data-model="mock"]');
    await row.waitFor();
    expect(await row.locator(".slots").textContent()).toBe("0 / 2");
    expect(await row.textContent()).toMatch(/mock.*available.*32,768/);
    // Kept for this tab only, never in the URL.
    expect(await inPage<string | null>('sessionStorage.getItem("parley.adminKey")')).toBe(ADMIN_KEY);
    expect(page.url()).not.toContain(ADMIN_KEY);
    await shot("models");
  }, 30_000);

  it("creates a key (secret shown once, copyable) that the SDK then uses", async () => {
    await view("keys");
    const form = page.getByRole("form", { name: "Create key" });
    await form.getByLabel("Name").fill("browser key");
    await form.getByLabel("Requests / min").fill("100");
    await form.getByRole("button", { name: "Create key" }).click();
    const secretBox = page.getByRole("region", { name: /shown only this once/ });
    await secretBox.waitFor();
    secret = await secretBox.locator("input").inputValue();
    expect(secret).toMatch(/^sk-parley-/);
    await secretBox.getByRole("button", { name: "Copy" }).click();
    await secretBox.getByText("Copied").waitFor();
    expect(await clipboard()).toBe(secret);
    await shot("key-created");
    await secretBox.getByRole("button", { name: "Done" }).click();
    expect(await page.content()).not.toContain(secret);
    const keyRow = page.locator("tr", { hasText: "browser key" });
    expect(await keyRow.textContent()).toMatch(/active.*\*.*rpm 100/);
    keyId = (await keyRow.getAttribute("data-key")) ?? "";
    expect(keyId).toMatch(/^apikey_/);

    const reply = await sdk(secret).messages.create({
      model: "mock",
      max_tokens: 20,
      messages: [{ role: "user", content: "hello from the sdk" }],
    });
    expect(reply.content).toMatchObject([{ type: "text", text: "hello from the sdk" }]);

    await view("requests");
    const logged = page.locator(`tr[data-request="${reply._request_id}"]`);
    await logged.waitFor({ timeout: 10_000 });
    expect(await logged.textContent()).toMatch(
      new RegExp(`browser key.*mock.*200.*${reply.usage.input_tokens} → ${reply.usage.output_tokens}`),
    );
    await page.getByLabel("Status").selectOption("error");
    await page.getByText("No requests yet.").waitFor();
    await page.getByLabel("Status").selectOption("");
    await logged.waitFor();
    await shot("requests");

    await view("usage");
    await page.getByLabel("Group by").selectOption("api_key_id");
    const total = page.locator("table.usage-totals tr", { hasText: "browser key" });
    await total.waitFor();
    const tokens = reply.usage.input_tokens + reply.usage.output_tokens;
    expect((await total.locator("td").allTextContents()).map((s) => s.trim())).toEqual([String(tokens), "1"]);
    // The charts draw after their own request, which may end after the totals table's.
    await page.locator(".chart canvas").nth(1).waitFor();
    expect(await page.locator(".chart canvas").count()).toBe(2);
    expect(await page.locator(".chart .u-legend").first().textContent()).toContain("browser key");
    await shot("usage");
  }, 40_000);

  it("streams a reply in the playground as it arrives, then runs a tool-use turn", async () => {
    await view("playground");
    await page.getByLabel("API key for the playground").fill(secret);
    await page.getByRole("button", { name: "Use key" }).click();
    const form = page.getByRole("form", { name: "Playground" });
    await form.getByLabel("Model").waitFor();
    expect(await form.getByLabel("Model").inputValue()).toBe("mock");
    await form.getByLabel("Content 1").fill("one two three four five six [[delay:120]]");
    // Every state the reply's text passes through, seen from inside the page.
    await page.evaluate(`(() => {
      window.states = [];
      const reply = document.querySelector(".reply");
      new MutationObserver(() => {
        const text = reply.querySelector(".blocks")?.textContent ?? "";
        if (text && window.states.at(-1) !== text) window.states.push(text);
      }).observe(reply, { subtree: true, childList: true, characterData: true });
    })()`);
    await form.getByRole("button", { name: "Send" }).click();
    await page.locator(".stop-reason", { hasText: "end_turn" }).waitFor({ timeout: 15_000 });
    const final = "one two three four five six";
    expect(await page.locator(".blocks .text").textContent()).toBe(final);
    const states = await inPage<string[]>("window.states");
    const partial = states.filter((s) => s !== final && final.startsWith(s));
    expect(partial.length).toBeGreaterThanOrEqual(2);
    expect(states.at(-1)).toBe(final);
    expect(await page.locator(".request-id").textContent()).toMatch(/^req_/);
    expect(JSON.parse((await page.locator(".usage").textContent()) ?? "{}")).toMatchObject({
      output_tokens: 6,
    });
    expect(await page.locator(".blocks").getAttribute("aria-live")).toBe("polite");

    await form.getByRole("button", { name: "Copy as curl" }).click();
    const curl = await clipboard();
    expect(curl).toContain(`curl -N ${server.url}/v1/messages`);
    expect(curl).toContain('"x-api-key: $ANTHROPIC_API_KEY"');
    expect(curl).not.toContain(secret);
    await form.getByRole("button", { name: "Copy as SDK (TypeScript)" }).click();
    expect(await clipboard()).toMatch(/new Anthropic\(\{ baseURL: .*client\.messages\.stream\(/s);

    await form.getByLabel("Tools (JSON array)").fill(
      JSON.stringify([
        {
          name: "get_weather",
          description: "Weather for a city",
          input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      ]),
    );
    await form.getByLabel("Content 1").fill('What is the weather? [[tool:get_weather {"city":"Oslo"}]]');
    await form.getByLabel("Thinking (budget tokens, empty = off)").fill("1024");
    await form.getByRole("button", { name: "Send" }).click();
    await page.locator(".stop-reason", { hasText: "tool_use" }).waitFor({ timeout: 15_000 });
    const tool = page.locator(".blocks .tool-use");
    expect(await tool.locator("strong").textContent()).toBe("tool use: get_weather");
    expect(JSON.parse((await tool.locator("pre").textContent()) ?? "")).toEqual({ city: "Oslo" });
    expect((await page.locator(".blocks .text").textContent())?.trim()).toBe("What is the weather?");
    const thought = page.locator(".blocks .thinking");
    expect(await thought.locator("summary").textContent()).toBe("thinking");
    expect((await thought.locator("p").textContent())?.length).toBeGreaterThan(0);
    expect(
      await page.locator(".blocks > *").evaluateAll((els) => els.map((e) => e.getAttribute("class"))),
    ).toEqual(["block thinking", "block text", "block tool-use"]);
    await shot("playground");
    await page.screenshot({ path: join(ARTIFACTS, "console-readme.png"), fullPage: true });
    expect(cspErrors).toEqual([]);
  }, 40_000);

  it("deactivates the key in the UI, and the SDK gets 401 authentication_error", async () => {
    await view("keys");
    await page.getByRole("button", { name: "Deactivate browser key" }).click();
    await page.locator(`tr[data-key="${keyId}"] td`, { hasText: "inactive" }).waitFor();
    const err = await sdk(secret)
      .messages.create({ model: "mock", max_tokens: 5, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).status).toBe(401);
    expect((err as { error: { error: { type: string } } }).error.error.type).toBe("authentication_error");
  }, 30_000);

  it("fits a 360 px window without sideways scrolling, and switches the UI to Chinese", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    for (const name of ["models", "keys", "usage", "requests", "playground"]) {
      await view(name);
      await page.waitForTimeout(100);
      const overflow = await inPage<number>("document.documentElement.scrollWidth");
      expect([name, overflow]).toEqual([name, 360]);
    }
    await shot("narrow");
    await page.getByLabel("Language").selectOption("zh-CN");
    await page.locator('nav a[href="#/models"]', { hasText: "模型" }).waitFor();
    expect(await inPage<string>("document.documentElement.lang")).toBe("zh-CN");
    await view("keys");
    await page.getByRole("heading", { name: "API 密钥" }).waitFor();
    // Keyboard: the skip link is the first stop, and focus is visible.
    await page.reload();
    await page.getByRole("heading", { name: "API 密钥" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await inPage<string>("document.activeElement?.textContent")).toBe("跳到内容");
    await page.keyboard.press("Enter");
    expect(await inPage<string[]>("[document.activeElement?.id, location.hash]")).toEqual(["main", "#/keys"]);
    await page.keyboard.press("Tab");
    expect(await inPage<string>("getComputedStyle(document.activeElement).outlineStyle")).toBe("solid");
    await shot("narrow-zh");
    await page.setViewportSize({ width: 1100, height: 760 });
  }, 30_000);

  afterAll(async () => {
    // The README's screenshot, when asked for (PARLEY_UPDATE_SCREENSHOT=1): kept out of ordinary runs.
    if (process.env.PARLEY_UPDATE_SCREENSHOT) {
      await copyFile(
        join(ARTIFACTS, "console-readme.png"),
        join(import.meta.dirname, "..", "docs", "console.png"),
      );
    }
  });
});
