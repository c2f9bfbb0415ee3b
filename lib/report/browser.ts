// A minimal Chrome DevTools Protocol client over Deno's WebSocket: open a page in headless Debian chromium,
// evaluate JavaScript, collect console errors, take a screenshot.

/** Path of the chromium binary, or null when absent. */
export function findChromium(): string | null {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

/** A headless browser page controlled over CDP. */
export interface Page {
  evaluate<T>(expression: string): Promise<T>;
  /** PNG of the viewport, or of the whole page with `fullPage`. */
  screenshot(opts?: { fullPage?: boolean }): Promise<Uint8Array>;
  consoleErrors: string[];
  close(): Promise<void>;
}

/** Launches chromium headless (flags for a closed network, fresh profile) and opens `url`. */
export async function openPage(url: string, opts: { width?: number; height?: number } = {}): Promise<Page> {
  const bin = findChromium();
  if (!bin) throw new Error("chromium not found");
  const profile = await Deno.makeTempDir({ prefix: "chromium_" });
  const proc = new Deno.Command(bin, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      `--window-size=${opts.width ?? 1200},${opts.height ?? 900}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let port = "";
  for (let i = 0; i < 200 && !port; i++) {
    try {
      port = (await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n")[0];
    } catch { /* not written yet */ }
    // also when the file exists but is still empty (chromium creates it before writing the port)
    if (!port) await new Promise((r) => setTimeout(r, 50));
  }
  if (!port) { // stop the browser that did not come up, so that no process outlives the test
    try {
      proc.kill("SIGKILL");
    } catch { /* it had exited */ }
    await proc.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw new Error(`chromium did not start within 10 s (no DevToolsActivePort in ${profile})`);
  }
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    type: string;
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(targets.find((t) => t.type === "page")!.webSocketDebuggerUrl);
  await new Promise((res, rej) => (ws.onopen = res, ws.onerror = rej));
  let id = 0;
  const pending = new Map<
    number,
    (v: { result?: Record<string, unknown>; error?: { message: string } }) => void
  >();
  const consoleErrors: string[] = [];
  let loaded: (() => void) | null = null;
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)!(msg);
      pending.delete(msg.id);
    } else if (msg.method === "Runtime.consoleAPICalled" && msg.params.type === "error") {
      consoleErrors.push(msg.params.args.map((a: { value?: string }) => a.value).join(" "));
    } else if (msg.method === "Runtime.exceptionThrown") {
      consoleErrors.push(msg.params.exceptionDetails.text);
    } else if (msg.method === "Log.entryAdded" && msg.params.entry.level === "error") {
      consoleErrors.push(msg.params.entry.text);
    } else if (msg.method === "Page.loadEventFired") loaded?.();
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((res, rej) => {
      const i = ++id;
      pending.set(i, (m) => (m.error ? rej(new Error(m.error.message)) : res(m.result ?? {})));
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  // the viewport exactly as asked (a headless window may not go below ~500 px wide)
  await send("Emulation.setDeviceMetricsOverride", {
    width: opts.width ?? 1200,
    height: opts.height ?? 900,
    deviceScaleFactor: 1,
    mobile: false,
  });
  await send("Page.enable");
  await send("Runtime.enable");
  await send("Log.enable");
  const load = new Promise<void>((r) => (loaded = r));
  await send("Page.navigate", { url });
  await load;
  return {
    consoleErrors,
    async evaluate<T>(expression: string) {
      const r = await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
      return (r.result as { value: T }).value;
    },
    async screenshot(o: { fullPage?: boolean } = {}) {
      const r = await send("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: o.fullPage ?? false,
      });
      return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
    },
    async close() {
      ws.close();
      proc.kill();
      await proc.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
